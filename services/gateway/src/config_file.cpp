#include "config_file.hpp"

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "suite/core/config_reader.hpp"
#include "suite/core/json.hpp"
#include "suite/http/client.hpp"

namespace gateway {

using suite::core::ConfigReader;

// The order of routes is the order of matching: the first whose prefix fits wins, so the exact
// public /auth/... paths come before the "/auth/" prefix that needs credentials.
const char* const kDefaultConfig = R"json({
  "upstreams": [
    {"name": "auth-user"},
    {"name": "processing"},
    {"name": "audit"}
  ],
  "routes": [
    {"prefix": "/health", "methods": ["GET"], "upstream": "gateway", "auth": "none", "rate_limited": false},
    {"prefix": "/ready", "methods": ["GET"], "upstream": "gateway", "auth": "none", "rate_limited": false},
    {"prefix": "/process", "methods": ["POST"], "upstream": "processing", "auth": "api_key_and_jwt"},
    {"prefix": "/api/test", "methods": ["POST"], "upstream": "processing", "auth": "any"},
    {"prefix": "/jobs/", "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"], "upstream": "processing", "auth": "any"},
    {"prefix": "/auth/register", "methods": ["POST"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/auth/login", "methods": ["POST"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/auth/refresh", "methods": ["POST"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/auth/logout", "methods": ["POST"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/.well-known/jwks.json", "methods": ["GET"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/.well-known/openid-configuration", "methods": ["GET"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/oauth/token", "methods": ["POST"], "upstream": "auth-user", "auth": "none", "pass_authorization": true},
    {"prefix": "/auth/verify-email", "methods": ["GET", "POST"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/auth/resend-verification", "methods": ["POST"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/auth/forgot-password", "methods": ["POST"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/auth/reset-password", "methods": ["POST"], "upstream": "auth-user", "auth": "none"},
    {"prefix": "/auth/", "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"], "upstream": "auth-user", "auth": "any"},
    {"prefix": "/users/", "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"], "upstream": "auth-user", "auth": "any"},
    {"prefix": "/api-keys/", "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"], "upstream": "auth-user", "auth": "any"},
    {"prefix": "/audit/", "methods": ["GET"], "upstream": "audit", "auth": "any", "role": "admin"},
    {"prefix": "/security/events", "methods": ["GET"], "upstream": "audit", "auth": "any", "role": "admin"},
    {"prefix": "/security/", "methods": ["GET"], "upstream": "audit", "auth": "any"},
    {"prefix": "/docs/", "methods": ["GET"], "upstream": "gateway", "auth": "none"},
    {"prefix": "/openapi.json", "methods": ["GET"], "upstream": "gateway", "auth": "none"},
    {"prefix": "/health/detailed", "methods": ["GET"], "upstream": "gateway", "auth": "any"},
    {"prefix": "/protected", "methods": ["GET"], "upstream": "gateway", "auth": "any"},
    {"prefix": "/api/status", "methods": ["GET"], "upstream": "gateway", "auth": "any"}
  ],
  "tiers": {
    "anonymous": {"requests": 100, "body_limit_bytes": 2097152},
    "free": {"requests": 10, "daily_quota": 500, "body_limit_bytes": 5242880},
    "pro": {"requests": 60, "daily_quota": 10000, "body_limit_bytes": 26214400},
    "enterprise": {"requests": 300, "daily_quota": 100000, "body_limit_bytes": 104857600}
  },
  "rate_limit": {"enabled": true, "period_seconds": 60, "daily_quotas": true, "failure_mode": "local", "replicas": 1}
})json";

namespace {

const std::vector<std::pair<std::string_view, AuthPolicy>> kPolicies = {
    {"none", AuthPolicy::kNone}, {"api_key", AuthPolicy::kApiKey}, {"jwt", AuthPolicy::kJwt},
    {"api_key_and_jwt", AuthPolicy::kApiKeyAndJwt}, {"any", AuthPolicy::kAny}};
const std::vector<std::pair<std::string_view, FailureMode>> kModes = {
    {"local", FailureMode::kLocal}, {"open", FailureMode::kOpen}, {"closed", FailureMode::kClosed}};
constexpr std::int64_t kMaxBody = 1LL << 30;


bool IsPathPrefix(const std::string& s) {
  if (s.empty() || s.front() != '/' || s.size() > 256) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '%') return false;
  return true;
}

}  // namespace

