#pragma once
/// The gateway: what it owns (keys, upstream pools, the rate-limit backend) and the chain of
/// filters every request runs through (gateway.cpp names the order, with its reasons).
/// Request ids, security headers, timing headers, logs and metrics are the server's job
/// (suite::http::Server), so that its own refusals (400, 413, 431) carry them too.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "access_events.hpp"
#include "chain.hpp"
#include "config.hpp"
#include "fallback_limiter.hpp"
#include "jwks.hpp"
#include "proxy.hpp"
#include "rate_lease.hpp"
#include "rate_limiter.hpp"
#include "routes.hpp"
#include "user_keys.hpp"
#include "suite/http/client.hpp"
#include "suite/service/worker_pool.hpp"
#include "suite/http/router.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

/// The routes of the configuration, bound to the upstream pools by name.
std::vector<Route> BuildRoutes(const std::vector<RouteSpec>& specs,
                               const std::map<std::string, std::unique_ptr<suite::http::Upstream>>& pools);

class Gateway {
 public:
  /// `redis`: the rate limit's connections, one per loop of `loops` (loop 0 also runs the
  /// control plane: key sets, revocations, access events). `workers`: where blocking work goes
  /// (the access events' spool msync).
  Gateway(std::shared_ptr<const Config> config, const suite::http::Loops& loops, const suite::http::Router& local,
          std::vector<suite::redis::Client*> redis, suite::obs::Metrics& metrics, suite::http::Offload& workers);
  ~Gateway();
  /// For suite::http::Server: runs each request head through the current chain.
  suite::http::HeadHandler Handler() const;
  /// Builds the chain of `config` and puts it in place; requests in flight finish on the old one.
  /// Routes, tiers, limits, CORS, hosts and proxies change; upstream addresses, the failure mode
  /// and secrets take effect at the next start (said in the log when they differ).
  void Reload(std::shared_ptr<const Config> config);

 private:
  std::shared_ptr<const Chain> Build(std::shared_ptr<const Config> config);
  std::shared_ptr<const Config> config_;  ///< as started
  suite::obs::Metrics& metrics_;
  suite::security::Hs256 jwt_;
  suite::security::IdentitySigner signer_;
  RedisRateLimiter redis_limiter_;
  LeasedRateLimiter leased_limiter_;  ///< large limits spent from leases, small ones a trip each
  ResilientRateLimiter limiter_;  ///< Redis behind a breaker, this replica's share without it
  std::map<std::string, std::unique_ptr<suite::http::Upstream>> pools_;
  suite::http::Upstream& auth_user_;
  std::shared_ptr<JwksCache> jwks_;  ///< after the pools: its fetches go to auth-user
  // The issuers configured beside auth-user, as started: their keys, fetched on a thread of
  // their own (blocking libcurl), and what the authentication filter is given of them.
  IssuerSet issuers_;
  std::unique_ptr<suite::service::WorkerPool> issuer_fetches_;
  std::vector<std::shared_ptr<JwksCache>> issuer_keys_;
  std::unique_ptr<ForeignIssuers> foreign_;
  AuthUserKeyVerifier key_verifier_;
  UserKeys user_keys_;
  suite::redis::Client revocations_;  ///< subscribed to api-keys.revoked (its own connection)
  Proxy proxy_;
  std::unique_ptr<suite::redis::Client> events_redis_;  ///< access events: a connection of their own
  std::unique_ptr<suite::audit::Publisher> events_;
  std::atomic<std::shared_ptr<const Chain>> chain_;
};

}  // namespace gateway
