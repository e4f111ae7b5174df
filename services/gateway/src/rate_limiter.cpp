#include "rate_limiter.hpp"

#include "suite/core/ids.hpp"

namespace gateway {

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

RateLimiter::RateLimiter(suite::redis::Client& redis, RateLimitConfig config)
    : redis_(redis), config_(config), script_(kScript) {}

std::string RateLimiter::Key(const std::string& subject) { return "rl:{" + subject + "}"; }

void RateLimiter::Check(const std::string& subject, int limit, std::function<void(Decision)> cb) {
  const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.period).count();
  redis_.Eval(script_, {Key(subject)},
                {std::to_string(limit), std::to_string(window_ms), suite::core::NewUuid()},
                [this, limit, cb = std::move(cb)](suite::redis::Reply r) {
                  Decision d;
                  d.limit = limit;
                  if (r.type != suite::redis::Reply::Type::kArray || r.elements.size() != 3) {
                    d.degraded = true;
                    d.allowed = config_.fail_open;
                    d.remaining = config_.fail_open ? limit : 0;
                    d.reset_seconds = config_.period.count();
                  } else {
                    d.allowed = r.elements[0].integer == 1;
                    d.remaining = static_cast<int>(r.elements[1].integer);
                    d.reset_seconds = std::max<long long>(1, (r.elements[2].integer + 999) / 1000);
                  }
                  cb(d);
                });
}

}  // namespace gateway