FileConfig FileConfig::Read(const nlohmann::json& j, std::vector<std::string>& errors) {
  FileConfig c;
  ConfigReader root(j, errors);
  if (!root.IsObject()) return c;
  root.OnlyKeys({"upstreams", "routes", "tiers", "rate_limit", "cors", "trusted_hosts", "trusted_proxies", "issuers"});

  // A file that leaves out the upstreams or the routes keeps the suite's own.
  std::optional<FileConfig> defaults;
  if (!root.Has("upstreams") || !root.Has("routes")) defaults = Default();
  std::set<std::string> names;
  if (!root.Has("upstreams"))
    for (const auto& u : defaults->upstreams) {
      names.insert(u.name);
      c.upstreams.push_back(u);
    }
  for (auto u : root.Items("upstreams")) {
    if (!u.IsObject()) continue;
    u.OnlyKeys({"name", "url", "timeout_ms", "protocol", "ca_file"});
    UpstreamSpec spec;
    u.Required("name", spec.name);
    u.Optional("url", spec.url);
    std::optional<std::int64_t> timeout;
    u.OptionalInt("timeout_ms", timeout, 100, 600'000);
    if (timeout) spec.timeout = std::chrono::milliseconds(*timeout);
    // h2: HTTP/2, as gRPC services speak: with prior knowledge over http:// (h2c), agreed by
    // ALPN over https://.
    u.OptionalEnum("protocol", spec.http2, {{"http1", false}, {"h2", true}});
    u.Optional("ca_file", spec.ca_file);
    if (spec.http2 && (spec.name == "auth-user" || spec.name == "processing" || spec.name == "audit"))
      u.Fail("protocol", "the suite's own services speak HTTP/1.1");
    if (!spec.name.empty() && (!IsConfigName(spec.name) || spec.name == "gateway"))
      u.Fail("name", "must be lowercase letters, digits, '-' or '_' (and not \"gateway\")");
    if (!names.insert(spec.name).second) u.Fail("name", "duplicate upstream \"" + spec.name + "\"");
    const bool known = spec.name == "auth-user" || spec.name == "processing" || spec.name == "audit";
    const auto parsed = spec.url ? suite::http::ParseUpstreamUrl(*spec.url) : std::nullopt;
    if (spec.url && !parsed) u.Fail("url", "must look like http://host:port (or https://host:port)");
    if (parsed && parsed->tls && !spec.http2) u.Fail("url", "https:// is spoken over HTTP/2 only: add \"protocol\": \"h2\"");
    if (spec.ca_file && !(parsed && parsed->tls)) u.Fail("ca_file", "goes with an https:// url");
    if (!spec.url && !known) u.Fail("url", "is required (only auth-user, processing and audit default from the environment)");
    c.upstreams.push_back(std::move(spec));
  }
  if (root.Has("upstreams") && !names.count("auth-user"))
    root.Fail("upstreams", "an upstream named auth-user is required (signing keys, issued API keys)");

  // A token's tier claim may name the tiers of callers who identified themselves.
  c.issuers = ReadIssuers(root, kTokenTiers);
  std::set<std::string> issuer_names = {"auth-user", "shared-secret"};
  for (const auto& i : c.issuers) issuer_names.insert(i.name);

  std::set<std::string> prefixes;
  if (!root.Has("routes")) {
    c.routes = defaults->routes;
    for (const auto& r : c.routes)
      if (r.upstream != "gateway" && !names.count(r.upstream) && prefixes.insert(r.upstream).second)
        root.Fail("upstreams", "the suite's routes (no \"routes\" given) need an upstream named " + r.upstream);
    prefixes.clear();
  }
  for (auto r : root.Items("routes")) {
    if (!r.IsObject()) continue;
    r.OnlyKeys({"prefix", "methods", "upstream", "auth", "rate_limited", "rate_limit", "body_limit_bytes", "role", "require",
                "pass_authorization", "unauthenticated_status",
                "timeout_ms", "websocket", "websocket_idle_ms", "websocket_lifetime_ms"});
    RouteSpec spec;
    r.Required("prefix", spec.prefix);
    r.Required("upstream", spec.upstream);
    if (!r.Has("methods")) r.Fail("methods", "is required");
    const auto before = errors.size();
    r.Optional("methods", spec.methods);
    const bool methods_read = errors.size() == before;
    r.OptionalEnum("auth", spec.auth, kPolicies);
    r.Optional("rate_limited", spec.rate_limited);
    r.OptionalInt("rate_limit", spec.rate_limit, 1, 1'000'000);
    r.OptionalInt("body_limit_bytes", spec.body_limit, 0, kMaxBody);
    r.Optional("role", spec.role);
    std::optional<std::int64_t> route_timeout;
    r.OptionalInt("timeout_ms", route_timeout, 100, 600'000);
    if (route_timeout) spec.timeout = std::chrono::milliseconds(*route_timeout);
    r.Optional("websocket", spec.websocket);
    std::optional<std::int64_t> ws_idle, ws_lifetime;
    r.OptionalInt("websocket_idle_ms", ws_idle, 1'000, 3'600'000);
    r.OptionalInt("websocket_lifetime_ms", ws_lifetime, 1'000, 86'400'000);
    if (ws_idle) spec.relay.idle = std::chrono::milliseconds(*ws_idle);
    if (ws_lifetime) spec.relay.lifetime = std::chrono::milliseconds(*ws_lifetime);
    if ((ws_idle || ws_lifetime) && !spec.websocket) r.Fail("websocket", "must be true for websocket_idle_ms or websocket_lifetime_ms");
    if (spec.websocket && spec.upstream == "gateway") r.Fail("websocket", "needs an upstream (the gateway's own routes speak HTTP only)");
    if (spec.websocket && std::find(spec.methods.begin(), spec.methods.end(), "GET") == spec.methods.end())
      r.Fail("websocket", "needs GET among the methods (an upgrade is a GET)");
    if (r.Has("role") && (!IsConfigName(spec.role)))
      r.Fail("role", "must be lowercase letters, digits, '-' or '_'");
    if (!spec.role.empty() && spec.auth == AuthPolicy::kNone) r.Fail("role", "needs an auth policy other than none");
    // Credentials the gateway checked never go further; only those it did not look at may.
    r.Optional("pass_authorization", spec.pass_authorization);
    // Seed 001 answers missing or invalid credentials with 403 (FastAPI's APIKeyHeader); ours is
    // 401 with WWW-Authenticate (RFC 9110). A route its clients call may keep seed 001's.
    r.OptionalInt("unauthenticated_status", spec.unauthenticated_status, 401, 403);
    if (spec.unauthenticated_status == 402) r.Fail("unauthenticated_status", "must be 401 or 403");
    if (spec.pass_authorization && spec.auth != AuthPolicy::kNone)
      r.Fail("pass_authorization", "only on a route with auth \"none\" (the gateway keeps the credentials it checks)");
    if (auto need = r.At("require"); need && need->IsObject()) {
      need->OnlyKeys({"scopes", "roles", "issuers"});
      need->Optional("scopes", spec.require.scopes);
      need->Optional("roles", spec.require.roles);
      need->Optional("issuers", spec.require.issuers);
      for (const auto* list : {&spec.require.scopes, &spec.require.roles, &spec.require.issuers}) {
        const char* key = list == &spec.require.scopes ? "scopes" : list == &spec.require.roles ? "roles" : "issuers";
        if (list->size() > 32) need->Fail(key, "at most 32");
        for (const auto& v : *list) {
          bool printable = !v.empty() && v.size() <= 256;
          for (unsigned char ch : v) printable = printable && ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
          if (!printable) need->Fail(key, "each is 1 to 256 printable characters, no space, quote or backslash");
        }
      }
      for (const auto& i : spec.require.issuers)
        if (!issuer_names.count(i))
          need->Fail("issuers", "\"" + i + "\" is not auth-user, shared-secret or a configured issuer's name");
      if (!spec.require.empty() && spec.auth == AuthPolicy::kNone)
        need->Fail("", "needs an auth policy other than none");
    }
    if (!spec.prefix.empty() && !IsPathPrefix(spec.prefix))
      r.Fail("prefix", "must start with '/' and hold no space, '?', '#' or '%'");
    if (!prefixes.insert(spec.prefix).second) r.Fail("prefix", "duplicate route \"" + spec.prefix + "\"");
    if (r.Has("methods") && methods_read && spec.methods.empty()) r.Fail("methods", "must name at least one method");
    for (const auto& m : spec.methods)
      if (m != "GET" && m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE" && m != "OPTIONS")
        r.Fail("methods", "\"" + m + "\" is not served (GET, POST, PUT, PATCH, DELETE, OPTIONS; HEAD goes with GET; TRACE and CONNECT never)");
    if (!spec.upstream.empty() && spec.upstream != "gateway" && !names.count(spec.upstream))
      r.Fail("upstream", "no upstream named \"" + spec.upstream + "\"");
    c.routes.push_back(std::move(spec));
  }

  if (auto tiers = root.At("tiers"); tiers && tiers->IsObject()) {
    tiers->OnlyKeys({"anonymous", "free", "pro", "enterprise"});
    for (const char* name : {"anonymous", "free", "pro", "enterprise"}) {
      auto t = tiers->At(name);
      if (!t || !t->IsObject()) continue;
      t->OnlyKeys({"requests", "daily_quota", "body_limit_bytes"});
      TierSpec spec;
      t->OptionalInt("requests", spec.requests, 1, 1'000'000);
      t->OptionalInt("daily_quota", spec.daily_quota, 0, 1'000'000'000);
      t->OptionalInt("body_limit_bytes", spec.body_limit, 0, kMaxBody);
      if (std::string_view(name) == "anonymous" && spec.daily_quota)
        t->Fail("daily_quota", "anonymous callers have no daily quota (they are limited by address)");
      c.tiers[name] = spec;
    }
  }
  if (auto rl = root.At("rate_limit"); rl && rl->IsObject()) {
    rl->OnlyKeys({"enabled", "period_seconds", "daily_quotas", "failure_mode", "replicas"});
    bool b = true;
    if (rl->Has("enabled")) { rl->Optional("enabled", b); c.rate_limit_enabled = b; }
    if (rl->Has("daily_quotas")) { rl->Optional("daily_quotas", b); c.daily_quotas = b; }
    rl->OptionalInt("period_seconds", c.period_seconds, 1, 86'400);
    rl->OptionalInt("replicas", c.replicas, 1, 1000);
    if (rl->Has("failure_mode")) {
      FailureMode m = FailureMode::kLocal;
      rl->OptionalEnum("failure_mode", m, kModes);
      c.failure_mode = m;
    }
  }
  if (auto cors = root.At("cors"); cors && cors->IsObject()) {
    cors->OnlyKeys({"origins"});
    std::vector<std::string> origins;
    cors->Optional("origins", origins);
    c.cors_origins = origins;
  }
  auto list = [&](const char* key, std::optional<std::vector<std::string>>& out) {
    if (!root.Has(key)) return;
    std::vector<std::string> v;
    root.Optional(key, v);
    out = v;
  };
  list("trusted_hosts", c.trusted_hosts);
  list("trusted_proxies", c.trusted_proxies);
  return c;
}

FileConfig FileConfig::Load(const std::string& path, std::vector<std::string>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back(path + ": cannot be read");
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  const auto parsed = suite::core::ParseJson(text.str(), {.max_bytes = 1 << 20, .max_depth = 16,
                                                          .max_elements = 100'000, .max_string = 4096});
  if (!parsed.ok()) {
    errors.push_back(path + ": " + parsed.error);
    return {};
  }
  return Read(parsed.value, errors);
}

FileConfig FileConfig::Default() {
  std::vector<std::string> errors;
  return Read(nlohmann::json::parse(kDefaultConfig), errors);
}

int CheckConfigFile(const char* path) {
  std::vector<std::string> errors;
  FileConfig::Load(path, errors);
  for (const auto& e : errors) std::cerr << e << "\n";
  if (!errors.empty()) return 2;
  std::cout << path << ": ok\n";
  return 0;
}

}  // namespace gateway
