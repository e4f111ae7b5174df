#include "rate_limiter.hpp"

#include "routes.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/resume.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Task;

namespace {
// KEYS[1] = log key; ARGV = limit, window_ms, unique member.
// Returns {allowed (0/1), remaining, ms until a slot frees}.
constexpr const char* kScript = R"lua(
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local reset = window
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
if count < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  return {1, limit - count - 1, reset}
end
return {0, 0, reset}
)lua";
}  // namespace

RedisRateLimiter::RedisRateLimiter(suite::redis::Client& redis, bool fail_open)
    : redis_(redis), fail_open_(fail_open), script_(kScript) {}

std::string RateKey(const suite::security::Identity& id, std::string_view client_ip) {
  if (!id.api_key_id.empty()) return "rl:{key:" + id.api_key_id + "}";
  if (id.method != "none") return "rl:{user:" + id.subject + "}";
  return "rl:{ip:" + std::string(client_ip) + "}";
}

Task<Decision> RedisRateLimiter::Check(std::string key, int limit, std::chrono::seconds period) {
  const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(period).count();
  return suite::http::Resume<Decision>([this, key = std::move(key), limit, period, window_ms](auto done) {
    redis_.Eval(script_, {key}, {std::to_string(limit), std::to_string(window_ms), suite::core::NewUuid()},
                [this, limit, period, done](suite::redis::Reply r) {
                  Decision d;
                  d.limit = limit;
                  if (r.type != suite::redis::Reply::Type::kArray || r.elements.size() != 3) {
                    d.degraded = true;
                    d.allowed = fail_open_;
                    d.remaining = fail_open_ ? limit : 0;
                    d.reset_seconds = period.count();
                  } else {
                    d.allowed = r.elements[0].integer == 1;
                    d.remaining = static_cast<int>(r.elements[1].integer);
                    d.reset_seconds = std::max<long long>(1, (r.elements[2].integer + 999) / 1000);
                  }
                  done(d);
                });
  });
}

RateLimitStats RateLimitStats::Make(suite::obs::Metrics& metrics) {
  auto& family = prometheus::BuildCounter()
                     .Name("gateway_ratelimit_decisions_total")
                     .Help("Rate-limit decisions: allowed, limited, failed_open, failed_closed")
                     .Register(metrics.registry());
  return {family.Add({{"decision", "allowed"}}), family.Add({{"decision", "limited"}}),
          family.Add({{"decision", "failed_open"}}), family.Add({{"decision", "failed_closed"}})};
}

// Outside the coroutine: GCC 12 mis-destroys temporaries of conditional expressions in them.
void RateLimitStats::Count(const Decision& d) {
  if (d.degraded) (d.allowed ? failed_open : failed_closed).Increment();
  else (d.allowed ? allowed : limited).Increment();
}

Task<FilterStatus> RateLimitFilter::OnRequestAsync(RequestContext& ctx) {
  if (!config_.enabled || !ctx.route->rate_limited) co_return FilterStatus::kContinue;
  int limit = config_.LimitFor(ctx.identity.tier);
  if (ctx.route->rate_limit) limit = std::min(limit, *ctx.route->rate_limit);
  const Decision d = co_await backend_.Check(RateKey(ctx.identity, ctx.req().remote_ip), limit, config_.period);
  stats_.Count(d);
  // Once, for whatever answer follows (seed 003: every response carries them).
  ctx.response_headers.emplace_back("x-ratelimit-limit", std::to_string(d.limit));
  ctx.response_headers.emplace_back("x-ratelimit-remaining", std::to_string(d.allowed ? d.remaining : 0));
  ctx.response_headers.emplace_back("x-ratelimit-reset", std::to_string(d.reset_seconds));
  if (d.allowed) co_return FilterStatus::kContinue;
  const auto retry = std::chrono::seconds(d.reset_seconds);
  if (d.degraded)
    co_return ctx.Refuse(ApiError(ErrorCode::kServiceUnavailable, "Rate limiter unavailable, retry shortly").RetryAfter(retry),
                         "rate_limiter_unavailable");
  const std::string message = "Rate limit exceeded. Max " + std::to_string(d.limit) + " requests per " +
                              std::to_string(config_.period.count()) + "s";
  const nlohmann::json details = {{"limit", d.limit}, {"tier", ctx.identity.tier},
                                  {"period_seconds", config_.period.count()}, {"retry_after_seconds", d.reset_seconds}};
  // Seed 001's 429 body also carries the time of the refusal.
  co_return ctx.Refuse(ApiError(ErrorCode::kRateLimited, message, details)
                           .RetryAfter(retry)
                           .TopLevel({{"timestamp", suite::core::NowIso()}}),
                       "rate_limited");
}

}  // namespace gateway
