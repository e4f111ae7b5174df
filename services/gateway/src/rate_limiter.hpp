#pragma once
/// A sliding-window-log rate limit kept in Redis, decided by one server-side script per request
/// (atomic across gateway replicas, one round trip). Exact: no burst of twice the limit at a
/// window edge as fixed windows allow. Time comes from Redis (one clock for all replicas).
#include <functional>
#include <string>

#include "config.hpp"
#include "suite/redis/client.hpp"

namespace gateway {

struct Decision {
  bool allowed = true;
  int limit = 0;
  int remaining = 0;
  long long reset_seconds = 0;  ///< until a slot frees (Retry-After when refused)
  bool degraded = false;        ///< Redis failed; decided by the fail-open flag
};

class RateLimiter {
 public:
  RateLimiter(suite::redis::Client& redis, RateLimitConfig config);
  /// At most `limit` requests of `subject` per period. `cb` runs on the Redis client's strand.
  void Check(const std::string& subject, int limit, std::function<void(Decision)> cb);
  /// The Redis key for a subject (one place, so that tests can assert it).
  static std::string Key(const std::string& subject);

 private:
  suite::redis::Client& redis_;
  RateLimitConfig config_;
  suite::redis::Script script_;
};

}  // namespace gateway
