#include "config.hpp"

#include <cstdlib>
#include <fstream>

#include "suite/observability/log.hpp"

namespace gateway {

namespace {

bool IsSet(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// The file's settings over the built-in defaults (the environment comes after).
void ApplyFile(const FileConfig& f, Config& c, suite::core::Env& env, std::chrono::milliseconds timeout) {
  struct Known {
    const char* name;
    const char* variable;
    const char* fallback;
  };
  static constexpr Known kKnown[] = {{"auth-user", "AUTH_USER_URL", "http://127.0.0.1:8081"},
                                     {"processing", "PROCESSING_URL", "http://127.0.0.1:8082"},
                                     {"audit", "AUDIT_URL", "http://127.0.0.1:8083"}};
  for (const auto& u : f.upstreams) {
    std::string url = u.url.value_or("");
    for (const auto& k : kKnown)
      if (u.name == k.name && (IsSet(k.variable) || url.empty())) url = env.Str(k.variable, std::string(k.fallback));
    auto o = suite::http::ParseUpstreamUrl(url);
    if (!o) {
      env.Fail("GATEWAY_CONFIG", "upstream " + u.name + ": must look like http://host:port");
      continue;
    }
    o->request_timeout = u.timeout.value_or(timeout);
    o->http2 = u.http2;
    o->tls_ca_file = u.ca_file.value_or("");
    if (o->tls && !o->http2) {
      env.Fail("GATEWAY_CONFIG", "upstream " + u.name + ": https:// is spoken over HTTP/2 only (\"protocol\": \"h2\")");
      continue;
    }
    if (!o->tls_ca_file.empty() && !std::ifstream(o->tls_ca_file)) {
      env.Fail("GATEWAY_CONFIG", "upstream " + u.name + ": cannot read ca_file " + o->tls_ca_file);
      continue;
    }
    c.upstreams.emplace_back(u.name, *o);
  }
  c.routes = f.routes;
  for (const auto& i : f.issuers)
    if (i.ca_file && !std::ifstream(*i.ca_file))
      env.Fail("GATEWAY_CONFIG", "issuer " + i.name + ": cannot read ca_file " + *i.ca_file);
  c.issuers = f.issuers;
  auto& rl = c.rate_limit;
  auto& body = c.body_limits;
  for (const auto& [name, t] : f.tiers) {
    int* requests = name == "anonymous" ? &rl.anonymous : name == "free" ? &rl.free : name == "pro" ? &rl.pro : &rl.enterprise;
    std::size_t* cap = name == "anonymous" ? &body.anonymous : name == "free" ? &body.free : name == "pro" ? &body.pro : &body.enterprise;
    if (t.requests) *requests = *t.requests;
    if (t.body_limit) *cap = *t.body_limit;
    if (t.daily_quota) (name == "free" ? rl.quota_free : name == "pro" ? rl.quota_pro : rl.quota_enterprise) = *t.daily_quota;
  }
  if (f.rate_limit_enabled) rl.enabled = *f.rate_limit_enabled;
  if (f.daily_quotas) rl.quotas = *f.daily_quotas;
  if (f.period_seconds) rl.period = std::chrono::seconds(*f.period_seconds);
  if (f.failure_mode) c.rate_limit_fallback.mode = *f.failure_mode;
  if (f.replicas) c.rate_limit_fallback.replicas = *f.replicas;
  std::string err;
  if (f.cors_origins) {
    c.cors = Cors::Parse(Join(*f.cors_origins), err);
    if (!err.empty()) env.Fail("GATEWAY_CONFIG", "/cors/origins: " + err);
  }
  err.clear();
  if (f.trusted_hosts) {
    c.trusted_hosts = TrustedHosts::Parse(Join(*f.trusted_hosts), err);
    if (!err.empty()) env.Fail("GATEWAY_CONFIG", "/trusted_hosts: " + err);
  }
  err.clear();
  if (f.trusted_proxies) {
    c.trusted_proxies = TrustedProxies::Parse(Join(*f.trusted_proxies), err);
    if (!err.empty()) env.Fail("GATEWAY_CONFIG", "/trusted_proxies: " + err);
  }
}

}  // namespace

const suite::http::UpstreamOptions* Config::Upstream(std::string_view name) const {
  for (const auto& [n, o] : upstreams)
    if (n == name) return &o;
  return nullptr;
}

std::shared_ptr<const Config> Config::Reread() {
  suite::core::Env env("gateway");
  auto next = std::make_shared<const Config>(FromEnv(env));
  for (const auto& e : env.errors()) suite::obs::Error("configuration not reloaded", {{"error", e}});
  return env.errors().empty() ? next : nullptr;
}

std::vector<suite::http::Listener> Config::Listeners() const {
  std::vector<suite::http::Listener> out{
      {.address = bind, .port = https_port, .tls = suite::http::TlsFiles{tls_cert_file, tls_key_file}}};
  if (http_port != 0) out.push_back({.address = bind, .port = http_port});
  return out;
}

suite::service::HostConfig Config::Host() const {
  suite::service::HostConfig h;
  h.service = "gateway";
  h.bind = bind;
  h.workers = 1;  // /ready only: the request path never blocks
  h.drain = drain;
  h.loops = loops;
  return h;
}

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
  // The file: routes, upstreams, tiers, limits, CORS, hosts and proxies.
  c.config_file = env.Str("GATEWAY_CONFIG", "");
  {
    std::vector<std::string> errors;
    const auto file = c.config_file.empty() ? FileConfig::Default() : FileConfig::Load(c.config_file, errors);
    for (const auto& e : errors) env.Fail("GATEWAY_CONFIG", e);
    if (errors.empty()) ApplyFile(file, c, env, timeout);
  }
  // The environment overrides the file (seed 001's variables keep their meaning).
  if (IsSet("RATE_LIMIT_ENABLED")) c.rate_limit.enabled = env.Bool("RATE_LIMIT_ENABLED", true);
  if (!env.Str("RATE_LIMIT_REQUESTS", "").empty()) {
    const auto n = static_cast<int>(env.Int("RATE_LIMIT_REQUESTS", 100, 1, 1'000'000));
    auto& rl = c.rate_limit;
    rl.single = true;
    rl.anonymous = rl.free = rl.pro = rl.enterprise = n;
  }
  if (IsSet("RATE_LIMIT_PERIOD_SECONDS"))
    c.rate_limit.period = std::chrono::seconds(env.Int("RATE_LIMIT_PERIOD_SECONDS", 60, 1, 86'400));
  if (IsSet("RATE_LIMIT_FAILURE_MODE")) {
    const auto mode = env.Str("RATE_LIMIT_FAILURE_MODE", "local");
    auto& f = c.rate_limit_fallback;
    if (mode == "local") f.mode = FailureMode::kLocal;
    else if (mode == "open") f.mode = FailureMode::kOpen;
    else if (mode == "closed") f.mode = FailureMode::kClosed;
    else env.Fail("RATE_LIMIT_FAILURE_MODE", "must be local, open or closed");
  }
  if (IsSet("GATEWAY_REPLICAS")) c.rate_limit_fallback.replicas = static_cast<int>(env.Int("GATEWAY_REPLICAS", 1, 1, 1000));
  c.rate_limit_lease.min_limit = static_cast<int>(env.Int("RATE_LIMIT_LEASE_MIN", 1000, 0, 1'000'000'000));
  c.rate_limit_lease.hold = env.Millis("RATE_LIMIT_LEASE_MS", 1000, 1, 60'000);
  if (IsSet("DAILY_QUOTA_ENABLED")) c.rate_limit.quotas = env.Bool("DAILY_QUOTA_ENABLED", true);
  if (c.rate_limit.single) c.rate_limit.quotas = false;
  c.server = suite::http::ServerOptionsFromEnv(env);
  // Seed 001's security headers, on every response (the server's own refusals too).
  c.server.extra_headers = {
      {"x-content-type-options", "nosniff"},
      {"x-frame-options", "DENY"},
      {"x-xss-protection", "1; mode=block"},
      {"strict-transport-security", "max-age=31536000; includeSubDomains"},
      {"referrer-policy", "strict-origin-when-cross-origin"},
      {"permissions-policy", "geolocation=(), microphone=(), camera=()"},
      {"cache-control", "no-store"},
      // The API answers JSON: nothing in it may load, run or be framed. (The docs page of the
      // deployment issue gets a policy of its own.)
      {"content-security-policy", "default-src 'none'; frame-ancestors 'none'"},
  };
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
  // auth-user's own iss is matched before the configured issuers: one of them with that iss
  // would never be used.
  for (const auto& i : c.issuers)
    if (i.issuer == *c.es256.issuer)
      env.Fail("GATEWAY_CONFIG", "issuer " + i.name + ": its iss is auth-user's own (JWT_ISSUER)");
  c.es256.audience = env.Str("JWT_AUDIENCE", "suite-api");
  c.es256.max_lifetime = std::chrono::seconds(86'400);
  c.es256.leeway = c.jwt.leeway;
  c.jwks.refresh = std::chrono::seconds(env.Int("JWKS_REFRESH_SECONDS", 300, 5, 86'400));
  // Keys auth-user issued: how long a verified one is remembered (revocations evict at once).
  c.user_keys.valid_ttl = std::chrono::seconds(env.Int("API_KEY_CACHE_SECONDS", 60, 0, 3600));
  {
    std::string err;
    if (IsSet("TRUSTED_HOSTS")) c.trusted_hosts = TrustedHosts::Parse(env.Str("TRUSTED_HOSTS", "*"), err);
    if (!err.empty()) env.Fail("TRUSTED_HOSTS", err);
    err.clear();
    if (IsSet("TRUSTED_PROXIES")) c.trusted_proxies = TrustedProxies::Parse(env.Str("TRUSTED_PROXIES", ""), err);
    if (!err.empty()) env.Fail("TRUSTED_PROXIES", err);
    err.clear();
    if (IsSet("CORS_ORIGINS")) c.cors = Cors::Parse(env.Str("CORS_ORIGINS", ""), err);
    if (!err.empty()) env.Fail("CORS_ORIGINS", err);
  }
  c.identity_ttl = std::chrono::seconds((timeout.count() + 999) / 1000);
  c.access_events = env.Bool("ACCESS_EVENTS", true);
  c.access_events_spool = suite::audit::PublisherOptionsFromEnv(env, "gateway");
  // The docs page's files (the build's `docs/`, made by deploy/docs/build.mjs).
  c.docs_dir = env.Str("DOCS_DIR", "");
  if (!c.docs_dir.empty() && !std::ifstream(c.docs_dir + "/openapi.json"))
    env.Fail("DOCS_DIR", "has no openapi.json (the build makes it: build/<preset>/docs)");
  c.drain = env.Millis("DRAIN_TIMEOUT_MS", 10'000, 0, 600'000);
  c.loops = suite::service::EventLoopsFromEnv(env);
  return c;
}

}  // namespace gateway
