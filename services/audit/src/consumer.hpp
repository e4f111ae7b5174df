#pragma once
/// Reads `audit.events` through the consumer group `audit-writers`, in three phases:
///   1. own pending entries (this consumer crashed after reading, before acknowledging),
///   2. entries another consumer left unacknowledged for `claim_idle` (it died): XAUTOCLAIM,
///   3. new entries (XREADGROUP >), going back to 2 every `claim_every`.
/// A batch is written to PostgreSQL on a worker thread (one transaction, idempotent on
/// event_id, so a batch read twice is stored once, each new record with its NDJSON outbox row),
/// and only then acknowledged (XACK). The NDJSON file follows from the outbox (ndjson.hpp):
/// after each batch, and every second while it is behind (a full disk), until it has caught up.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "ndjson.hpp"
#include "store.hpp"
#include "suite/service/worker_pool.hpp"
#include "suite/redis/client.hpp"

namespace audit {

struct ConsumerOptions {
  std::string stream = "audit.events";
  std::string ndjson_path;
  NdjsonWriter::Rotation ndjson_rotation;
  std::string name;  ///< stable across restarts (the pod name), unique among live replicas
  std::chrono::milliseconds claim_idle{60'000};
  std::chrono::milliseconds claim_every{30'000};
  /// Records stored more than this many days ago are deleted (through audit.apply_retention,
  /// leaving a checkpoint), checked every `retention_every`; 0 keeps everything.
  int retention_days = 0;
  std::chrono::milliseconds retention_every{3'600'000};
};

class Consumer {
 public:
  Consumer(suite::redis::Client& redis, suite::db::Pool& pool, suite::service::WorkerPool& workers,
           ConsumerOptions options);
  ~Consumer();
  void Start();
  /// The stop began: read no more (a batch being written finishes).
  void Drain() { stopping_ = true; }
  /// No batch between read and acknowledgement.
  bool Drained() const { return !busy_; }
  std::size_t written() const { return written_; }
  /// audit_events_written_total, audit_ndjson_lines_written_total, audit_ndjson_write_failures_total,
  /// audit_ndjson_behind (1 while the file lacks records PostgreSQL has), audit_retention_deleted_total.
  void ExportMetrics(suite::obs::Metrics& metrics);

 private:
  enum class Phase { kOwnPending, kClaim, kLive };
  void EnsureGroup();
  void Next();
  void Retry();
  /// Stores the entries (Redis [id, [field, value, ...]] pairs), acknowledges them, then `then`.
  void Process(const std::vector<suite::redis::Reply>& entries, std::function<void()> then);
  /// Appends the outbox to the NDJSON file; a failure is logged (throttled) and left for the
  /// next attempt: PostgreSQL holds the records meanwhile.
  void FlushNdjson();
  /// Starts a retention run on a worker when one is due.
  void MaybeApplyRetention();

  suite::redis::Client& redis_;
  suite::db::Pool& pool_;
  suite::service::WorkerPool& workers_;
  ConsumerOptions options_;
  NdjsonWriter ndjson_;
  std::mutex ndjson_mu_;
  std::atomic<bool> flushing_{false};
  std::size_t ndjson_failures_ = 0;  ///< guarded by ndjson_mu_
  Phase phase_ = Phase::kOwnPending;
  std::string claim_cursor_ = "0-0";
  std::chrono::steady_clock::time_point last_claim_{};
  std::atomic<bool> stopping_{false}, busy_{false}, retention_running_{false};
  std::chrono::steady_clock::time_point last_retention_{};
  std::atomic<std::size_t> retention_deleted_{0};
  std::atomic<std::size_t> written_{0}, ndjson_lines_{0}, ndjson_failed_{0};
};

}  // namespace audit
