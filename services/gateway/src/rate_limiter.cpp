#include "rate_limiter.hpp"

#include "suite/http/loop.hpp"

#include "routes.hpp"
#include "suite/core/ids.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Task;

namespace {
// The window is a log of grants (a sorted set scored by time, ms) and their sum. A grant of one
// request is a unique member; a lease of n is the member "n:<id>", scored at the end of its
// hold: the requests it admits happen before then, so counting it until hold + window past its
// grant keeps every window of real time at or under the limit, whichever replica spends it.
// KEYS[1] = the log, KEYS[2] = the day's count, KEYS[3] = the log's sum.
// ARGV = limit, window_ms, id, daily quota (0: none), the count's TTL in seconds, tokens
// wanted, hold_ms (0: one request, now).
// Returns {verdict (1 allowed, 0 rate limited, 2 over quota), remaining, ms until a slot frees,
// quota remaining, tokens granted}. A refusal takes nothing, in either.
constexpr const char* kTakeScript = R"lua(
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local quota = tonumber(ARGV[4])
local want = tonumber(ARGV[6])
local hold = tonumber(ARGV[7])
local function weight(m) return tonumber(string.match(m, '^(%d+):') or '1') end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local used = 0
if quota > 0 then used = tonumber(redis.call('GET', KEYS[2]) or '0') end
local count = redis.call('GET', KEYS[3])
if count and redis.call('EXISTS', KEYS[1]) == 1 then
  count = tonumber(count)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
  for _, m in ipairs(gone) do count = count - weight(m) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) end
else
  -- No sum (a log written before sums were kept), or no log (none yet, or deleted to reset
  -- the caller): count what is left.
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  count = 0
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do count = count + weight(m) end
end
local reset = window
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
if quota > 0 and used >= quota then return {2, limit - count, reset, 0, 0} end
local grant = math.min(want, limit - count)
if quota > 0 then grant = math.min(grant, quota - used) end
if grant <= 0 then return {0, 0, reset, quota - used, 0} end
local member = ARGV[3]
if hold > 0 then member = grant .. ':' .. member end
-- The log lives as long as its latest entry counts (a lease's may outlast a later request's).
local keep = math.max(window + hold, redis.call('PTTL', KEYS[1]))
redis.call('ZADD', KEYS[1], now + hold, member)
count = count + grant
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('SET', KEYS[3], count, 'PX', keep)
if quota > 0 then
  used = redis.call('INCRBY', KEYS[2], grant)
  if used == grant then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
end
return {1, limit - count, reset, quota - used, grant}
)lua";

// A lease's unspent tokens back: KEYS as above, ARGV = the lease's member ("n:<id>"), unused,
// window_ms. A lease already out of the window gives nothing back: the next take subtracts its
// whole weight as it trims it. Returns how many went back.
constexpr const char* kGiveBackScript = R"lua(
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) <= now - tonumber(ARGV[3]) then return 0 end
local n, id = string.match(ARGV[1], '^(%d+):(.*)$')
if not n then return 0 end
n = tonumber(n)
local back = math.min(tonumber(ARGV[2]), n)
if back <= 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if n > back then redis.call('ZADD', KEYS[1], score, (n - back) .. ':' .. id) end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('DECRBY', KEYS[3], back) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DECRBY', KEYS[2], back) end
return back
)lua";

// A lease whose grant never came back (the call timed out, the connection went) is taken back
// whole, found by its id: KEYS as above, ARGV = id, window_ms. Nothing of it was spent. Returns
// how many went back (0: it was never granted, or has left the window).
constexpr const char* kCancelScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cursor = '0'
repeat
  local r = redis.call('ZSCAN', KEYS[1], cursor, 'MATCH', '*:' .. ARGV[1], 'COUNT', 200)
  cursor = r[1]
  for i = 1, #r[2], 2 do
    local member, score = r[2][i], tonumber(r[2][i + 1])
    local n = tonumber(string.match(member, '^(%d+):'))
    if n == nil or score <= now - tonumber(ARGV[2]) then return 0 end
    redis.call('ZREM', KEYS[1], member)
    if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('DECRBY', KEYS[3], n) end
    if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DECRBY', KEYS[2], n) end
    return n
  end
until cursor == '0'
return 0
)lua";

constexpr long long kDay = 86'400;
}  // namespace

RedisRateLimiter::RedisRateLimiter(std::vector<suite::redis::Client*> per_loop, bool fail_open,
                                   const suite::core::Clock& clock)
    : redis_(std::move(per_loop)), fail_open_(fail_open), clock_(clock), take_(kTakeScript), give_back_(kGiveBackScript), cancel_(kCancelScript) {}

std::string RateBucket(const suite::security::Identity& id, std::string_view client_ip) {
  if (!id.api_key_id.empty()) return "{key:" + id.api_key_id + "}";
  if (id.method != "none" && !id.method.empty()) return "{user:" + id.subject + "}";
  return "{ip:" + std::string(client_ip) + "}";
}

std::string RedisRateLimiter::WindowKey(std::string_view bucket) { return "rl:" + std::string(bucket); }
std::string RedisRateLimiter::SumKey(std::string_view bucket) { return "rl:" + std::string(bucket) + ":n"; }

std::string RedisRateLimiter::QuotaKey(std::string_view bucket, const suite::core::Clock& clock) {
  const auto day = std::chrono::floor<std::chrono::days>(clock.Now()).time_since_epoch().count();
  return "q:" + std::string(bucket) + ":" + std::to_string(day);
}

