#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api_keys.hpp"
#include "body_limit.hpp"
#include "client_address.hpp"
#include "cors.hpp"
#include "jwks.hpp"
#include "trusted_hosts.hpp"
#include "suite/core/config.hpp"
#include "suite/http/client.hpp"
#include "suite/http/server.hpp"
#include "suite/security/jwt.hpp"
#include "suite/redis/client.hpp"

namespace gateway {

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
  bool fail_open = true;  ///< when Redis is unavailable: let requests through (counted)
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

struct Config {
  std::string bind = "0.0.0.0";
  std::uint16_t https_port = 8443;
  std::uint16_t http_port = 0;  ///< 0: no plain listener
  std::uint16_t metrics_port = 9102;  ///< /metrics, /health, /ready: kept off the public listeners
  std::string tls_cert_file, tls_key_file;
  ApiKeyStore api_keys;
  std::string jwt_secret, internal_secret;
  suite::redis::Options redis;
  suite::http::UpstreamOptions auth_user, processing, audit;
  RateLimitConfig rate_limit;
  BodyLimits body_limits;                        ///< by tier; BODY_LIMIT_BYTES, when set, for all
  suite::http::ServerOptions server;             ///< limits, timeouts, connection caps
  suite::security::JwtOptions jwt;               ///< HS256: max_lifetime JWT_MAX_LIFETIME_SECONDS
  suite::security::JwtOptions es256;             ///< auth-user's tokens: JWT_ISSUER, JWT_AUDIENCE
  JwksOptions jwks;                              ///< JWKS_REFRESH_SECONDS
  TrustedHosts trusted_hosts;                    ///< TRUSTED_HOSTS (default: any)
  TrustedProxies trusted_proxies;                ///< TRUSTED_PROXIES (default: none)
  Cors cors;                                     ///< CORS_ORIGINS (default: none)
  std::chrono::seconds identity_ttl{30};         ///< the upstream timeout, rounded up
  std::chrono::milliseconds drain{10'000};

  static Config FromEnv(suite::core::Env& env);
};

}  // namespace gateway
