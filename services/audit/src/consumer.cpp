#include "consumer.hpp"

#include "suite/observability/metrics.hpp"

#include "record.hpp"

#include <unistd.h>

#include <thread>

#include "suite/observability/log.hpp"

namespace audit {

namespace obs = suite::obs;
using suite::redis::Reply;
constexpr const char* kGroup = "audit-writers";
constexpr const char* kBatch = "200";

Consumer::Consumer(suite::redis::Client& redis, suite::db::Pool& pool, suite::service::WorkerPool& workers,
                   ConsumerOptions options)
    : redis_(redis), pool_(pool), workers_(workers), options_(std::move(options)) {
  file_ = std::fopen(options_.ndjson_path.c_str(), "a");
  if (file_ == nullptr) throw std::runtime_error("cannot open " + options_.ndjson_path + " for appending");
}

Consumer::~Consumer() {
  if (file_ != nullptr) std::fclose(file_);
}

void Consumer::Start() { EnsureGroup(); }

void Consumer::ExportMetrics(suite::obs::Metrics& metrics) {
  metrics.Expose("audit_events_written_total", "Audit events stored in PostgreSQL (and the NDJSON file)",
                 suite::obs::Metrics::Kind::kCounter, {}, [this] { return static_cast<double>(written_.load()); });
}

void Consumer::EnsureGroup() {
  if (stopping_) return;
  redis_.Command({"XGROUP", "CREATE", options_.stream, kGroup, "0", "MKSTREAM"}, [this](Reply r) {
    if (!r.ok() && r.str.rfind("BUSYGROUP", 0) != 0) {
      Retry();
      return;
    }
    phase_ = Phase::kOwnPending;
    Next();
  });
}

void Consumer::Retry() {
  if (stopping_) return;
  // Back off on a worker: the I/O thread never sleeps.
  workers_.Submit(
      [this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        EnsureGroup();
      },
      [this] { EnsureGroup(); });
}

void Consumer::Next() {
  if (stopping_) return;
  // Every reply handler below starts by checking `stopping_` and the reply: a failed read
  // goes back to the start (EnsureGroup), which re-reads anything unacknowledged.
  auto on_error = [this](const Reply& r) {
    if (stopping_) return true;
    if (r.ok()) return false;
    obs::Warn("audit stream read failed", {{"error", r.str}});
    Retry();
    return true;
  };
  switch (phase_) {
    case Phase::kOwnPending:
      redis_.Command({"XREADGROUP", "GROUP", kGroup, options_.name, "COUNT", kBatch, "STREAMS",
                      options_.stream, "0"},
                     [this, on_error](Reply r) {
                       if (on_error(r)) return;
                       const bool empty = r.type != Reply::Type::kArray || r.elements.empty() ||
                                          r.elements[0].elements.size() < 2 ||
                                          r.elements[0].elements[1].elements.empty();
                       if (empty) {
                         phase_ = Phase::kClaim;
                         claim_cursor_ = "0-0";
                         Next();
                         return;
                       }
                       Process(r.elements[0].elements[1].elements, [this] { Next(); });
                     });
      return;
    case Phase::kClaim:
      redis_.Command({"XAUTOCLAIM", options_.stream, kGroup, options_.name,
                      std::to_string(options_.claim_idle.count()), claim_cursor_, "COUNT", kBatch},
                     [this, on_error](Reply r) {
                       if (on_error(r)) return;
                       if (r.type != Reply::Type::kArray || r.elements.size() < 2) {
                         phase_ = Phase::kLive;
                         Next();
                         return;
                       }
                       claim_cursor_ = r.elements[0].str;
                       if (claim_cursor_ == "0-0") {
                         phase_ = Phase::kLive;
                         last_claim_ = std::chrono::steady_clock::now();
                       }
                       if (!r.elements[1].elements.empty())
                         obs::Info("claimed entries of a stopped consumer", {{"count", r.elements[1].elements.size()}});
                       Process(r.elements[1].elements, [this] { Next(); });
                     });
      return;
    case Phase::kLive:
      redis_.Command({"XREADGROUP", "GROUP", kGroup, options_.name, "COUNT", kBatch, "BLOCK", "1000",
                      "STREAMS", options_.stream, ">"},
                     [this, on_error](Reply r) {
                       if (on_error(r)) return;
                       if (std::chrono::steady_clock::now() - last_claim_ > options_.claim_every) {
                         phase_ = Phase::kClaim;
                         claim_cursor_ = "0-0";
                       }
                       if (r.type != Reply::Type::kArray || r.elements.empty() || r.elements[0].elements.size() < 2) {
                         Next();
                         return;
                       }
                       Process(r.elements[0].elements[1].elements, [this] { Next(); });
                     },
                     std::chrono::milliseconds(3000));
      return;
  }
}

void Consumer::Process(const std::vector<Reply>& entries, std::function<void()> then) {
  std::vector<StreamEvent> events;
  std::vector<std::string> ids;
  for (const auto& entry : entries) {
    if (entry.elements.empty()) continue;
    const std::string& id = entry.elements[0].str;
    ids.push_back(id);  // deleted entries (nil fields) are acknowledged too
    if (entry.elements.size() < 2 || entry.elements[1].type != Reply::Type::kArray) continue;
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str != "event") continue;
      std::string why;
      if (auto event = ParseStreamEvent(fields[i + 1].str, why))
        events.push_back({id, std::move(*event)});
      else
        obs::Error("malformed audit event skipped", {{"stream_id", id}, {"reason", why}});
    }
  }
  if (ids.empty()) {
    then();
    return;
  }
  busy_ = true;
  workers_.Submit(
      [this, events = std::move(events), ids = std::move(ids), then = std::move(then)]() mutable {
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
        std::vector<std::string> ack = {"XACK", options_.stream, kGroup};
        ack.insert(ack.end(), ids.begin(), ids.end());
        redis_.Command(std::move(ack), [this, then = std::move(then)](Reply r) {
          busy_ = false;
          if (stopping_) return;
          if (!r.ok()) {
            obs::Warn("XACK failed; entries will be re-read", {{"error", r.str}});
            Retry();
            return;
          }
          then();
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
    throw std::runtime_error("cannot append to " + options_.ndjson_path);
  ::fdatasync(fileno(file_));
}

}  // namespace audit
