#pragma once
/// Rate limits and daily quotas: one bucket per caller (API key, else user, else client
/// address), a limit by tier or by route, a quota by tier, decided by a backend. In production
/// the backend is one server-side Redis script per request: a sliding-window log (no burst of
/// twice the limit at a window edge, as fixed windows allow) and the day's count, in one round
/// trip, atomic across gateway replicas, timed by Redis's clock.
#include <prometheus/counter.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rate_limit_config.hpp"
#include "context.hpp"
#include "suite/core/clock.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/redis/client.hpp"

namespace gateway {

struct LimitRequest {
  std::string bucket;             ///< RateBucket(): "{key:Ent}"
  int limit = 0;                  ///< requests per period
  std::chrono::seconds period{60};
  long long daily_quota = 0;      ///< requests per UTC day; 0: none
};

struct Decision {
  bool allowed = true;
  int limit = 0;
  int remaining = 0;
  long long reset_seconds = 0;    ///< until a slot frees (Retry-After when refused)
  bool degraded = false;          ///< Redis did not decide; the failure mode did
  bool local = false;             ///< decided by this replica's own limiter (its share)
  bool quota_exceeded = false;    ///< refused by the day's quota, not the rate
  long long quota = 0;            ///< the day's quota (0: none)
  long long quota_remaining = 0;
  long long quota_reset_seconds = 0;  ///< until midnight UTC
  int granted = 0;                ///< tokens Redis granted (a lease may get several)
};

/// Tokens Redis granted to this replica: one request's, or a lease of several spent locally.
struct Grant {
  Decision decision;              ///< decision.granted tokens, when allowed
  std::string id;                 ///< its member in the window's log is "<granted>:<id>"
  std::string quota_key;          ///< the day's count it was charged to
  std::chrono::milliseconds window{0};  ///< the period it was counted in
};

/// Where decisions are made: Redis in production, a fake in tests.
class RateLimitBackend {
 public:
  virtual ~RateLimitBackend() = default;
  /// Resumes on the caller's executor.
  virtual suite::http::Task<Decision> Check(LimitRequest request) = 0;
};

class RedisRateLimiter final : public RateLimitBackend {
 public:
  /// `fail_open`: when Redis does not answer, let requests through (counted as degraded).
  RedisRateLimiter(suite::redis::Client& redis, bool fail_open, const suite::core::Clock& clock = suite::core::Clock::System())
      : RedisRateLimiter(std::vector<suite::redis::Client*>{&redis}, fail_open, clock) {}
  /// One connection per event loop: a request's script goes out on its own loop's connection,
  /// pipelined with the other requests of that loop.
  RedisRateLimiter(std::vector<suite::redis::Client*> per_loop, bool fail_open,
                   const suite::core::Clock& clock = suite::core::Clock::System());
  /// One request: a trip to Redis.
  suite::http::Task<Decision> Check(LimitRequest request) override;
  /// Up to `tokens` for this replica to spend within `hold` (0: one request, now), each still
  /// counted in the window `hold` later than a request at the grant would be. Fewer when fewer
  /// are left; a refusal grants none.
  suite::http::Task<Grant> Take(LimitRequest request, int tokens, std::chrono::milliseconds hold);
  /// Gives `unused` tokens of a lease back (the window and the day's count); `done(n)` runs on
  /// the Redis connection's executor with how many went back (0 when the lease had left the
  /// window, or on a failure). Call on the loop that took it.
  void GiveBack(std::string_view bucket, const Grant& grant, int unused, std::function<void(long long)> done = {});
  /// Takes back the whole of a lease whose answer never came (Take failed: timed out, or the
  /// connection went), should Redis have granted it: found by its id, nothing of it was spent.
  void Cancel(std::string_view bucket, const Grant& grant, std::function<void(long long)> done = {});
  /// The keys, spelled in one place: the window's log and the day's count share the caller's
  /// {hash tag}, so one script touching both stays in one Redis Cluster slot.
  static std::string WindowKey(std::string_view bucket);
  static std::string SumKey(std::string_view bucket);  ///< the window's count of requests
  static std::string QuotaKey(std::string_view bucket, const suite::core::Clock& clock);
  static long long SecondsToMidnight(const suite::core::Clock& clock);
  /// Scripts sent to Redis so far (takes and give-backs): the cost leases save.
  std::uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }

 private:
  std::vector<suite::redis::Client*> redis_;
  bool fail_open_;
  Decision Read(const suite::redis::Reply& reply, int limit, long long quota, std::chrono::seconds period,
               long long to_midnight) const;
  void Return(const suite::redis::Script& script, std::string_view bucket, const Grant& grant,
              std::vector<std::string> args, std::function<void(long long)> done);
  const suite::core::Clock& clock_;
  suite::redis::Script take_, give_back_, cancel_;
  std::atomic<std::uint64_t> calls_{0};
};

/// A caller's bucket: "{key:<api key name>}", else "{user:<subject>}", else "{ip:<address>}".
std::string RateBucket(const suite::security::Identity& id, std::string_view client_ip);

struct RateLimitStats {
  prometheus::Counter &allowed, &limited, &quota_exceeded, &failed_open, &failed_closed, &local_allowed, &local_limited;
  static RateLimitStats Make(suite::obs::Metrics& metrics);  ///< gateway_ratelimit_decisions_total{decision}
  void Count(const Decision& d);
};

/// 429 past the limit or the day's quota. Every answer that follows carries seed 003's
/// X-RateLimit-Limit/Remaining/Reset and the IETF draft's RateLimit-Policy and RateLimit.
class RateLimitFilter final : public AsyncFilter {
 public:
  RateLimitFilter(const RateLimitConfig& config, RateLimitBackend& backend, suite::obs::Metrics& metrics)
      : config_(config), backend_(backend), stats_(RateLimitStats::Make(metrics)) {}
  suite::http::Task<FilterStatus> OnRequest(RequestContext& ctx) override;

 private:
  const RateLimitConfig config_;
  RateLimitBackend& backend_;
  RateLimitStats stats_;
};

/// The headers of a decision (a pure function, for the tests too).
void AddRateLimitHeaders(suite::http::Headers& out, const Decision& d, std::chrono::seconds period);

}  // namespace gateway
