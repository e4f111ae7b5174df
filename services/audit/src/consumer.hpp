#pragma once
/// Reads `audit.events` through the consumer group `audit-writers`: first this consumer's own
/// pending entries (after a crash), then new ones. A batch is written to PostgreSQL and the
/// NDJSON file on a worker thread; only then is it acknowledged (XACK).
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "store.hpp"
#include "suite/http/worker_pool.hpp"
#include "suite/redis/client.hpp"

namespace audit {

class Consumer {
 public:
  Consumer(suite::redis::Client& redis, suite::db::Pool& pool, suite::http::WorkerPool& workers,
           std::string ndjson_path, std::string consumer_name);
  ~Consumer();
  void Start();
  void Stop() { stopping_ = true; }
  bool Idle() const { return !busy_; }
  std::size_t written() const { return written_; }

 private:
  void EnsureGroup();
  void Read();
  void Handle(suite::redis::Reply reply);
  void Retry();
  void AppendNdjson(const std::vector<nlohmann::json>& events);

  suite::redis::Client& redis_;
  suite::db::Pool& pool_;
  suite::http::WorkerPool& workers_;
  std::string path_, name_;
  std::FILE* file_ = nullptr;
  std::mutex file_mu_;
  bool pending_phase_ = true;  // "0" first: our own unacknowledged entries
  std::atomic<bool> stopping_{false}, busy_{false};
  std::atomic<std::size_t> written_{0};
};

}  // namespace audit
