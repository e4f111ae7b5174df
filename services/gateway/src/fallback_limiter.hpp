#pragma once
/// What the rate limit does when Redis is slow or gone (RATE_LIMIT_FAILURE_MODE):
///   local  (default) each replica enforces its share of the limit in memory (GCRA per bucket),
///   open   requests go through, counted as failed_open,
///   closed requests get 503 with Retry-After.
/// A circuit breaker stops waiting on a dead Redis: after `failures` consecutive failures it
/// opens and decisions are made at once by the failure mode; after `open_for` one request
/// probes Redis (half-open), and its success closes the breaker. Each change of state is logged
/// once and shown in gateway_ratelimit_breaker_state.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "rate_limiter.hpp"

namespace gateway {

/// GCRA (the generic cell rate algorithm): per bucket one "theoretical arrival time"; smooth,
/// no edge burst, one time point per bucket. Thread-safe.
class LocalRateLimiter {
 public:
  explicit LocalRateLimiter(std::size_t max_buckets) : max_buckets_(max_buckets) {}
  Decision Check(const std::string& bucket, int limit, std::chrono::seconds period,
                 std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  /// Whether the next Check would be refused (takes nothing).
  bool Exhausted(const std::string& bucket, int limit, std::chrono::seconds period,
                 std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) const;
  std::size_t size() const;

 private:
  std::size_t max_buckets_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> tat_;
};

class CircuitBreaker {
 public:
  enum class State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
  CircuitBreaker(int failures, std::chrono::milliseconds open_for) : failures_(failures), open_for_(open_for) {}
  /// Whether this request may ask the backend (in half-open: only the one probe). Closed, as
  /// it nearly always is, this reads one atomic: no lock and no clock, on every loop at once.
  bool Allow() { return state_.load(std::memory_order_acquire) == State::kClosed || Allow(std::chrono::steady_clock::now()); }
  bool Allow(std::chrono::steady_clock::time_point now);
  /// The outcome of a request that asked; returns the new state when it changed. A success
  /// while closed with no failure counted changes nothing and takes no lock.
  std::optional<State> Record(bool ok) {
    if (ok && state_.load(std::memory_order_acquire) == State::kClosed && consecutive_.load(std::memory_order_relaxed) == 0)
      return std::nullopt;
    return Record(ok, std::chrono::steady_clock::now());
  }
  std::optional<State> Record(bool ok, std::chrono::steady_clock::time_point now);
  State state() const { return state_.load(std::memory_order_acquire); }

 private:
  const int failures_;
  const std::chrono::milliseconds open_for_;
  std::mutex mu_;  ///< every change; the fast paths above only read
  std::atomic<State> state_{State::kClosed};
  std::atomic<int> consecutive_{0};
  bool probing_ = false;
  std::chrono::steady_clock::time_point opened_{};
};

class ResilientRateLimiter final : public RateLimitBackend {
 public:
  ResilientRateLimiter(RateLimitBackend& primary, FallbackOptions options, suite::obs::Metrics& metrics);
  suite::http::Task<Decision> Check(LimitRequest request) override;
  CircuitBreaker::State state() const { return breaker_.state(); }

 private:
  Decision Fallback(const LimitRequest& r);
  void Observe(bool ok);
  RateLimitBackend& primary_;
  const FallbackOptions options_;
  LocalRateLimiter local_;
  CircuitBreaker breaker_;
  prometheus::Gauge& state_gauge_;
  prometheus::Counter& errors_;
};

}  // namespace gateway
