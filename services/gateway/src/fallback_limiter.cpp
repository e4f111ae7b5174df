#include "fallback_limiter.hpp"

#include "suite/observability/log.hpp"

namespace gateway {

using Clock = std::chrono::steady_clock;

Decision LocalRateLimiter::Check(const std::string& bucket, int limit, std::chrono::seconds period, Clock::time_point now) {
  Decision d;
  d.limit = limit;
  const auto interval = std::chrono::duration_cast<Clock::duration>(period) / std::max(1, limit);
  const auto window = std::chrono::duration_cast<Clock::duration>(period);
  std::lock_guard lock(mu_);
  auto it = tat_.find(bucket);
  if (it == tat_.end()) {
    if (tat_.size() >= max_buckets_) {
      // Full: forget the buckets that are idle (their arrival time is past), else refuse the
      // newcomer rather than grow without bound.
      for (auto i = tat_.begin(); i != tat_.end();) i = i->second <= now ? tat_.erase(i) : std::next(i);
      if (tat_.size() >= max_buckets_) {
        d.allowed = false;
        d.reset_seconds = 1;
        return d;
      }
    }
    it = tat_.emplace(bucket, now).first;
  }
  const auto tat = std::max(it->second, now);
  const auto next = tat + interval;
  auto secs = [](Clock::duration x) {
    return std::max<long long>(1, std::chrono::ceil<std::chrono::seconds>(x).count());
  };
  if (next - now > window) {  // a full window's worth is already booked
    d.allowed = false;
    d.reset_seconds = secs(tat + interval - window - now);
    return d;
  }
  it->second = next;
  d.allowed = true;
  d.remaining = static_cast<int>((window - (next - now)) / interval);
  d.reset_seconds = secs(next - now);
  return d;
}

bool LocalRateLimiter::Exhausted(const std::string& bucket, int limit, std::chrono::seconds period,
                                 Clock::time_point now) const {
  const auto interval = std::chrono::duration_cast<Clock::duration>(period) / std::max(1, limit);
  std::lock_guard lock(mu_);
  const auto it = tat_.find(bucket);
  if (it == tat_.end()) return false;
  return std::max(it->second, now) + interval - now > std::chrono::duration_cast<Clock::duration>(period);
}

std::size_t LocalRateLimiter::size() const {
  std::lock_guard lock(mu_);
  return tat_.size();
}

bool CircuitBreaker::Allow(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (state_ == State::kClosed) return true;
  if (state_ == State::kOpen && now - opened_ >= open_for_) {
    state_ = State::kHalfOpen;
    probing_ = false;
  }
  if (state_ == State::kHalfOpen && !probing_) {
    probing_ = true;  // one probe at a time; the rest decide locally meanwhile
    return true;
  }
  return false;
}

std::optional<CircuitBreaker::State> CircuitBreaker::Record(bool ok, Clock::time_point now) {
  std::lock_guard lock(mu_);
  const State before = state_;
  if (ok) {
    consecutive_ = 0;
    if (state_ == State::kHalfOpen) state_ = State::kClosed;
  } else if (state_ == State::kHalfOpen || ++consecutive_ >= failures_) {
    state_ = State::kOpen;
    opened_ = now;
    consecutive_ = 0;
  }
  probing_ = false;
  const State after = state_;
  if (after == before) return std::nullopt;
  return after;
}

ResilientRateLimiter::ResilientRateLimiter(RateLimitBackend& primary, FallbackOptions options, suite::obs::Metrics& metrics)
    : primary_(primary),
      options_(options),
      local_(options.max_buckets),
      breaker_(options.failures, options.open_for),
      state_gauge_(prometheus::BuildGauge()
                       .Name("gateway_ratelimit_breaker_state")
                       .Help("The rate limiter's Redis breaker: 0 closed, 1 open, 2 half-open")
                       .Register(metrics.registry())
                       .Add({})),
      errors_(prometheus::BuildCounter()
                  .Name("gateway_redis_errors_total")
                  .Help("Rate-limit decisions Redis failed to make (error or timeout)")
                  .Register(metrics.registry())
                  .Add({})) {}

Decision ResilientRateLimiter::Fallback(const LimitRequest& r) {
  Decision d;
  if (options_.mode == FailureMode::kLocal) {
    const int share = std::max(1, r.limit / std::max(1, options_.replicas));
    d = local_.Check(r.bucket, share, r.period);
    d.local = true;
  } else {
    d.limit = r.limit;
    d.allowed = options_.mode == FailureMode::kOpen;
    d.remaining = d.allowed ? r.limit : 0;
    d.reset_seconds = r.period.count();
  }
  d.degraded = true;
  return d;
}

void ResilientRateLimiter::Observe(bool ok) {
  if (!ok) errors_.Increment();
  if (const auto changed = breaker_.Record(ok)) {
    state_gauge_.Set(static_cast<double>(*changed));
    if (*changed == CircuitBreaker::State::kOpen)
      suite::obs::Warn("rate limiter: Redis failing; deciding locally until it answers",
                       {{"mode", options_.mode == FailureMode::kLocal ? "local" : options_.mode == FailureMode::kOpen ? "open" : "closed"}});
    else if (*changed == CircuitBreaker::State::kClosed)
      suite::obs::Info("rate limiter: Redis answers again; shared limits resume");
  }
}

suite::http::Task<Decision> ResilientRateLimiter::Check(LimitRequest r) {
  if (!breaker_.Allow()) {
    state_gauge_.Set(static_cast<double>(breaker_.state()));
    co_return Fallback(r);
  }
  Decision d = co_await primary_.Check(r);
  Observe(!d.degraded);
  if (d.degraded) d = Fallback(r);
  co_return d;
}

}  // namespace gateway
