#pragma once
/// Publishes audit events (proto/schemas/audit-event.json) to the Redis Stream `audit.events`.
/// Publish() never blocks a request: events go to a bounded in-memory buffer that a background
/// thread drains with pipelined XADDs, retrying with backoff while Redis is away.
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "suite/redis/client.hpp"

namespace suite::obs {
class Metrics;
}

namespace suite::audit {

inline constexpr const char* kStream = "audit.events";

struct PublisherOptions {
  std::string stream = kStream;
  std::size_t max_buffer = 100'000;
  std::size_t batch = 128;
  long long stream_maxlen = 1'000'000;  ///< approximate trim (MAXLEN ~)
};

class Publisher {
 public:
  Publisher(redis::Client& client, PublisherOptions options = {});
  ~Publisher();
  /// Adds event_id (UUIDv4) and timestamp when absent. Thread-safe.
  void Publish(nlohmann::json event);
  /// An event already serialised as one JSON object, with its event_id and timestamp (the hot
  /// path's access events skip building a json value). Thread-safe.
  void PublishLine(std::string line);
  /// True when every accepted event has reached Redis.
  bool Drained() const;
  std::size_t dropped() const { return dropped_; }
  std::size_t published() const { return published_; }
  /// audit_events_published_total, audit_events_dropped_total, audit_events_queued.
  void ExportMetrics(obs::Metrics& metrics);
  void Stop();

 private:
  void Loop();
  redis::Client& client_;
  PublisherOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  std::atomic<std::size_t> dropped_{0}, published_{0};
  std::thread thread_;
};

}  // namespace suite::audit
