#include "consumer.hpp"

#include <unistd.h>

#include <thread>

#include "suite/audit/publisher.hpp"
#include "suite/observability/log.hpp"

namespace audit {

namespace obs = suite::obs;
using suite::redis::Reply;
constexpr const char* kGroup = "audit-writers";

Consumer::Consumer(suite::redis::Client& redis, suite::db::Pool& pool, suite::http::WorkerPool& workers,
                   std::string ndjson_path, std::string consumer_name)
    : redis_(redis), pool_(pool), workers_(workers), path_(std::move(ndjson_path)), name_(std::move(consumer_name)) {
  file_ = std::fopen(path_.c_str(), "a");
  if (file_ == nullptr) throw std::runtime_error("cannot open " + path_ + " for appending");
}

Consumer::~Consumer() {
  if (file_ != nullptr) std::fclose(file_);
}

void Consumer::Start() { EnsureGroup(); }

void Consumer::EnsureGroup() {
  if (stopping_) return;
  redis_.Command({"XGROUP", "CREATE", suite::audit::kStream, kGroup, "0", "MKSTREAM"}, [this](Reply r) {
    if (!r.ok() && r.str.rfind("BUSYGROUP", 0) != 0) {
      Retry();
      return;
    }
    Read();
  });
}

void Consumer::Retry() {
  // Back off on a worker: the I/O thread never sleeps.
  workers_.Submit(
      [this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        pending_phase_ = true;
        EnsureGroup();
      },
      [this] { pending_phase_ = true; EnsureGroup(); });
}

void Consumer::Read() {
  if (stopping_) return;
  redis_.Command({"XREADGROUP", "GROUP", kGroup, name_, "COUNT", "200", "BLOCK", "1000", "STREAMS",
                  suite::audit::kStream, pending_phase_ ? "0" : ">"},
                 [this](Reply r) { Handle(std::move(r)); }, std::chrono::milliseconds(3000));
}

void Consumer::Handle(Reply reply) {
  if (stopping_) return;  // unacknowledged entries are re-read at the next start
  if (!reply.ok()) {
    obs::Warn("audit stream read failed", {{"error", reply.str}});
    Retry();
    return;
  }
  std::vector<StreamEvent> events;
  std::vector<std::string> ids;
  if (reply.type == Reply::Type::kArray && !reply.elements.empty()) {
    const auto& entries = reply.elements[0].elements.size() == 2 ? reply.elements[0].elements[1].elements
                                                                  : std::vector<Reply>{};
    for (const auto& entry : entries) {
      if (entry.elements.empty()) continue;
      ids.push_back(entry.elements[0].str);
      if (entry.elements.size() < 2 || entry.elements[1].type != Reply::Type::kArray) continue;
      const auto& fields = entry.elements[1].elements;
      for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str != "event") continue;
        auto json = nlohmann::json::parse(fields[i + 1].str, nullptr, false);
        if (json.is_object() && json.contains("event_id"))
          events.push_back({entries.empty() ? "" : entry.elements[0].str, std::move(json)});
        else
          obs::Error("malformed audit event skipped", {{"stream_id", entry.elements[0].str}});
      }
    }
  }
  if (ids.empty()) {
    pending_phase_ = false;  // our backlog is done; wait for new entries
    Read();
    return;
  }
  busy_ = true;
  workers_.Submit(
      [this, events = std::move(events), ids]() mutable {
        try {
          auto fresh = WriteEvents(pool_, events);
          AppendNdjson(fresh);
          written_ += fresh.size();
        } catch (const std::exception& e) {
          obs::Error("audit write failed; will retry", {{"error", e.what()}, {"count", events.size()}});
          busy_ = false;
          Retry();
          return;
        }
        std::vector<std::string> ack = {"XACK", suite::audit::kStream, kGroup};
        ack.insert(ack.end(), ids.begin(), ids.end());
        redis_.Command(std::move(ack), [this](Reply r) {
          busy_ = false;
          if (!r.ok()) obs::Warn("XACK failed; entries will be re-read", {{"error", r.str}});
          Read();
        });
      },
      [this] {
        busy_ = false;
        Retry();
      });
}

void Consumer::AppendNdjson(const std::vector<nlohmann::json>& events) {
  if (events.empty()) return;
  std::string text;
  for (const auto& e : events) {
    // Seed 000's log line: its fields in its order.
    nlohmann::ordered_json line;
    for (const char* k : {"timestamp", "request_id", "dataset_id", "action", "status", "duration_ms",
                          "output", "http_status", "client", "event_id"})
      line[k] = e.contains(k) ? e[k] : nlohmann::json(nullptr);
    text += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.push_back('\n');
  }
  std::lock_guard lock(file_mu_);
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0)
    throw std::runtime_error("cannot append to " + path_);
  ::fdatasync(fileno(file_));
}

}  // namespace audit
