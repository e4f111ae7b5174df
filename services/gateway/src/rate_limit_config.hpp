#pragma once
/// The rate limit's configuration: limits and quotas by tier, and what happens without Redis.
#include <chrono>
#include <cstddef>
#include <string_view>

namespace gateway {

/// The tier of an operator's key meant for load tests (API_KEYS only, never an end user's):
/// no rate limit, no quota (no Redis on its path); its body cap is enterprise's.
inline constexpr std::string_view kUnlimitedTier = "unlimited";

struct RateLimitConfig {
  bool enabled = true;
  /// Seed 003's tiers (requests per period): free 10, pro 60, enterprise 300; callers without
  /// an identity (by client address) get seed 001's 100. RATE_LIMIT_REQUESTS, when set, is
  /// seed 001's single limit and applies to every tier.
  int anonymous = 100, free = 10, pro = 60, enterprise = 300;
  bool single = false;  ///< RATE_LIMIT_REQUESTS was given
  std::chrono::seconds period{60};
  /// Seed 003's daily quotas (requests per UTC day); 0: none. Off with seed 001's single limit.
  long long quota_free = 500, quota_pro = 10'000, quota_enterprise = 100'000;
  bool quotas = true;   ///< DAILY_QUOTA_ENABLED
  int LimitFor(std::string_view tier) const {
    if (tier == "enterprise") return enterprise;
    if (tier == "pro") return pro;
    if (tier == "free") return free;
    return anonymous;
  }
  long long QuotaFor(std::string_view tier) const {
    if (!quotas) return 0;
    if (tier == "enterprise") return quota_enterprise;
    if (tier == "pro") return quota_pro;
    if (tier == "free") return quota_free;
    return 0;
  }
};

enum class FailureMode { kLocal, kOpen, kClosed };

struct FallbackOptions {
  FailureMode mode = FailureMode::kLocal;
  int replicas = 1;               ///< GATEWAY_REPLICAS: the local limit is limit / replicas
  int failures = 3;               ///< consecutive failures that open the breaker
  std::chrono::milliseconds open_for{2000};
  std::size_t max_buckets = 100'000;  ///< the local table's bound (a million source addresses)
};

}  // namespace gateway
