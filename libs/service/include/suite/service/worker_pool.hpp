#pragma once
/// A bounded pool of threads for blocking work (libpqxx, argon2id). Work that cannot start
/// within `max_wait` is refused instead of queued without bound; the caller answers 503.
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "suite/http/offload.hpp"

namespace suite::service {

class WorkerPool final : public http::Offload {
 public:
  struct Options {
    std::size_t threads = 4;
    std::size_t max_queue = 256;
    std::chrono::milliseconds max_wait{2000};
  };
  explicit WorkerPool(Options opts);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Runs `task` on a worker, or `rejected` (on the caller's or a worker's thread) when the
  /// queue is full or the task waited longer than max_wait.
  void Submit(std::function<void()> task, std::function<void()> rejected) override;
  std::size_t threads() const { return opts_.threads; }
  std::size_t rejected() const { return rejected_; }
  std::size_t queued() const;
  void Stop();

 private:
  struct Job {
    std::function<void()> task, rejected;
    std::chrono::steady_clock::time_point queued;
  };
  void Loop();
  Options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::atomic<std::size_t> rejected_{0};
  std::vector<std::thread> threads_;
};

}  // namespace suite::service
