#pragma once
/// Publishes audit events (suite/audit/event.hpp) to the Redis Stream `audit.events`.
/// Publish() never blocks a request and never waits for Redis: the event is appended to the
/// process's spool (a ring file, suite/audit/spool.hpp) before Publish() returns, and a sender
/// coroutine on the Redis client's loop sends the spool with pipelined XADDs, in order,
/// retrying with backoff while Redis is away. No thread of its own: the loop wakes the sender
/// when an event arrives while it is idle. A process killed at any moment, or stopped while Redis is
/// down, leaves its unsent events in the spool, and its next start (or any process that takes
/// the file over) sends them. The consumer deduplicates on event_id, so a resend is harmless.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "suite/audit/event.hpp"
#include "suite/audit/spool.hpp"
#include "suite/http/offload.hpp"
#include "suite/http/task.hpp"
#include "suite/redis/client.hpp"

namespace suite::core {
class Env;
}
namespace suite::obs {
class Metrics;
}

namespace suite::audit {

struct PublisherOptions {
  std::string stream = kStream;
  std::size_t batch = 128;
  /// The most entries the stream may hold. Entries leave it only once every consumer group
  /// acknowledged them (the audit consumer trims up to there), never by length: at the cap an
  /// entry is refused (AUDITFULL) and its events wait in the spool until the consumer catches
  /// up. Back pressure, not loss.
  long long stream_max = 1'000'000;
  /// Where the spool file lives; empty: an in-memory ring (what the process holds is lost
  /// with it: tests only).
  std::string spool_dir;
  std::string spool_name = "events";  ///< the file is <dir>/<name>-<n>.spool
  std::uint64_t spool_bytes = 64ull << 20;
  std::chrono::milliseconds sync_interval{100};  ///< msync of the spool (a machine crash loses at most this)
  /// Where the msync runs (it waits for the disk): a worker pool, so that the loop never waits;
  /// null: on the loop.
  http::Offload* sync_on = nullptr;
  /// After the first event of a quiet spell, how long the sender lets more gather before it
  /// sends: one wake-up and one pipelined batch per spell instead of a thread hand-off per event.
  std::chrono::microseconds linger{1000};
  /// For PublishOnLoop: how many event loops publish, and how a loop runs something at the
  /// end of its current turn (suite::http::AtTurnEnd; empty: at once).
  std::size_t loops = 1;
  std::function<void(std::function<void()>)> at_turn_end;
};

/// AUDIT_SPOOL_DIR (default "spool"), AUDIT_SPOOL_BYTES (64 MiB), AUDIT_SPOOL_SYNC_MS (100),
/// AUDIT_STREAM_MAX (1,000,000); the spool file is named after `service`.
PublisherOptions PublisherOptionsFromEnv(core::Env& env, const std::string& service);

class Publisher {
 public:
  /// Opens the spool (throws std::runtime_error when it cannot) and starts sending from
  /// `client`'s loop.
  Publisher(redis::Client& client, PublisherOptions options = {});
  ~Publisher();
  /// Gives an empty event_id a fresh UUID and an empty timestamp now, then appends the event's
  /// line to the spool. Thread-safe; never waits for Redis.
  void Publish(Event event);
  /// For a producer that publishes from event loops at a high rate (the gateway's access
  /// events): the event joins loop `loop`'s batch (call on that loop only), and the batch goes
  /// to the spool as one record when the loop's turn ends: one spool append, one stream entry
  /// (field `events`, the events' lines joined by newlines) and one XADD for the events of a
  /// turn instead of one each. Stop() spools what the batches still hold.
  void PublishOnLoop(Event event, std::size_t loop);
  /// Nothing would be lost by stopping now: every event reached Redis, or Redis is away and
  /// the events wait in a spool file.
  bool Drained() const;
  std::size_t dropped() const { return dropped_; }
  std::size_t published() const { return published_; }
  const Spool& spool() const { return *spool_; }
  /// The stream refused entries at its cap (the consumer is behind); cleared by the next batch taken.
  bool stream_full() const { return full_; }
  /// audit_events_published_total, audit_events_dropped_total, audit_events_queued,
  /// audit_spool_used_bytes, audit_spool_capacity_bytes, audit_stream_full.
  void ExportMetrics(obs::Metrics& metrics);
  /// Spools what the loops' batches hold, and, while the client's loop runs, lets the sender
  /// finish: a durable spool keeps what Redis has not taken for the next start; an in-memory one
  /// sends while Redis answers. Idempotent.
  void Stop();

 private:
  http::Task<void> Send();
  /// Sends the records (moved out) with pipelined XADDs; how many of them, from the first,
  /// Redis took.
  http::Task<std::size_t> SendBatch(std::vector<std::string>& records);
  http::Task<void> Sleep(std::chrono::steady_clock::duration d);
  void Wake();
  void Append(std::string_view line);
  void FlushBatch(std::size_t loop);
  struct Batch {
    std::string lines;
    bool scheduled = false;
  };
  struct Waker;  ///< the idle sender's timer, shared with the wake-ups posted to the loop
  redis::Client& client_;
  PublisherOptions options_;
  std::unique_ptr<Spool> spool_;
  std::shared_ptr<Waker> waker_;
  std::atomic<bool> stopping_{false}, ended_{false};
  std::atomic<bool> dirty_{false};
  std::atomic<bool> idle_{false};  ///< the sender waits for events: the next one must wake it
  std::atomic<std::size_t> dropped_{0}, published_{0};
  std::atomic<bool> full_{false};  ///< the stream refused the last entries at its cap
  std::vector<Batch> batches_;  ///< one per loop, each touched by its loop only (and by Stop)
};

}  // namespace suite::audit
