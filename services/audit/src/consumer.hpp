#pragma once
/// Reads `audit.events` through the consumer group `audit-writers`, as one loop (Run):
///   - first its own pending entries (this consumer stopped after reading, before acknowledging),
///   - then entries another consumer left unacknowledged for `claim_idle` (it died): XAUTOCLAIM,
///     again every `claim_every`,
///   - otherwise new entries (XREADGROUP >).
/// A batch is written to PostgreSQL on a worker thread (one transaction, idempotent on
/// event_id, so a batch read twice is stored once, each new record with its NDJSON outbox row),
/// and only then acknowledged (XACK). A failed read, write or acknowledgement backs off and
/// starts again from the consumer's own pending entries. The NDJSON file follows from the outbox
/// (ndjson.hpp): after each batch, and at each quiet second while it is behind (a full disk).
/// After each batch it stored, and every `trim_every`, it trims the stream up to the oldest entry
/// some consumer group has not acknowledged (XTRIM MINID): entries leave the stream once read and stored, never by length
/// (publishers hold their events in their spools while the stream is at its cap).
#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "ndjson.hpp"
#include "store.hpp"
#include "suite/http/task.hpp"
#include "suite/redis/client.hpp"
#include "suite/service/worker_pool.hpp"

namespace boost::asio {
class io_context;
}

namespace audit {

/// The lane a consumer's name implies: the number it ends with after a '-' (audit-0, audit-1 ...),
/// modulo 1024; 0 for any other name.
int LaneOf(std::string_view name);

struct ConsumerOptions {
  std::string stream = "audit.events";
  std::string ndjson_path;
  NdjsonWriter::Rotation ndjson_rotation;
  std::string name;  ///< stable across restarts (the pod name), unique among live replicas
  /// The hash chains' lane this consumer links its records into: consumers on different lanes
  /// store in parallel (0 to 1023).
  int lane = 0;
  std::chrono::milliseconds claim_idle{60'000};
  std::chrono::milliseconds claim_every{30'000};
  /// Records stored more than this many days ago are deleted (through audit.apply_retention,
  /// leaving a checkpoint), checked every `retention_every`; 0 keeps everything.
  int retention_days = 0;
  std::chrono::milliseconds retention_every{3'600'000};
  std::chrono::milliseconds trim_every{1000};
  bool trim = true;  ///< false: the stream is left whole (a test that counts its entries)
};

class Consumer {
 public:
  Consumer(suite::redis::Client& redis, suite::db::Pool& pool, suite::service::WorkerPool& workers,
           ConsumerOptions options);
  /// Waits for the loop to end while `io` still runs it (the stop began with Drain).
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  /// Starts the loop on `io` (the loop of `redis`'s client).
  void Start(boost::asio::io_context& io);
  /// The stop began: read no more (a batch being written finishes).
  void Drain() { stopping_ = true; }
  /// No batch between read and acknowledgement.
  bool Drained() const { return !busy_; }
  std::size_t written() const { return written_; }
  std::size_t consumed() const { return consumed_; }  ///< events of every kind stored or dropped as replays
  /// audit_events_written_total (process records), audit_events_consumed_total (events of every
  /// kind, as publishers count them), audit_ndjson_lines_written_total, audit_ndjson_write_failures_total,
  /// audit_ndjson_behind (1 while the file lacks records PostgreSQL has), audit_retention_deleted_total,
  /// audit_stream_lag, audit_stream_pending, audit_stream_length (sampled at each trim).
  void ExportMetrics(suite::obs::Metrics& metrics);

 private:
  using Reply = suite::redis::Reply;
  template <class T>
  using Task = suite::http::Task<T>;
  Task<void> Run();
  Task<bool> EnsureGroup();
  /// XAUTOCLAIM from the start of the stream to its end, storing what it claims.
  Task<bool> ClaimAbandoned();
  /// Stores the entries (Redis [id, [field, value, ...]] pairs), then acknowledges them.
  Task<bool> Store(const std::vector<Reply>& entries);
  Task<void> Backoff();
  /// Appends the outbox to the NDJSON file (on a worker); a failure is logged (throttled) and
  /// left for the next attempt: PostgreSQL holds the records meanwhile.
  void FlushNdjson();
  /// Starts a retention run on a worker when one is due.
  void MaybeApplyRetention();
  /// Trims what every group acknowledged, and samples the group's lag and pending count and the
  /// stream's length. Trims nothing when unsure (a group's state could not be read).
  Task<void> Trim();

  suite::redis::Client& redis_;
  suite::db::Pool& pool_;
  suite::service::WorkerPool& workers_;
  ConsumerOptions options_;
  boost::asio::io_context* io_ = nullptr;
  NdjsonWriter ndjson_;            ///< used by one worker at a time: the loop awaits each flush
  std::size_t ndjson_failures_ = 0;
  std::chrono::steady_clock::time_point last_claim_{};
  std::atomic<bool> stopping_{false}, busy_{false}, ended_{false}, retention_running_{false};
  std::chrono::steady_clock::time_point last_retention_{};
  std::atomic<std::size_t> retention_deleted_{0};
  std::chrono::steady_clock::time_point last_trim_{};
  std::atomic<long long> lag_{0}, pending_{0}, length_{0};
  std::atomic<std::size_t> written_{0}, consumed_{0}, ndjson_lines_{0}, ndjson_failed_{0};
};

}  // namespace audit
