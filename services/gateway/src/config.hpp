#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api_keys.hpp"
#include "suite/audit/publisher.hpp"
#include "body_limit.hpp"
#include "client_address.hpp"
#include "config_file.hpp"
#include "rate_lease.hpp"
#include "rate_limit_config.hpp"
#include "cors.hpp"
#include "jwks.hpp"
#include "user_keys.hpp"
#include "trusted_hosts.hpp"
#include "suite/core/config.hpp"
#include "suite/http/client.hpp"
#include "suite/http/server.hpp"
#include "suite/service/host.hpp"
#include "suite/security/jwt.hpp"
#include "suite/redis/client.hpp"

namespace gateway {

struct Config {
  std::string bind = "0.0.0.0";
  std::uint16_t https_port = 8443;
  std::uint16_t http_port = 0;  ///< 0: no plain listener
  std::uint16_t metrics_port = 9102;  ///< /metrics, /health, /ready: kept off the public listeners
  std::string tls_cert_file, tls_key_file;
  ApiKeyStore api_keys;
  std::string jwt_secret, internal_secret;
  suite::redis::Options redis;
  /// By name ("auth-user", "processing", "audit", and whatever the file adds).
  std::vector<std::pair<std::string, suite::http::UpstreamOptions>> upstreams;
  std::vector<RouteSpec> routes;                 ///< in matching order
  std::string config_file;                       ///< GATEWAY_CONFIG (empty: the built-in routes)
  RateLimitConfig rate_limit;
  FallbackOptions rate_limit_fallback;           ///< RATE_LIMIT_FAILURE_MODE, GATEWAY_REPLICAS
  LeaseOptions rate_limit_lease;                 ///< RATE_LIMIT_LEASE_MIN, RATE_LIMIT_LEASE_MS
  BodyLimits body_limits;                        ///< by tier; BODY_LIMIT_BYTES, when set, for all
  suite::http::ServerOptions server;             ///< limits, timeouts, connection caps
  suite::security::JwtOptions jwt;               ///< HS256: max_lifetime JWT_MAX_LIFETIME_SECONDS
  suite::security::JwtOptions es256;             ///< auth-user's tokens: JWT_ISSUER, JWT_AUDIENCE
  JwksOptions jwks;                              ///< JWKS_REFRESH_SECONDS
  UserKeyOptions user_keys;                      ///< API_KEY_CACHE_SECONDS
  TrustedHosts trusted_hosts;                    ///< TRUSTED_HOSTS (default: any)
  TrustedProxies trusted_proxies;                ///< TRUSTED_PROXIES (default: none)
  Cors cors;                                     ///< CORS_ORIGINS (default: none)
  std::vector<IssuerSpec> issuers;               ///< the file's "issuers": providers beside auth-user
  std::chrono::seconds identity_ttl{30};         ///< the upstream timeout, rounded up
  std::chrono::milliseconds drain{10'000};
  std::size_t loops = 1;  ///< EVENT_LOOPS: one acceptor, upstream pools and Redis connection each
  bool access_events = true;                     ///< ACCESS_EVENTS: every answer to the audit stream
  suite::audit::PublisherOptions access_events_spool;  ///< AUDIT_SPOOL_DIR, AUDIT_SPOOL_BYTES, AUDIT_SPOOL_SYNC_MS
  std::string docs_dir;                          ///< DOCS_DIR: GET /docs and /openapi.json (empty: 404)

  /// The file (GATEWAY_CONFIG, else the built-in default), then the environment: secrets,
  /// ports, TLS, and seed 001's variables as overrides of the file.
  static Config FromEnv(suite::core::Env& env);
  /// FromEnv again (SIGHUP); nullptr, with every error logged, when it does not validate.
  static std::shared_ptr<const Config> Reread();
  const suite::http::UpstreamOptions* Upstream(std::string_view name) const;
  /// The public listeners: TLS, and plain HTTP when HTTP_PORT is set.
  std::vector<suite::http::Listener> Listeners() const;
  /// The process frame: its name, one worker for /ready, the drain.
  suite::service::HostConfig Host() const;
};

}  // namespace gateway
