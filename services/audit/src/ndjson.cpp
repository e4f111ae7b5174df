#include "ndjson.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "store.hpp"
#include "suite/observability/log.hpp"

namespace audit {

namespace {

constexpr int kBatch = 1000;

std::runtime_error Errno(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

NdjsonWriter::NdjsonWriter(suite::db::Pool& pool, std::string path, std::string writer, Rotation rotation)
    : pool_(pool), path_(std::move(path)), writer_(std::move(writer)), rotation_(rotation) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) throw Errno("cannot open " + path_ + " for appending");
}

NdjsonWriter::~NdjsonWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void NdjsonWriter::MaybeRotate() {
  if (rotation_.max_bytes <= 0 && !rotation_.daily) return;
  const std::time_t now = std::time(nullptr);
  // Each step is read inside the transaction: the pool may run it again after a broken connection.
  auto due = [&](const struct stat& st) {
    return st.st_size > 0 && ((rotation_.max_bytes > 0 && st.st_size >= rotation_.max_bytes) ||
                              (rotation_.daily && st.st_mtime / 86400 < now / 86400));
  };
  {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw Errno("fstat " + path_);
    if (!due(st)) return;
  }
  // Only whole, committed lines move: the file is cut back to its recorded length first.
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw Errno("fstat " + path_);
    if (!due(st)) return 0;
    const bool full = rotation_.max_bytes > 0 && st.st_size >= rotation_.max_bytes;
    auto rec = tx.exec_params("SELECT size FROM audit.ndjson_files WHERE writer = $1 AND path = $2 FOR UPDATE",
                              writer_, path_);
    if (rec.empty()) return 0;  // not recorded yet: the next append takes it as it is
    const long long size = rec[0][0].as<long long>();
    if (size == 0) return 0;
    if (st.st_size > size && ::ftruncate(fd_, size) != 0) throw Errno("cannot cut " + path_ + " back");
    if (::fdatasync(fd_) != 0) throw Errno("cannot sync " + path_);
    // The moment, to the microsecond: the names sort in the order the files were written.
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    ::gmtime_r(&ts.tv_sec, &tm);
    char stamp[48];
    const auto n = std::strftime(stamp, sizeof stamp, "-%Y%m%d-%H%M%S", &tm);
    std::snprintf(stamp + n, sizeof stamp - n, "-%06ld", ts.tv_nsec / 1000);
    const std::filesystem::path p(path_);
    const std::string base = (p.parent_path() / p.stem()).string() + stamp, ext = p.extension().string();
    std::string target = base + ext;
    for (int k = 1; std::filesystem::exists(target); ++k) target = base + "-" + std::to_string(k) + ext;
    if (::rename(path_.c_str(), target.c_str()) != 0) throw Errno("cannot rotate " + path_);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      const auto error = Errno("cannot open a new " + path_);
      (void)::rename(target.c_str(), path_.c_str());  // the old file goes on
      throw error;
    }
    ::close(fd_);
    fd_ = fd;
    // The directory entry of both names is durable before the database forgets the old length.
    const auto dir = p.has_parent_path() ? p.parent_path().string() : std::string(".");
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
    tx.exec_params("UPDATE audit.ndjson_files SET size = 0 WHERE writer = $1", writer_);
    tx.commit();
    ++rotations_;
    suite::obs::Info("NDJSON file rotated", {{"path", path_}, {"rotated_to", target}, {"bytes", size},
                                             {"reason", full ? "size" : "day"}});
    return 0;
  });
}

std::size_t NdjsonWriter::Flush() {
  std::size_t total = 0;
  try {
    MaybeRotate();
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
        "SELECT o.request_id, " + kRequestColumns +
            " FROM (SELECT request_id, received_at FROM audit.ndjson_outbox WHERE writer = $1 "
            "ORDER BY request_id LIMIT $2) o "
            "JOIN audit.requests r ON r.id = o.request_id AND r.received_at = o.received_at ORDER BY o.request_id",
        writer_, kBatch);
    more = rows.size() == static_cast<std::size_t>(kBatch);
    if (rows.empty()) {
      tx.commit();
      return 0;
    }
    std::string text, ids = "{";
    for (const auto& r : rows) {
      text += RequestLine(r, 1).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
