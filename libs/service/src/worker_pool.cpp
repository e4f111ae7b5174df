#include "suite/service/worker_pool.hpp"

#include "suite/observability/log.hpp"

namespace suite::service {

WorkerPool::WorkerPool(Options opts) : opts_(opts) {
  for (std::size_t i = 0; i < opts_.threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void WorkerPool::Submit(std::function<void()> task, std::function<void()> rejected) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < opts_.max_queue) {
      queue_.push_back({std::move(task), std::move(rejected), std::chrono::steady_clock::now()});
      cv_.notify_one();
      return;
    }
  }
  ++rejected_;
  if (rejected) rejected();
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void WorkerPool::Loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (std::chrono::steady_clock::now() - job.queued > opts_.max_wait) {
      ++rejected_;
      if (job.rejected) job.rejected();
      continue;
    }
    try {
      job.task();
    } catch (const std::exception& e) {  // last resort: a task must not take the process down
      obs::Error("worker task threw", {{"error", e.what()}});
    } catch (...) {
      obs::Error("worker task threw a non-standard exception", {});
    }
  }
}

}  // namespace suite::service
