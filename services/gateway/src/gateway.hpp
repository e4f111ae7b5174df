#pragma once
/// The edge pipeline, in this order (each step may answer and stop):
///   0. trusted hosts (TRUSTED_HOSTS): another Host header is a 400; CORS (CORS_ORIGINS):
///      a preflight is answered here, an allowed origin's answer gets its headers
///   1. local routes (/health, /ready, /metrics): answered here, no credentials, no limit
///   2. route lookup by path prefix: 404 in the envelope for anything else; a method the
///      route does not serve: 405 with Allow, before any credential check or forwarding;
///      a malformed query string: 400 (what is not decoded cannot be checked or stripped)
///   3. authentication by the route's policy (API key / JWT: HS256 with the shared secret, or
///      ES256 with auth-user's published keys): 401 + WWW-Authenticate
///   4. rate limit per identity in Redis: 429 + Retry-After and X-RateLimit-* headers
///   5. proxy to the service over pooled keep-alive connections with the signed identity:
///      503 when it is down, 502 when it fails, 504 when it is too slow
/// Request ids, security headers, logs and metrics are the server's job (suite::http::Server).
#include <memory>
#include <string>
#include <vector>

#include "authn.hpp"
#include "config.hpp"
#include "jwks.hpp"
#include "rate_limiter.hpp"
#include "suite/http/client.hpp"
#include "suite/http/router.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

class Gateway {
 public:
  Gateway(const Config& config, boost::asio::io_context& io, suite::http::Router& local,
          suite::redis::Client& redis, suite::obs::Metrics& metrics);
  ~Gateway();
  void Handle(suite::http::RequestPtr req, suite::http::Reply reply);

 private:
  struct Route {
    std::string prefix;  ///< exact path, or prefix when it ends with '/'
    std::string methods;  ///< the Allow list ("GET, POST"); HEAD is allowed wherever GET is
    Policy policy;
    suite::http::UpstreamPool* upstream;
    bool Allows(std::string_view method) const;
  };
  const Route* Find(const std::string& path) const;
  /// Steps 3-5. A token signed with a key we do not hold yet: the keys are fetched again
  /// (rate-limited), then the request is authenticated once more (`retried`).
  void Admit(suite::http::RequestPtr req, suite::http::Reply reply, const Route& route, bool retried);
  void Forward(suite::http::RequestPtr req, suite::http::Reply reply, const Route& route,
               const suite::security::Identity& id, Decision decision);

  const Config& config_;
  suite::http::Router& local_;
  suite::security::Hs256 jwt_;
  suite::security::IdentitySigner signer_;
  RateLimiter limiter_;
  suite::http::UpstreamPool auth_user_, processing_, audit_;
  std::shared_ptr<JwksCache> jwks_;  ///< after auth_user_: its fetches go there
  std::vector<Route> routes_;
  prometheus::Family<prometheus::Counter>* decisions_;
  prometheus::Family<prometheus::Counter>* upstream_errors_;
};

}  // namespace gateway
