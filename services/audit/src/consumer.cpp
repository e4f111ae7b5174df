#include "consumer.hpp"

#include "suite/observability/metrics.hpp"

#include <unistd.h>

#include <thread>

#include "suite/observability/log.hpp"

namespace audit {

namespace obs = suite::obs;
using suite::redis::Reply;
constexpr const char* kGroup = "audit-writers";
constexpr const char* kBatch = "1000";

Consumer::Consumer(suite::redis::Client& redis, suite::db::Pool& pool, suite::service::WorkerPool& workers,
                   ConsumerOptions options)
    : redis_(redis),
      pool_(pool),
      workers_(workers),
      options_(std::move(options)),
      ndjson_(pool_, options_.ndjson_path, options_.name, options_.ndjson_rotation) {}

Consumer::~Consumer() = default;

void Consumer::Start() {
  FlushNdjson();  // what an earlier run stored but did not append
  EnsureGroup();
}

void Consumer::ExportMetrics(suite::obs::Metrics& metrics) {
  using Kind = suite::obs::Metrics::Kind;
  metrics.Expose("audit_events_written_total", "Audit process records stored in PostgreSQL", Kind::kCounter, {},
                 [this] { return static_cast<double>(written_.load()); });
  metrics.Expose("audit_ndjson_lines_written_total", "Lines appended to the NDJSON request log", Kind::kCounter, {},
                 [this] { return static_cast<double>(ndjson_lines_.load()); });
  metrics.Expose("audit_ndjson_write_failures_total", "NDJSON appends that failed (retried until they succeed)",
                 Kind::kCounter, {}, [this] { return static_cast<double>(ndjson_failed_.load()); });
  metrics.Expose("audit_retention_deleted_total", "Records deleted by retention (each run leaves a checkpoint)",
                 Kind::kCounter, {}, [this] { return static_cast<double>(retention_deleted_.load()); });
  metrics.Expose("audit_ndjson_rotations_total", "NDJSON files rotated (by size or day)", Kind::kCounter, {},
                 [this] { return static_cast<double>(ndjson_.rotations()); });
  metrics.Expose("audit_ndjson_behind", "1 while the NDJSON file lacks records PostgreSQL has", Kind::kGauge, {},
                 [this] { return ndjson_.behind() > 0 ? 1.0 : 0.0; });
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
      MaybeApplyRetention();
      redis_.Command({"XREADGROUP", "GROUP", kGroup, options_.name, "COUNT", kBatch, "BLOCK", "1000",
                      "STREAMS", options_.stream, ">"},
                     [this, on_error](Reply r) {
                       if (on_error(r)) return;
                       if (std::chrono::steady_clock::now() - last_claim_ > options_.claim_every) {
                         phase_ = Phase::kClaim;
                         claim_cursor_ = "0-0";
                       }
                       if (r.type != Reply::Type::kArray || r.elements.empty() || r.elements[0].elements.size() < 2) {
                         // A quiet second: the moment to complete the NDJSON file if it is behind.
                         if (ndjson_.behind() > 0 && !flushing_.exchange(true))
                           workers_.Submit(
                               [this] {
                                 FlushNdjson();
                                 flushing_ = false;
                               },
                               [this] { flushing_ = false; });
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
      // "event": one event's line; "events": a producer loop's batch, lines joined by newlines.
      const bool batch = fields[i].str == "events";
      if (!batch && fields[i].str != "event") continue;
      std::string_view lines = fields[i + 1].str;
      while (!lines.empty()) {
        const auto end = batch ? lines.find('\n') : std::string_view::npos;
        const auto line = lines.substr(0, end);
        lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 1);
        std::string why;
        if (auto event = suite::audit::Event::Parse(line, why))
          events.push_back({id, std::move(*event)});
        else
          obs::Error("malformed audit event skipped", {{"stream_id", id}, {"reason", why}});
      }
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
          written_ += WriteEvents(pool_, events, options_.name);
        } catch (const std::exception& e) {
          obs::Error("audit write failed; will retry", {{"error", e.what()}, {"count", events.size()}});
          busy_ = false;
          Retry();
          return;
        }
        // Committed: the records (and their NDJSON outbox rows) are durable, so the entries are
        // acknowledged whatever the file does next.
        FlushNdjson();
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

void Consumer::MaybeApplyRetention() {
  if (options_.retention_days <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (last_retention_ != std::chrono::steady_clock::time_point{} && now - last_retention_ < options_.retention_every)
    return;
  if (retention_running_.exchange(true)) return;
  last_retention_ = now;
  workers_.Submit(
      [this] {
        try {
          // Replicas may run it together: the function locks each chain, the later run finds
          // nothing left to delete.
          for (const auto& r : ApplyRetention(pool_, options_.retention_days)) {
            retention_deleted_ += r["deleted"].get<std::size_t>();
            obs::Info("retention applied", {{"chain", r["chain"]}, {"deleted", r["deleted"]},
                                            {"through_seq", r["through_seq"]}, {"days", options_.retention_days}});
          }
        } catch (const std::exception& e) {
          obs::Warn("retention failed; retried at the next run", {{"error", e.what()}});
        }
        retention_running_ = false;
      },
      [this] { retention_running_ = false; });
}

void Consumer::FlushNdjson() {
  std::lock_guard lock(ndjson_mu_);
  try {
    ndjson_lines_ += ndjson_.Flush();
    if (ndjson_failures_ > 0) {
      suite::obs::Info("NDJSON file caught up", {{"path", options_.ndjson_path}, {"failed_attempts", ndjson_failures_}});
      ndjson_failures_ = 0;
    }
  } catch (const std::exception& e) {
    ++ndjson_failed_;
    // The first failure, then one line a minute or so (an attempt a second).
    if (ndjson_failures_++ % 60 == 0)
      obs::Error("NDJSON append failed; PostgreSQL holds the records, the file will be completed",
                 {{"error", e.what()}, {"failed_attempts", ndjson_failures_}});
  }
}

}  // namespace audit