long long RedisRateLimiter::SecondsToMidnight(const suite::core::Clock& clock) {
  const auto s = std::chrono::floor<std::chrono::seconds>(clock.Now()).time_since_epoch().count();
  return kDay - ((s % kDay) + kDay) % kDay;
}

Task<Decision> RedisRateLimiter::Check(LimitRequest r) {
  Grant g = co_await Take(std::move(r), 1, std::chrono::milliseconds(0));
  co_return g.decision;
}

Task<Grant> RedisRateLimiter::Take(LimitRequest r, int tokens, std::chrono::milliseconds hold) {
  const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.period).count();
  const long long to_midnight = SecondsToMidnight(clock_);
  Grant grant;
  grant.id = suite::core::NewUuid();
  grant.quota_key = QuotaKey(r.bucket, clock_);
  grant.window = std::chrono::milliseconds(window_ms);
  std::vector<std::string> keys = {WindowKey(r.bucket), grant.quota_key, SumKey(r.bucket)};
  // The day's count outlives its day by an hour: replicas whose clocks differ a little still
  // find it.
  std::vector<std::string> args = {std::to_string(r.limit), std::to_string(window_ms), grant.id,
                                   std::to_string(r.daily_quota), std::to_string(to_midnight + 3600),
                                   std::to_string(std::max(1, tokens)), std::to_string(hold.count())};
  calls_.fetch_add(1, std::memory_order_relaxed);
  // The loop's own connection: the reply resumes this request without a hop.
  const suite::redis::Reply reply = co_await suite::http::ForThisLoop(redis_)->Run(take_, std::move(keys), std::move(args));
  grant.decision = Read(reply, r.limit, r.daily_quota, r.period, to_midnight);
  co_return grant;
}

// Outside the coroutine: a Redis answer read into a decision.
Decision RedisRateLimiter::Read(const suite::redis::Reply& reply, int limit, long long quota, std::chrono::seconds period,
                                long long to_midnight) const {
  Decision d;
  d.limit = limit;
  d.quota = quota;
  d.quota_reset_seconds = to_midnight;
  if (reply.type != suite::redis::Reply::Type::kArray || reply.elements.size() != 5) {
    d.degraded = true;
    d.allowed = fail_open_;
    d.remaining = fail_open_ ? limit : 0;
    d.quota_remaining = fail_open_ ? quota : 0;
    d.reset_seconds = period.count();
    return d;
  }
  const auto verdict = reply.elements[0].integer;
  d.allowed = verdict == 1;
  d.quota_exceeded = verdict == 2;
  d.remaining = static_cast<int>(std::max<long long>(0, reply.elements[1].integer));
  d.reset_seconds = std::max<long long>(1, (reply.elements[2].integer + 999) / 1000);
  d.quota_remaining = std::max<long long>(0, reply.elements[3].integer);
  d.granted = static_cast<int>(std::max<long long>(0, reply.elements[4].integer));
  return d;
}

void RedisRateLimiter::Cancel(std::string_view bucket, const Grant& grant, std::function<void(long long)> done) {
  Return(cancel_, bucket, grant, {grant.id, std::to_string(grant.window.count())}, std::move(done));
}

void RedisRateLimiter::GiveBack(std::string_view bucket, const Grant& grant, int unused,
                                std::function<void(long long)> done) {
  Return(give_back_, bucket, grant,
         {std::to_string(grant.decision.granted) + ":" + grant.id, std::to_string(unused),
          std::to_string(grant.window.count())},
         std::move(done));
}

// A script that gives a lease's tokens back, on the grant's keys; `done` gets how many.
void RedisRateLimiter::Return(const suite::redis::Script& script, std::string_view bucket, const Grant& grant,
                              std::vector<std::string> args, std::function<void(long long)> done) {
  calls_.fetch_add(1, std::memory_order_relaxed);
  suite::http::ForThisLoop(redis_)->Eval(script, {WindowKey(bucket), grant.quota_key, SumKey(bucket)}, std::move(args),
                                         [done = std::move(done)](suite::redis::Reply reply) {
                                           if (done) done(reply.type == suite::redis::Reply::Type::kInteger ? reply.integer : 0);
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
  // draft-ietf-httpapi-ratelimit-headers: the policies, then the one closest to refusing. Each
  // value written into one string reserved ahead (no temporaries: this runs on every request).
  std::string policy;
  policy.reserve(64);
  policy.append("\"window\";q=").append(std::to_string(d.limit)).append(";w=").append(std::to_string(period.count()));
  if (d.quota > 0) policy.append(", \"day\";q=").append(std::to_string(d.quota)).append(";w=86400");
  out.emplace_back("ratelimit-policy", std::move(policy));
  const long long quota_left = d.allowed ? d.quota_remaining : (d.quota_exceeded ? 0 : d.quota_remaining);
  std::string closest;
  closest.reserve(48);
  if (d.quota > 0 && quota_left < remaining)
    closest.append("\"day\";r=").append(std::to_string(quota_left)).append(";t=").append(std::to_string(d.quota_reset_seconds));
  else
    closest.append("\"window\";r=").append(std::to_string(remaining)).append(";t=").append(std::to_string(d.reset_seconds));
  out.emplace_back("ratelimit", std::move(closest));
}

Task<FilterStatus> RateLimitFilter::OnRequest(RequestContext& ctx) {
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
