#include "gateway.hpp"

#include "authn.hpp"
#include "body_limit.hpp"
#include "client_address.hpp"
#include "cors.hpp"
#include "trusted_hosts.hpp"
#include "suite/security/api_key.hpp"

namespace gateway {

std::vector<Route> SuiteRoutes(suite::http::Upstream& auth_user, suite::http::Upstream& processing,
                               suite::http::Upstream& audit) {
  constexpr const char* kRest = "GET, POST, PUT, PATCH, DELETE";
  using P = AuthPolicy;
  std::vector<Route> r = {
      // Probes: open and never limited (seed 001).
      {.prefix = "/health", .methods = "GET", .auth = P::kNone, .rate_limited = false},
      {.prefix = "/ready", .methods = "GET", .auth = P::kNone, .rate_limited = false},
      {.prefix = "/process", .methods = "POST", .auth = P::kApiKeyAndJwt, .upstream = &processing},
      {.prefix = "/api/test", .methods = "POST", .auth = P::kAny, .upstream = &processing},
      {.prefix = "/jobs/", .methods = kRest, .auth = P::kAny, .upstream = &processing},
      {.prefix = "/auth/register", .methods = "POST", .auth = P::kNone, .upstream = &auth_user},
      {.prefix = "/auth/login", .methods = "POST", .auth = P::kNone, .upstream = &auth_user},
      // The refresh token is the credential: the access token may have expired.
      {.prefix = "/auth/refresh", .methods = "POST", .auth = P::kNone, .upstream = &auth_user},
      {.prefix = "/auth/logout", .methods = "POST", .auth = P::kNone, .upstream = &auth_user},
      {.prefix = "/.well-known/jwks.json", .methods = "GET", .auth = P::kNone, .upstream = &auth_user},
      // E-mail links: the token in the mail is the credential.
      {.prefix = "/auth/verify-email", .methods = "GET, POST", .auth = P::kNone, .upstream = &auth_user},
      {.prefix = "/auth/resend-verification", .methods = "POST", .auth = P::kNone, .upstream = &auth_user},
      {.prefix = "/auth/forgot-password", .methods = "POST", .auth = P::kNone, .upstream = &auth_user},
      {.prefix = "/auth/reset-password", .methods = "POST", .auth = P::kNone, .upstream = &auth_user},
      {.prefix = "/auth/", .methods = kRest, .auth = P::kAny, .upstream = &auth_user},
      {.prefix = "/users/", .methods = kRest, .auth = P::kAny, .upstream = &auth_user},
      {.prefix = "/api-keys/", .methods = kRest, .auth = P::kAny, .upstream = &auth_user},
      {.prefix = "/audit/", .methods = "GET", .auth = P::kAny, .upstream = &audit},
      {.prefix = "/security/", .methods = "GET", .auth = P::kAny, .upstream = &audit},
      // Seed 001's protected endpoints, answered by the gateway itself.
      {.prefix = "/health/detailed", .methods = "GET", .auth = P::kAny},
      {.prefix = "/protected", .methods = "GET", .auth = P::kAny},
      {.prefix = "/api/status", .methods = "GET", .auth = P::kAny},
  };
  return r;
}

Gateway::Gateway(const Config& config, boost::asio::io_context& io, const suite::http::Router& local,
                 suite::redis::Client& redis, suite::obs::Metrics& metrics)
    : config_(config),
      jwt_(config.jwt_secret),
      signer_(config.internal_secret, config.identity_ttl),
      redis_limiter_(redis, false),
      limiter_(redis_limiter_, config.rate_limit_fallback, metrics),
      auth_user_(io, config.auth_user),
      processing_(io, config.processing),
      audit_(io, config.audit),
      jwks_(std::make_shared<JwksCache>(io, auth_user_, signer_, config.jwks)),
      key_verifier_(auth_user_, signer_),
      user_keys_(key_verifier_, config.user_keys),
      revocations_(io, config.redis, "api-key-revocations"),
      proxy_(signer_, local, metrics),
      chain_(proxy_, config.server.body_limit) {
  jwks_->Start();
  revocations_.Subscribe({suite::security::kApiKeyRevocations},
                         [this](const std::string&, const std::string& payload) { user_keys_.Revoked(payload); },
                         [this](bool live) { user_keys_.SetLive(live); });
  revocations_.Start();
  // The order, and why. Adding a filter is one line here.
  // Who the client is comes first: every later decision (and the log) uses that address.
  if (!config.trusted_proxies.empty()) chain_.Add<ClientAddressFilter>(config.trusted_proxies);
  // Cheap refusals first, before any crypto or Redis: a forged Host, then CORS preflights
  // (a browser sends no credentials on one, so they are answered before any are asked for).
  if (!config.trusted_hosts.any()) chain_.Add<TrustedHostFilter>(config.trusted_hosts);
  if (config.cors.enabled()) chain_.Add<CorsFilter>(config.cors);
  // The route decides the auth policy, the limits and the upstream (and 405 / a bad query).
  chain_.Add<RouteFilter>(SuiteRoutes(auth_user_, processing_, audit_));
  // Who is calling decides the tier: the body cap and the bucket come after it.
  chain_.Add<AuthnFilter>(AuthnFilter::Config{config.api_keys, jwt_, config.jwt, config.es256}, *jwks_, &user_keys_);
  // A declared body past the cap is refused before Redis is asked, and before it is read.
  chain_.Add<BodyLimitFilter>(config.body_limits);
  chain_.Add<RateLimitFilter>(config.rate_limit, limiter_, metrics);
}

Gateway::~Gateway() {
  revocations_.Stop();
  jwks_->Stop();
}

suite::http::HeadHandler Gateway::Handler() const {
  return [this](suite::http::RequestPtr req, suite::http::BodyReader& body) { return chain_.Run(std::move(req), body); };
}

}  // namespace gateway
