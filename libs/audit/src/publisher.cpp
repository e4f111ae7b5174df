#include "suite/audit/publisher.hpp"

#include "suite/observability/metrics.hpp"

#include <future>

#include "suite/core/ids.hpp"
#include "suite/observability/log.hpp"

namespace suite::audit {

Publisher::Publisher(redis::Client& client, PublisherOptions options)
    : client_(client), options_(std::move(options)), thread_([this] { Loop(); }) {}

Publisher::~Publisher() { Stop(); }

void Publisher::ExportMetrics(obs::Metrics& metrics) {
  using Kind = obs::Metrics::Kind;
  metrics.Expose("audit_events_published_total", "Audit events handed to the Redis stream", Kind::kCounter, {},
                 [this] { return static_cast<double>(published_.load()); });
  metrics.Expose("audit_events_dropped_total", "Audit events given up (the buffer was full)", Kind::kCounter, {},
                 [this] { return static_cast<double>(dropped_.load()); });
  metrics.Expose("audit_events_queued", "Audit events waiting for Redis", Kind::kGauge, {}, [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(queue_.size());
  });
}

void Publisher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!queue_.empty())
    obs::Warn("audit events not published at stop", {{"count", queue_.size()}});
}

void Publisher::Publish(nlohmann::json event) {
  if (!event.contains("event_id")) event["event_id"] = core::NewUuid();
  if (!event.contains("timestamp")) event["timestamp"] = core::NowIso();
  PublishLine(event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Publisher::PublishLine(std::string line) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_buffer) {
      // Logged at the first drop and every 10,000th: a Redis outage must not become a log flood.
      if (++dropped_ % 10'000 == 1)
        obs::Error("audit buffer full: events dropped", {{"dropped", dropped_.load()}});
      return;
    }
    queue_.push_back(std::move(line));
  }
  cv_.notify_one();
}

bool Publisher::Drained() const {
  std::lock_guard lock(mu_);
  return queue_.empty() && in_flight_ == 0;
}

void Publisher::Loop() {
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    std::vector<std::string> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      if (stopping_ && !client_.connected()) return;
      for (std::size_t i = 0; i < options_.batch && i < queue_.size(); ++i)
        batch.push_back(queue_[i]);
      in_flight_ = batch.size();
    }
    // Pipelined: all XADDs go out back to back; we wait for every answer.
    auto results_ptr = std::make_shared<std::vector<std::promise<bool>>>(batch.size());
    auto& results = *results_ptr;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      client_.Command({"XADD", options_.stream, "MAXLEN", "~", std::to_string(options_.stream_maxlen),
                       "*", "event", batch[i]},
                      [results_ptr, i](redis::Reply r) { (*results_ptr)[i].set_value(r.ok()); });
    }
    // Bounded wait: once the I/O loop has stopped, replies never come.
    std::size_t ok = 0;
    for (auto& r : results) {
      auto f = r.get_future();
      if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready || !f.get()) break;
      ++ok;
    }
    // Only the leading run of successes is removed: order is kept, failures are retried.
    // (A success after a failure may be sent twice; the consumer deduplicates by event_id.)
    {
      std::lock_guard lock(mu_);
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(ok));
      in_flight_ = 0;
      published_ += ok;
    }
    if (ok < batch.size()) {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      cv_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    } else {
      backoff = std::chrono::milliseconds(50);
    }
  }
}

}  // namespace suite::audit
