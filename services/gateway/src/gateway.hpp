#pragma once
/// The gateway: what it owns (keys, upstream pools, the rate-limit backend) and the chain of
/// filters every request runs through (gateway.cpp names the order, with its reasons).
/// Request ids, security headers, timing headers, logs and metrics are the server's job
/// (suite::http::Server), so that its own refusals (400, 413, 431) carry them too.
#include <memory>
#include <vector>

#include "chain.hpp"
#include "config.hpp"
#include "fallback_limiter.hpp"
#include "jwks.hpp"
#include "proxy.hpp"
#include "rate_limiter.hpp"
#include "routes.hpp"
#include "user_keys.hpp"
#include "suite/http/client.hpp"
#include "suite/http/router.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

/// The routes of the suite: seed paths to the services that own them, and seed 001's gateway
/// endpoints (answered here, upstream nullptr).
std::vector<Route> SuiteRoutes(suite::http::Upstream& auth_user, suite::http::Upstream& processing,
                               suite::http::Upstream& audit);

class Gateway {
 public:
  Gateway(const Config& config, boost::asio::io_context& io, const suite::http::Router& local,
          suite::redis::Client& redis, suite::obs::Metrics& metrics);
  ~Gateway();
  /// For suite::http::Server: runs each request head through the chain.
  suite::http::HeadHandler Handler() const;

 private:
  const Config& config_;
  suite::security::Hs256 jwt_;
  suite::security::IdentitySigner signer_;
  RedisRateLimiter redis_limiter_;
  ResilientRateLimiter limiter_;  ///< Redis behind a breaker, this replica's share without it
  suite::http::UpstreamPool auth_user_, processing_, audit_;
  std::shared_ptr<JwksCache> jwks_;  ///< after auth_user_: its fetches go there
  AuthUserKeyVerifier key_verifier_;
  UserKeys user_keys_;
  suite::redis::Client revocations_;  ///< subscribed to api-keys.revoked (its own connection)
  Proxy proxy_;
  Chain chain_;
};

}  // namespace gateway
