#pragma once
/// Rate limits: one bucket per caller (API key, else user, else client address), a limit by
/// tier or by route, decided by a backend. In production the backend is a sliding-window log in
/// Redis decided by one server-side script per request (atomic across gateway replicas, one
/// round trip, no burst of twice the limit at a window edge as fixed windows allow; time from
/// Redis, one clock for all replicas).
#include <prometheus/counter.h>

#include <chrono>
#include <string>

#include "config.hpp"
#include "context.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/redis/client.hpp"

namespace gateway {

struct Decision {
  bool allowed = true;
  int limit = 0;
  int remaining = 0;
  long long reset_seconds = 0;  ///< until a slot frees (Retry-After when refused)
  bool degraded = false;        ///< the backend failed; decided by the failure mode
};

/// Where decisions are made: Redis in production, a fake in tests.
class RateLimitBackend {
 public:
  virtual ~RateLimitBackend() = default;
  /// At most `limit` requests per `period` for `key`. Resumes on the caller's executor.
  virtual suite::http::Task<Decision> Check(std::string key, int limit, std::chrono::seconds period) = 0;
};

class RedisRateLimiter final : public RateLimitBackend {
 public:
  /// `fail_open`: when Redis does not answer, let requests through (counted as degraded).
  RedisRateLimiter(suite::redis::Client& redis, bool fail_open);
  suite::http::Task<Decision> Check(std::string key, int limit, std::chrono::seconds period) override;

 private:
  suite::redis::Client& redis_;
  bool fail_open_;
  suite::redis::Script script_;
};

/// The one spelling of a caller's bucket (a {hash tag}: one Redis Cluster slot per caller).
std::string RateKey(const suite::security::Identity& id, std::string_view client_ip);

struct RateLimitStats {
  prometheus::Counter &allowed, &limited, &failed_open, &failed_closed;
  static RateLimitStats Make(suite::obs::Metrics& metrics);  ///< gateway_ratelimit_decisions_total{decision}
  void Count(const Decision& d);
};

/// 429 past the limit; X-RateLimit-Limit/Remaining/Reset on every answer that follows.
class RateLimitFilter final : public Filter {
 public:
  RateLimitFilter(const RateLimitConfig& config, RateLimitBackend& backend, suite::obs::Metrics& metrics)
      : config_(config), backend_(backend), stats_(RateLimitStats::Make(metrics)) {}
  bool awaits() const override { return true; }
  suite::http::Task<FilterStatus> OnRequestAsync(RequestContext& ctx) override;

 private:
  const RateLimitConfig config_;
  RateLimitBackend& backend_;
  RateLimitStats stats_;
};

}  // namespace gateway
