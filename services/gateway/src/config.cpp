#include "config.hpp"

namespace gateway {

namespace {
suite::http::UpstreamOptions Upstream(suite::core::Env& env, const char* name, const char* fallback,
                                      std::chrono::milliseconds timeout) {
  auto o = suite::http::ParseUpstreamUrl(env.Str(name, std::string(fallback)));
  if (!o) {
    env.Fail(name, "must look like http://host:port");
    return {};
  }
  o->request_timeout = timeout;
  return *o;
}
}  // namespace

Config Config::FromEnv(suite::core::Env& env) {
  Config c;
  c.bind = env.Str("BIND_ADDRESS", "0.0.0.0");
  c.https_port = env.Port("HTTPS_PORT", 8443);
  c.http_port = env.Port("HTTP_PORT", 0);
  c.metrics_port = env.Port("METRICS_PORT", 9102);
  c.tls_cert_file = env.Str("TLS_CERT_FILE");
  c.tls_key_file = env.Str("TLS_KEY_FILE");
  if (const auto raw = env.Secret("API_KEYS", 1); !raw.empty()) {
    std::string err;
    auto keys = ApiKeyStore::Parse(raw, err);
    if (!keys) env.Fail("API_KEYS", err);
    else c.api_keys = std::move(*keys);
  }
  c.jwt_secret = env.Secret("JWT_SECRET", 32);
  c.internal_secret = env.Secret("INTERNAL_TOKEN_SECRET", 32);
  if (!c.jwt_secret.empty() && c.jwt_secret == c.internal_secret)
    env.Fail("INTERNAL_TOKEN_SECRET", "must differ from JWT_SECRET");
  c.redis = suite::redis::OptionsFromEnv(env, "REDIS_URL");
  // A rate-limit decision waits this long for Redis, then the failure mode decides.
  c.redis.command_timeout = env.Millis("REDIS_TIMEOUT_MS", 50, 5, 10'000);
  const auto timeout = env.Millis("UPSTREAM_TIMEOUT_MS", 30'000, 100, 600'000);
  c.auth_user = Upstream(env, "AUTH_USER_URL", "http://127.0.0.1:8081", timeout);
  c.processing = Upstream(env, "PROCESSING_URL", "http://127.0.0.1:8082", timeout);
  c.audit = Upstream(env, "AUDIT_URL", "http://127.0.0.1:8083", timeout);
  c.rate_limit.enabled = env.Bool("RATE_LIMIT_ENABLED", true);
  if (!env.Str("RATE_LIMIT_REQUESTS", "").empty()) {
    const auto n = static_cast<int>(env.Int("RATE_LIMIT_REQUESTS", 100, 1, 1'000'000));
    auto& rl = c.rate_limit;
    rl.single = true;
    rl.anonymous = rl.free = rl.pro = rl.enterprise = n;
  }
  c.rate_limit.period = std::chrono::seconds(env.Int("RATE_LIMIT_PERIOD_SECONDS", 60, 1, 86'400));
  {
    const auto mode = env.Str("RATE_LIMIT_FAILURE_MODE", "local");
    auto& f = c.rate_limit_fallback;
    if (mode == "local") f.mode = FailureMode::kLocal;
    else if (mode == "open") f.mode = FailureMode::kOpen;
    else if (mode == "closed") f.mode = FailureMode::kClosed;
    else env.Fail("RATE_LIMIT_FAILURE_MODE", "must be local, open or closed");
    f.replicas = static_cast<int>(env.Int("GATEWAY_REPLICAS", 1, 1, 1000));
  }
  c.rate_limit.quotas = env.Bool("DAILY_QUOTA_ENABLED", true) && !c.rate_limit.single;
  c.server = suite::http::ServerOptionsFromEnv(env);
  // Bodies: seed 003's caps by tier, unless BODY_LIMIT_BYTES names one for every caller. The
  // server's own cap (what a head may declare at all) is the largest of them.
  if (!env.Str("BODY_LIMIT_BYTES", "").empty()) {
    auto& b = c.body_limits;
    b.anonymous = b.free = b.pro = b.enterprise = c.server.body_limit;
  }
  c.server.body_limit = c.body_limits.Max();
  c.jwt.max_lifetime = std::chrono::seconds(env.Int("JWT_MAX_LIFETIME_SECONDS", 86'400, 60, 31'536'000));
  // Clock skew allowed on exp/nbf/iat, for both kinds of token.
  c.jwt.leeway = std::chrono::seconds(env.Int("JWT_LEEWAY_SECONDS", 60, 0, 600));
  // auth-user's ES256 access tokens: its issuer and audience, its own lifetime (24 h at most).
  c.es256.issuer = env.Str("JWT_ISSUER", "suite-auth");
  c.es256.audience = env.Str("JWT_AUDIENCE", "suite-api");
  c.es256.max_lifetime = std::chrono::seconds(86'400);
  c.es256.leeway = c.jwt.leeway;
  c.jwks.refresh = std::chrono::seconds(env.Int("JWKS_REFRESH_SECONDS", 300, 5, 86'400));
  // Keys auth-user issued: how long a verified one is remembered (revocations evict at once).
  c.user_keys.valid_ttl = std::chrono::seconds(env.Int("API_KEY_CACHE_SECONDS", 60, 0, 3600));
  {
    std::string err;
    c.trusted_hosts = TrustedHosts::Parse(env.Str("TRUSTED_HOSTS", "*"), err);
    if (!err.empty()) env.Fail("TRUSTED_HOSTS", err);
    err.clear();
    c.trusted_proxies = TrustedProxies::Parse(env.Str("TRUSTED_PROXIES", ""), err);
    if (!err.empty()) env.Fail("TRUSTED_PROXIES", err);
    err.clear();
    c.cors = Cors::Parse(env.Str("CORS_ORIGINS", ""), err);
    if (!err.empty()) env.Fail("CORS_ORIGINS", err);
  }
  c.identity_ttl = std::chrono::seconds((timeout.count() + 999) / 1000);
  c.drain = env.Millis("DRAIN_TIMEOUT_MS", 10'000, 0, 600'000);
  return c;
}

}  // namespace gateway
