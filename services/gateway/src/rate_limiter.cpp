#include "rate_limiter.hpp"

#include "suite/http/loop.hpp"

#include "routes.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/resume.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Task;

namespace {
// KEYS[1] = the window's log, KEYS[2] = the day's count.
// ARGV = limit, window_ms, unique member, daily quota (0: none), the count's TTL in seconds.
// Returns {verdict (1 allowed, 0 rate limited, 2 over quota), remaining, ms until a slot frees,
// quota remaining}. A refused request is not counted, in either.
constexpr const char* kScript = R"lua(
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local quota = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local used = 0
if quota > 0 then used = tonumber(redis.call('GET', KEYS[2]) or '0') end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local reset = window
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
if quota > 0 and used >= quota then return {2, limit - count, reset, 0} end
if count >= limit then return {0, 0, reset, quota - used} end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
if quota > 0 then
  used = redis.call('INCR', KEYS[2])
  if used == 1 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
end
return {1, limit - count - 1, reset, quota - used}
)lua";

constexpr long long kDay = 86'400;
}  // namespace

RedisRateLimiter::RedisRateLimiter(std::vector<suite::redis::Client*> per_loop, bool fail_open,
                                   const suite::core::Clock& clock)
    : redis_(std::move(per_loop)), fail_open_(fail_open), clock_(clock), script_(kScript) {}

std::string RateBucket(const suite::security::Identity& id, std::string_view client_ip) {
  if (!id.api_key_id.empty()) return "{key:" + id.api_key_id + "}";
  if (id.method != "none" && !id.method.empty()) return "{user:" + id.subject + "}";
  return "{ip:" + std::string(client_ip) + "}";
}

std::string RedisRateLimiter::WindowKey(std::string_view bucket) { return "rl:" + std::string(bucket); }

std::string RedisRateLimiter::QuotaKey(std::string_view bucket, const suite::core::Clock& clock) {
  const auto day = std::chrono::floor<std::chrono::days>(clock.Now()).time_since_epoch().count();
  return "q:" + std::string(bucket) + ":" + std::to_string(day);
}

long long RedisRateLimiter::SecondsToMidnight(const suite::core::Clock& clock) {
  const auto s = std::chrono::floor<std::chrono::seconds>(clock.Now()).time_since_epoch().count();
  return kDay - ((s % kDay) + kDay) % kDay;
}

Task<Decision> RedisRateLimiter::Check(LimitRequest r) {
  const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.period).count();
  const long long to_midnight = SecondsToMidnight(clock_);
  std::vector<std::string> keys = {WindowKey(r.bucket), QuotaKey(r.bucket, clock_)};
  // The day's count outlives its day by an hour: replicas whose clocks differ a little still
  // find it.
  std::vector<std::string> args = {std::to_string(r.limit), std::to_string(window_ms), suite::core::NewUuid(),
                                   std::to_string(r.daily_quota), std::to_string(to_midnight + 3600)};
  return suite::http::Resume<Decision>([this, r, to_midnight, keys = std::move(keys), args = std::move(args)](auto done) mutable {
    suite::http::ForThisLoop(redis_)->Eval(script_, std::move(keys), std::move(args), [this, r, to_midnight, done](suite::redis::Reply reply) {
      Decision d;
      d.limit = r.limit;
      d.quota = r.daily_quota;
      d.quota_reset_seconds = to_midnight;
      if (reply.type != suite::redis::Reply::Type::kArray || reply.elements.size() != 4) {
        d.degraded = true;
        d.allowed = fail_open_;
        d.remaining = fail_open_ ? r.limit : 0;
        d.quota_remaining = fail_open_ ? r.daily_quota : 0;
        d.reset_seconds = r.period.count();
      } else {
        const auto verdict = reply.elements[0].integer;
        d.allowed = verdict == 1;
        d.quota_exceeded = verdict == 2;
        d.remaining = static_cast<int>(std::max<long long>(0, reply.elements[1].integer));
        d.reset_seconds = std::max<long long>(1, (reply.elements[2].integer + 999) / 1000);
        d.quota_remaining = std::max<long long>(0, reply.elements[3].integer);
      }
      done(d);
    });
  });
}

RateLimitStats RateLimitStats::Make(suite::obs::Metrics& metrics) {
  auto& family = prometheus::BuildCounter()
                     .Name("gateway_ratelimit_decisions_total")
                     .Help("Rate-limit decisions: allowed, limited, quota_exceeded, failed_open, failed_closed, "
                           "local_allowed, local_limited (Redis unavailable: this replica's share)")
                     .Register(metrics.registry());
  return {family.Add({{"decision", "allowed"}}),       family.Add({{"decision", "limited"}}),
          family.Add({{"decision", "quota_exceeded"}}), family.Add({{"decision", "failed_open"}}),
          family.Add({{"decision", "failed_closed"}}),  family.Add({{"decision", "local_allowed"}}),
          family.Add({{"decision", "local_limited"}})};
}

