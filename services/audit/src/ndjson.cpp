#include "ndjson.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "suite/observability/log.hpp"

namespace audit {

namespace {

constexpr int kBatch = 1000;

std::runtime_error Errno(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

NdjsonWriter::NdjsonWriter(suite::db::Pool& pool, std::string path, std::string writer)
    : pool_(pool), path_(std::move(path)), writer_(std::move(writer)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) throw Errno("cannot open " + path_ + " for appending");
}

NdjsonWriter::~NdjsonWriter() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t NdjsonWriter::Flush() {
  std::size_t total = 0;
  try {
    for (bool more = true; more;) total += FlushBatch(more);
    behind_ = 0;
  } catch (...) {
    behind_ = 1;
    throw;
  }
  return total;
}

std::size_t NdjsonWriter::FlushBatch(bool& more) {
  // One transaction whose only effect outside it is the file, and the file is cut back to the
  // committed length first: the pool may run it again after a broken connection.
  return pool_.With([&](pqxx::connection& c) -> std::size_t {
    pqxx::work tx(c);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw Errno("fstat " + path_);
    const long long on_disk = st.st_size;
    long long size = on_disk;
    auto rec = tx.exec_params("SELECT path, size FROM audit.ndjson_files WHERE writer = $1 FOR UPDATE", writer_);
    if (rec.empty() || path_ != rec[0][0].c_str()) {
      // A file this writer has not written before (a first start, a new path): taken as it is.
      tx.exec_params("INSERT INTO audit.ndjson_files (writer, path, size) VALUES ($1, $2, $3) "
                     "ON CONFLICT (writer) DO UPDATE SET path = excluded.path, size = excluded.size",
                     writer_, path_, size);
    } else {
      size = rec[0][1].as<long long>();
      if (on_disk < size) {
        suite::obs::Warn("NDJSON file shorter than recorded (cut or replaced from outside): continuing at its end",
                         {{"path", path_}, {"recorded", size}, {"length", on_disk}});
        size = on_disk;
      } else if (on_disk > size) {
        // Lines of an append that never committed (it failed, or the process died after it).
        if (::ftruncate(fd_, size) != 0) throw Errno("cannot cut " + path_ + " back");
        suite::obs::Info("NDJSON: an unfinished append removed, its lines follow again",
                         {{"path", path_}, {"bytes", on_disk - size}});
      }
    }
    auto rows = tx.exec_params(
        "SELECT o.request_id, "
        "to_char(r.timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), r.request_id, "
        "r.dataset_id, r.action, r.status, r.duration_ms, r.output::text, r.http_status, r.client, r.event_id::text "
        "FROM audit.ndjson_outbox o JOIN audit.requests r ON r.id = o.request_id "
        "WHERE o.writer = $1 ORDER BY o.request_id LIMIT $2",
        writer_, kBatch);
    more = rows.size() == static_cast<std::size_t>(kBatch);
    if (rows.empty()) {
      tx.commit();
      return 0;
    }
    std::string text, ids = "{";
    auto text_or_null = [](const pqxx::field& f) { return f.is_null() ? nlohmann::json(nullptr) : nlohmann::json(f.c_str()); };
    for (const auto& r : rows) {
      // Seed 000's log line: its fields in its order.
      nlohmann::ordered_json line;
      line["timestamp"] = r[1].c_str();
      line["request_id"] = r[2].c_str();
      line["dataset_id"] = text_or_null(r[3]);
      line["action"] = text_or_null(r[4]);
      line["status"] = r[5].c_str();
      line["duration_ms"] = r[6].as<long long>();
      line["output"] = r[7].is_null() ? nlohmann::json(nullptr) : nlohmann::json::parse(r[7].c_str());
      line["http_status"] = r[8].as<int>();
      line["client"] = text_or_null(r[9]);
      line["event_id"] = r[10].c_str();
      text += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      text.push_back('\n');
      if (ids.size() > 1) ids.push_back(',');
      ids += r[0].c_str();
    }
    ids.push_back('}');
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n = ::pwrite(fd_, text.data() + done, text.size() - done, static_cast<off_t>(size + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        const auto error = Errno("cannot append to " + path_);
        (void)::ftruncate(fd_, size);  // no torn line left behind (the next append cuts it anyway)
        throw error;
      }
      done += static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd_) != 0) {
      const auto error = Errno("cannot sync " + path_);
      (void)::ftruncate(fd_, size);
      throw error;
    }
    tx.exec_params("UPDATE audit.ndjson_files SET size = $2 WHERE writer = $1", writer_,
                   size + static_cast<long long>(text.size()));
    tx.exec_params("DELETE FROM audit.ndjson_outbox WHERE writer = $1 AND request_id = ANY($2::bigint[])", writer_, ids);
    tx.commit();
    return rows.size();
  });
}

}  // namespace audit