// Outside the coroutine: GCC 12 mis-destroys temporaries of conditional expressions in them.
void RateLimitStats::Count(const Decision& d) {
  if (d.local) (d.allowed ? local_allowed : local_limited).Increment();
  else if (d.degraded) (d.allowed ? failed_open : failed_closed).Increment();
  else if (d.quota_exceeded) quota_exceeded.Increment();
  else (d.allowed ? allowed : limited).Increment();
}

void AddRateLimitHeaders(suite::http::Headers& out, const Decision& d, std::chrono::seconds period) {
  const int remaining = d.allowed ? d.remaining : (d.quota_exceeded ? d.remaining : 0);
  out.emplace_back("x-ratelimit-limit", std::to_string(d.limit));
  out.emplace_back("x-ratelimit-remaining", std::to_string(remaining));
  out.emplace_back("x-ratelimit-reset", std::to_string(d.reset_seconds));
  // draft-ietf-httpapi-ratelimit-headers: the policies, then the one closest to refusing.
  std::string policy = "\"window\";q=" + std::to_string(d.limit) + ";w=" + std::to_string(period.count());
  if (d.quota > 0) policy += ", \"day\";q=" + std::to_string(d.quota) + ";w=86400";
  out.emplace_back("ratelimit-policy", std::move(policy));
  const long long quota_left = d.allowed ? d.quota_remaining : (d.quota_exceeded ? 0 : d.quota_remaining);
  if (d.quota > 0 && quota_left < remaining)
    out.emplace_back("ratelimit", "\"day\";r=" + std::to_string(quota_left) + ";t=" + std::to_string(d.quota_reset_seconds));
  else
    out.emplace_back("ratelimit", "\"window\";r=" + std::to_string(remaining) + ";t=" + std::to_string(d.reset_seconds));
}

Task<FilterStatus> RateLimitFilter::OnRequestAsync(RequestContext& ctx) {
  if (!config_.enabled || !ctx.route->rate_limited || ctx.identity.tier == kUnlimitedTier) co_return FilterStatus::kContinue;
  LimitRequest lr;
  lr.bucket = RateBucket(ctx.identity, ctx.req().remote_ip);
  lr.limit = config_.LimitFor(ctx.identity.tier);
  if (ctx.route->rate_limit) lr.limit = std::min(lr.limit, *ctx.route->rate_limit);
  lr.period = config_.period;
  lr.daily_quota = config_.QuotaFor(ctx.identity.tier);
  const Decision d = co_await backend_.Check(std::move(lr));
  stats_.Count(d);
  AddRateLimitHeaders(ctx.response_headers, d, config_.period);  // once, for whatever answer follows
  if (d.allowed) {
    if (ctx.deferred) co_return ctx.RefuseDeferred();  // failed credentials: counted, then refused
    co_return FilterStatus::kContinue;
  }
  if (d.degraded && !d.local)
    co_return ctx.Refuse(ApiError(ErrorCode::kServiceUnavailable, "Rate limiter unavailable, retry shortly")
                             .RetryAfter(std::chrono::seconds(d.reset_seconds)),
                         "rate_limiter_unavailable");
  if (d.quota_exceeded) {
    const nlohmann::json details = {{"quota", d.quota}, {"tier", ctx.identity.tier}, {"period", "day"},
                                    {"retry_after_seconds", d.quota_reset_seconds}};
    co_return ctx.Refuse(ApiError(ErrorCode::kQuotaExceeded, "Daily quota exceeded. Max " + std::to_string(d.quota) +
                                                                 " requests per day",
                                  details)
                             .RetryAfter(std::chrono::seconds(d.quota_reset_seconds)),
                         "quota_exceeded");
  }
  const std::string message = "Rate limit exceeded. Max " + std::to_string(d.limit) + " requests per " +
                              std::to_string(config_.period.count()) + "s";
  const nlohmann::json details = {{"limit", d.limit}, {"tier", ctx.identity.tier},
                                  {"period_seconds", config_.period.count()}, {"retry_after_seconds", d.reset_seconds}};
  // Seed 001's 429 body also carries the time of the refusal.
  co_return ctx.Refuse(ApiError(ErrorCode::kRateLimited, message, details)
                           .RetryAfter(std::chrono::seconds(d.reset_seconds))
                           .TopLevel({{"timestamp", suite::core::NowIso()}}),
                       "rate_limited");
}

}  // namespace gateway
