// Each filter on a hand-built context, then the whole chain with fakes at its I/O edges (a
// rate-limit backend, an upstream, the signing keys, the body): no socket, no Redis.
#include <catch2/catch.hpp>

#include "access_events.hpp"
#include "authn.hpp"
#include "body_limit.hpp"
#include "chain.hpp"
#include "client_address.hpp"
#include "cors.hpp"
#include "fallback_limiter.hpp"
#include "grpc.hpp"
#include "rate_limiter.hpp"
#include "routes.hpp"
#include "trusted_hosts.hpp"
#include "user_keys.hpp"
#include "suite/security/api_key.hpp"
#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
#include "suite/security/es256.hpp"
#include "suite/testing/task.hpp"

using namespace gateway;
using suite::http::BodyReader;
using suite::http::Response;
using suite::http::Task;
using suite::testing::FakeUpstream;
using suite::testing::RunTask;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";

std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

suite::http::RequestPtr Req(std::string method, std::string target, suite::http::Headers headers = {}) {
  auto r = std::make_shared<suite::http::Request>();
  r->method = std::move(method);
  r->target = std::move(target);
  const auto q = r->target.find('?');
  r->path = r->target.substr(0, q);
  if (q != std::string::npos) r->query = r->target.substr(q + 1);
  r->SetHeaders(headers);
  r->remote_ip = "10.1.2.3";
  r->request_id = "rid-1";
  return r;
}

// The body as the server would hand it over: read only when asked, under the cap asked for.
class FakeBody final : public BodyReader {
 public:
  FakeBody(suite::http::Request& req, std::string body, bool chunked = false)
      : req_(req), body_(std::move(body)), chunked_(chunked) {}
  Task<Status> Read(std::size_t limit) override {
    ++reads;
    limit_asked = limit;
    Status s = Status::kOk;
    if (body_.size() > limit) s = Status::kTooLarge;
    else req_.body = body_;
    return Ready(s);
  }
  std::optional<std::uint64_t> content_length() const override {
    if (chunked_) return std::nullopt;
    return body_.size();
  }
  int reads = 0;
  std::size_t limit_asked = 0;

 private:
  static Task<Status> Ready(Status s) { co_return s; }
  suite::http::Request& req_;
  std::string body_;
  bool chunked_;
};

class FakeBackend final : public RateLimitBackend {
 public:
  Task<Decision> Check(LimitRequest r) override {
    keys.push_back(r.bucket);
    quotas.push_back(r.daily_quota);
    Decision d;
    d.limit = r.limit;
    d.remaining = r.limit - static_cast<int>(keys.size());
    d.allowed = d.remaining >= 0 && !down && !over_quota;
    d.degraded = down;
    d.quota_exceeded = over_quota;
    d.quota = r.daily_quota;
    d.quota_remaining = over_quota ? 0 : r.daily_quota - static_cast<long long>(keys.size());
    d.quota_reset_seconds = 3600;
    if (d.remaining < 0) d.remaining = 0;
    d.reset_seconds = 42;
    return Ready(d);
  }
  std::vector<std::string> keys;
  std::vector<long long> quotas;
  bool down = false, over_quota = false;

 private:
  static Task<Decision> Ready(Decision d) { co_return d; }
};

class FakeKeys final : public SigningKeys {
 public:
  std::shared_ptr<const suite::security::JwkSet> Keys() const override { return set; }
  Task<bool> Refetch() override {
    ++refetches;
    if (next) set = next;
    return Ready();
  }
  std::shared_ptr<const suite::security::JwkSet> set = std::make_shared<suite::security::JwkSet>();
  std::shared_ptr<const suite::security::JwkSet> next;
  int refetches = 0;

 private:
  static Task<bool> Ready() { co_return true; }
};

// Everything a chain needs, with fakes at its edges.
struct Rig {
  ApiKeyStore keys = [] {
    std::string err;
    return *ApiKeyStore::Parse(
        R"([{"key":"sk-ent-key-123","name":"Ent","tier":"enterprise"},{"key":"sk-free-key-456","name":"Free","tier":"free"},)"
        R"({"key":"sk-bench-key-789","name":"Bench","tier":"unlimited"}])",
        err);
  }();
  suite::security::Hs256 hs{kSecret};
  suite::security::JwtOptions hs_options, es_options{.issuer = std::string("suite-auth"), .audience = std::string("suite-api")};
  suite::security::IdentitySigner signer{"fedcba9876543210fedcba9876543210"};
  suite::obs::Metrics metrics{"gateway-test"};
  suite::http::Router local;
  FakeUpstream upstream;
  FakeBackend backend;
  FakeKeys signing;
  RateLimitConfig rate_limit;
  Proxy proxy{signer, local, metrics};
  Chain chain{proxy, 100 * 1024 * 1024};

  explicit Rig(RateLimitConfig rl = {}) : rate_limit(rl) {
    local.Inline("GET", "/health", [](suite::http::Request&) { return Response::Json(200, {{"status", "healthy"}}); });
    chain.Add<RouteFilter>(std::vector<Route>{
        {.prefix = "/health", .methods = "GET", .auth = AuthPolicy::kNone, .rate_limited = false},
        {.prefix = "/process", .methods = "POST", .auth = AuthPolicy::kApiKeyAndJwt, .upstream = &upstream},
        {.prefix = "/jobs/", .methods = "GET, POST", .auth = AuthPolicy::kAny, .upstream = &upstream,
         .rate_limit = 5, .body_limit = 1000},
        {.prefix = "/auth/login", .methods = "POST", .auth = AuthPolicy::kNone, .upstream = &upstream},
        {.prefix = "/seed001", .methods = "GET", .auth = AuthPolicy::kApiKey, .upstream = &upstream,
         .unauthenticated_status = 403},
    });
    chain.Add<AuthnFilter>(AuthnFilter::Config{keys, hs, hs_options, es_options}, signing);
    chain.Add<BodyLimitFilter>(BodyLimits{});
    chain.Add<RateLimitFilter>(rate_limit, backend, metrics);
  }
  Response Run(suite::http::RequestPtr req, std::string body = {}, bool chunked = false, FakeBody** seen = nullptr) {
    FakeBody reader(*req, std::move(body), chunked);
    auto res = RunTask(chain.Run(req, reader));
    if (seen != nullptr) last_reads = reader.reads;
    return res;
  }
  int last_reads = -1;
  std::string Jwt(const std::string& sub = "alice") { return hs.Sign({{"sub", sub}, {"exp", Now() + 600}}); }
};

nlohmann::json Body(const Response& r) { return nlohmann::json::parse(r.body); }
std::string Code(const Response& r) { return Body(r)["error"]["code"]; }

}  // namespace

TEST_CASE("route filter: unknown paths get the not-found route, 405 names the methods, a bad query is 400") {
  RouteFilter f({{.prefix = "/jobs/", .methods = "GET, POST"}, {.prefix = "/process", .methods = "POST"}});
  RequestContext ctx{.request = Req("GET", "/jobs/123")};
  CHECK(f.OnRequest(ctx) == FilterStatus::kContinue);
  CHECK(ctx.route->prefix == "/jobs/");
  CHECK(ctx.req().route == "/jobs/");
  RequestContext bare{.request = Req("HEAD", "/jobs")};
  CHECK(f.OnRequest(bare) == FilterStatus::kContinue);  // "/jobs/" also matches "/jobs"; HEAD wherever GET
  RequestContext unknown{.request = Req("GET", "/process/x")};
  CHECK(f.OnRequest(unknown) == FilterStatus::kContinue);
  CHECK(unknown.route->not_found);
  CHECK(unknown.req().route == "not_found");  // a closed set of metric labels
  RequestContext wrong{.request = Req("TRACE", "/process")};
  REQUIRE(f.OnRequest(wrong) == FilterStatus::kStop);
  CHECK(wrong.reply->status == 405);
  CHECK(wrong.reply->Header("allow") == "POST");
  CHECK(wrong.reason == "method_not_allowed");
  RequestContext query{.request = Req("POST", "/process?a=%zz")};
  REQUIRE(f.OnRequest(query) == FilterStatus::kStop);
  CHECK(query.reply->status == 400);
}

TEST_CASE("trusted-host filter: another Host is a 400 with its reason") {
  std::string err;
  TrustedHostFilter f(TrustedHosts::Parse("api.example.com", err));
  RequestContext ok{.request = Req("GET", "/", {{"host", "api.example.com:8443"}})};
  CHECK(f.OnRequest(ok) == FilterStatus::kContinue);
  RequestContext evil{.request = Req("GET", "/", {{"host", "evil.example"}})};
  REQUIRE(f.OnRequest(evil) == FilterStatus::kStop);
  CHECK(evil.reply->status == 400);
  CHECK(evil.reason == "untrusted_host");
}

TEST_CASE("CORS filter: a preflight is answered, an allowed origin's refusal still gets the headers") {
  std::string err;
  CorsFilter f(Cors::Parse("https://app.example.com", err));
  RequestContext pre{.request = Req("OPTIONS", "/process", {{"origin", "https://app.example.com"},
                                                            {"access-control-request-method", "POST"}})};
  REQUIRE(f.OnRequest(pre) == FilterStatus::kStop);
  CHECK(pre.reply->Header("access-control-allow-origin") == "https://app.example.com");
  RequestContext get{.request = Req("GET", "/x", {{"origin", "https://app.example.com"}})};
  CHECK(f.OnRequest(get) == FilterStatus::kContinue);
  auto refusal = suite::http::ErrorReply(suite::core::ApiError(suite::core::ErrorCode::kUnauthenticated, "no"), "r");
  f.OnResponse(get, refusal);
  CHECK(refusal.Header("access-control-allow-origin") == "https://app.example.com");
  RequestContext other{.request = Req("GET", "/x", {{"origin", "https://evil.example"}})};
  auto res = Response::Json(200, {});
  f.OnResponse(other, res);
  CHECK(res.Header("access-control-allow-origin").empty());
}

TEST_CASE("body-limit filter: by tier (seed 003) and route, refused by Content-Length") {
  BodyLimitFilter f(BodyLimits{});
  const Route plain{.prefix = "/x"}, small{.prefix = "/y", .body_limit = 1000};
  auto ctx_for = [](const Route& r, std::string tier, std::optional<std::uint64_t> cl) {
    RequestContext c{.request = Req("POST", r.prefix)};
    c.route = &r;
    c.identity.tier = std::move(tier);
    c.content_length = cl;
    return c;
  };
  constexpr std::uint64_t MiB = 1024 * 1024;
  auto anon = ctx_for(plain, "anonymous", 2 * MiB);
  CHECK(f.OnRequest(anon) == FilterStatus::kContinue);
  CHECK(anon.body_limit == 2 * MiB);
  auto anon_over = ctx_for(plain, "anonymous", 2 * MiB + 1);
  REQUIRE(f.OnRequest(anon_over) == FilterStatus::kStop);
  CHECK(anon_over.reply->status == 413);
  CHECK(Code(*anon_over.reply) == "PAYLOAD_TOO_LARGE");
  CHECK(Body(*anon_over.reply)["error"]["details"]["limit_bytes"] == 2 * MiB);
  auto free_ok = ctx_for(plain, "free", 5 * MiB);
  CHECK(f.OnRequest(free_ok) == FilterStatus::kContinue);
  auto pro = ctx_for(plain, "pro", 25 * MiB);
  CHECK(f.OnRequest(pro) == FilterStatus::kContinue);
  auto ent = ctx_for(plain, "enterprise", std::nullopt);  // chunked: the cap is set for the read
  CHECK(f.OnRequest(ent) == FilterStatus::kContinue);
  CHECK(ent.body_limit == 100 * MiB);
  auto routed = ctx_for(small, "enterprise", 1001);
  CHECK(f.OnRequest(routed) == FilterStatus::kStop);
}

TEST_CASE("chain: a request without credentials is refused on its head, its body never read") {
  Rig rig;
  auto req = Req("POST", "/process", {{"content-type", "application/json"}});
  FakeBody body(*req, std::string(5000, 'x'));
  const auto res = RunTask(rig.chain.Run(req, body));
  CHECK(res.status == 401);
  CHECK(res.Header("www-authenticate") == "Bearer realm=\"api\"");
  CHECK(body.reads == 0);
  CHECK(rig.upstream.seen.empty());
}

TEST_CASE("chain: failed credentials count against the client's address, then 401, past the limit, 429") {
  RateLimitConfig rl;
  rl.anonymous = 3;
  Rig strict(rl);
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i)
    statuses.push_back(strict.Run(Req("GET", "/jobs/1", {{"x-api-key", "sk-guess-" + std::to_string(i)}})).status);
  CHECK(statuses == std::vector<int>{401, 401, 401, 429});
  CHECK(strict.backend.keys == std::vector<std::string>(4, "{ip:10.1.2.3}"));
  CHECK(strict.upstream.seen.empty());
}

TEST_CASE("chain: an admitted request is forwarded with its body, a signed identity and rate-limit headers") {
  Rig rig;
  auto req = Req("POST", "/process?api_key=sk-ent-key-123&x=1",
                 {{"authorization", "Bearer " + rig.Jwt()}, {"x-internal-identity", "forged"}, {"x-auth-user", "root"}});
  FakeBody body(*req, R"({"dataset_id":"d","action":"count"})");
  const auto res = RunTask(rig.chain.Run(req, body));
  REQUIRE(res.status == 200);
  CHECK(body.reads == 1);
  CHECK(body.limit_asked == 100 * 1024 * 1024);  // enterprise
  REQUIRE(rig.upstream.seen.size() == 1);
  const auto& out = rig.upstream.seen[0];
  CHECK(out.target == "/process?x=1");  // the key stays at the edge
  CHECK(out.body == R"({"dataset_id":"d","action":"count"})");
  std::string identity;
  for (const auto& [k, v] : out.headers) {
    CHECK(k != "x-auth-user");
    if (k == "x-internal-identity") identity = v;
  }
  const auto id = rig.signer.Verify(identity, {"rid-1", "POST", "/process"});
  CHECK(id.subject == "alice");
  CHECK(id.tier == "enterprise");
  CHECK(rig.backend.keys == std::vector<std::string>{"{key:Ent}"});
  CHECK(rig.backend.quotas == std::vector<long long>{100'000});
  CHECK(res.Header("x-ratelimit-limit") == "300");
  CHECK(res.Header("x-ratelimit-remaining") == "299");
  CHECK(res.Header("x-ratelimit-reset") == "42");
  CHECK(res.Header("ratelimit-policy") == "\"window\";q=300;w=60, \"day\";q=100000;w=86400");
  CHECK(res.Header("ratelimit") == "\"window\";r=299;t=42");
}

TEST_CASE("chain: past the day's quota, 429 QUOTA_EXCEEDED until midnight, the day named in RateLimit") {
  Rig rig;
  rig.backend.over_quota = true;
  const auto res = rig.Run(Req("GET", "/jobs/1", {{"x-api-key", "sk-free-key-456"}}));
  CHECK(res.status == 429);
  CHECK(Code(res) == "QUOTA_EXCEEDED");
  CHECK(Body(res)["error"]["details"]["quota"] == 500);
  CHECK(res.Header("retry-after") == "3600");
  CHECK(res.Header("ratelimit") == "\"day\";r=0;t=3600");
  CHECK(rig.backend.quotas == std::vector<long long>{500});
}

TEST_CASE("chain: tier limits for rate and body, a route's lower limits, 413 while reading") {
  Rig rig;
  // Free key on /jobs/: the route's 5 per period is below the tier's 10; its 1000 bytes below 5 MB.
  auto req = Req("POST", "/jobs/", {{"x-api-key", "sk-free-key-456"}});
  auto res = rig.Run(req, std::string(1001, 'x'), /*chunked=*/true);
  CHECK(res.status == 413);
  CHECK(res.Header("x-ratelimit-limit") == "5");  // the limit was taken, and says so on the refusal
  for (int i = 0; i < 4; ++i) CHECK(rig.Run(Req("POST", "/jobs/", {{"x-api-key", "sk-free-key-456"}}), "{}").status == 200);
  res = rig.Run(Req("POST", "/jobs/", {{"x-api-key", "sk-free-key-456"}}), "{}");
  CHECK(res.status == 429);
  CHECK(Code(res) == "RATE_LIMIT_EXCEEDED");
  CHECK(res.Header("retry-after") == "42");
  CHECK(res.Header("x-ratelimit-remaining") == "0");
  CHECK(Body(res).contains("timestamp"));
  CHECK(Body(res)["error"]["details"]["tier"] == "free");
}

TEST_CASE("chain: health checks are never limited, unknown paths are (as anonymous)") {
  Rig rig;
  const auto health = rig.Run(Req("GET", "/health"));
  CHECK(health.status == 200);
  CHECK(health.Header("x-ratelimit-limit").empty());
  const auto missing = rig.Run(Req("GET", "/nope"));
  CHECK(missing.status == 404);
  CHECK(rig.backend.keys == std::vector<std::string>{"{ip:10.1.2.3}"});
  CHECK(missing.Header("x-ratelimit-limit") == "100");
}

TEST_CASE("chain: Redis down and fail-closed is a 503 with Retry-After, not a 429") {
  Rig rig;
  rig.backend.down = true;
  const auto res = rig.Run(Req("POST", "/auth/login"), "{}");
  CHECK(res.status == 503);
  CHECK(res.Header("retry-after") == "42");
}

TEST_CASE("chain: upstream failures are 503 (with Retry-After), 504 and 502") {
  Rig rig;
  using S = suite::http::ClientResult::Status;
  for (auto [status, expect] : {std::pair{S::kConnectFailed, 503}, {S::kTimeout, 504}, {S::kFailed, 502}}) {
    rig.upstream.answer = [status = status](const suite::http::ClientRequest&) {
      suite::http::ClientResult r;
      r.status = status;
      return r;
    };
    const auto res = rig.Run(Req("POST", "/auth/login"), "{}");
    CHECK(res.status == expect);
    CHECK(res.Header("retry-after").empty() == (expect != 503));
  }
}

TEST_CASE("authn filter: an unknown kid fetches the keys once, then verifies or is refused") {
  Rig rig;
  const auto key = suite::security::EcKey::Generate();
  const nlohmann::json claims = {{"iss", "suite-auth"}, {"aud", "suite-api"}, {"sub", "carol"},
                                 {"roles", {"admin"}}, {"exp", Now() + 60}};
  const auto token = suite::security::SignEs256(key, "k9", claims);
  // Not published yet: one refetch, still unknown, 401 invalid_token.
  auto res = rig.Run(Req("GET", "/jobs/1", {{"authorization", "Bearer " + token}}));
  CHECK(res.status == 401);
  CHECK(res.Header("www-authenticate") == "Bearer realm=\"api\", error=\"invalid_token\"");
  CHECK(rig.signing.refetches == 1);
  // Published by the next fetch: admitted, with the token's role.
  auto set = std::make_shared<suite::security::JwkSet>();
  set->Add("k9", suite::security::EcKey::FromJwk(key.PublicJwk("k9")));
  rig.signing.next = set;
  res = rig.Run(Req("GET", "/jobs/1", {{"authorization", "Bearer " + token}}));
  CHECK(res.status == 200);
  CHECK(rig.signing.refetches == 2);
  const auto& out = rig.upstream.seen.back();
  std::string identity;
  for (const auto& [k, v] : out.headers)
    if (k == "x-internal-identity") identity = v;
  CHECK(rig.signer.Verify(identity, {"rid-1", "GET", "/jobs/1"}).HasRole("admin"));
  // A malformed token: refused without a fetch.
  res = rig.Run(Req("GET", "/jobs/1", {{"authorization", "Bearer not.a.token"}}));
  CHECK(res.status == 401);
  CHECK(rig.signing.refetches == 2);
}

TEST_CASE("trusted proxies: X-Forwarded-For is believed only from them, up to the first untrusted hop") {
  std::string err;
  const auto proxies = TrustedProxies::Parse("10.0.0.0/8, 192.168.1.7, fd00::/8", err);
  REQUIRE(err.empty());
  CHECK(proxies.Contains("10.200.3.4"));
  CHECK(proxies.Contains("192.168.1.7"));
  CHECK_FALSE(proxies.Contains("192.168.1.8"));
  CHECK(proxies.Contains("fd00::1"));
  CHECK_FALSE(proxies.Contains("fe80::1"));
  CHECK_FALSE(proxies.Contains("not-an-ip"));
  // From a client: its own header is ignored.
  CHECK(proxies.Resolve("203.0.113.9", "1.2.3.4") == "203.0.113.9");
  // From the ingress: the hop it added.
  CHECK(proxies.Resolve("10.0.0.5", "203.0.113.9") == "203.0.113.9");
  // A client's forged entry to the left of the real one changes nothing.
  CHECK(proxies.Resolve("10.0.0.5", "6.6.6.6, 203.0.113.9") == "203.0.113.9");
  // Through two proxies.
  CHECK(proxies.Resolve("10.0.0.5", "203.0.113.9, 192.168.1.7") == "203.0.113.9");
  // Garbage stops the walk at the last good hop.
  CHECK(proxies.Resolve("10.0.0.5", "203.0.113.9, bogus") == "10.0.0.5");
  CHECK(proxies.Resolve("10.0.0.5", "bogus, 203.0.113.9") == "203.0.113.9");
  for (const char* bad : {"10.0.0.0/33", "300.1.1.1", "10.0.0.0/", "fd00::/129", "10.0.0.0/-1"}) {
    err.clear();
    TrustedProxies::Parse(bad, err);
    CHECK_FALSE(err.empty());
  }
}

TEST_CASE("chain: behind a trusted proxy each client gets its own bucket, and the hop is forwarded") {
  Rig rig;
  std::string err;
  Chain chain(rig.proxy, 1 << 20);
  chain.Add<ClientAddressFilter>(TrustedProxies::Parse("10.0.0.0/8", err));
  chain.Add<RouteFilter>(std::vector<Route>{{.prefix = "/auth/login", .methods = "POST", .auth = AuthPolicy::kNone,
                                             .upstream = &rig.upstream}});
  chain.Add<AuthnFilter>(AuthnFilter::Config{rig.keys, rig.hs, rig.hs_options, rig.es_options}, rig.signing);
  chain.Add<RateLimitFilter>(rig.rate_limit, rig.backend, rig.metrics);
  for (const char* client : {"198.51.100.1", "198.51.100.2"}) {
    auto req = Req("POST", "/auth/login", {{"x-forwarded-for", client}});
    req->remote_ip = "10.0.0.5";
    FakeBody body(*req, "{}");
    CHECK(RunTask(chain.Run(req, body)).status == 200);
    CHECK(req->remote_ip == client);
    CHECK(req->peer_ip == "10.0.0.5");
  }
  CHECK(rig.backend.keys == std::vector<std::string>{"{ip:198.51.100.1}", "{ip:198.51.100.2}"});
  std::string xff, real;
  for (const auto& [k, v] : rig.upstream.seen.back().headers) {
    if (k == "x-forwarded-for") xff = v;
    if (k == "x-real-ip") real = v;
  }
  CHECK(xff == "198.51.100.2, 10.0.0.5");
  CHECK(real == "198.51.100.2");
}

TEST_CASE("local limiter (GCRA): exactly the limit at once, then one slot per interval, no edge burst") {
  LocalRateLimiter local(1000);
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  int allowed = 0;
  for (int i = 0; i < 15; ++i) allowed += local.Check("b", 10, std::chrono::seconds(60), t0).allowed ? 1 : 0;
  CHECK(allowed == 10);
  const auto refused = local.Check("b", 10, std::chrono::seconds(60), t0);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.reset_seconds == 6);  // one slot frees every 60/10 s
  CHECK_FALSE(local.Check("b", 10, std::chrono::seconds(60), t0 + std::chrono::seconds(5)).allowed);
  CHECK(local.Check("b", 10, std::chrono::seconds(60), t0 + std::chrono::seconds(6)).allowed);
  // At the "edge" of the window nothing more than the refill is admitted (a fixed window would
  // admit 10 more here).
  allowed = 0;
  for (int i = 0; i < 20; ++i)
    allowed += local.Check("b", 10, std::chrono::seconds(60), t0 + std::chrono::seconds(60)).allowed ? 1 : 0;
  CHECK(allowed == 9);
  // Another bucket is independent; the table is bounded.
  LocalRateLimiter small(2);
  CHECK(small.Check("x", 1, std::chrono::seconds(60), t0).allowed);
  CHECK(small.Check("y", 1, std::chrono::seconds(60), t0).allowed);
  CHECK_FALSE(small.Check("z", 1, std::chrono::seconds(60), t0).allowed);  // full of live buckets
  CHECK(small.Check("z", 1, std::chrono::seconds(60), t0 + std::chrono::seconds(61)).allowed);  // idle ones forgotten
  CHECK(small.size() <= 2);
}

TEST_CASE("circuit breaker: opens after consecutive failures, probes once, closes on success") {
  using S = CircuitBreaker::State;
  CircuitBreaker b(3, std::chrono::milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  CHECK(b.Allow(t0));
  CHECK_FALSE(b.Record(false, t0));
  CHECK_FALSE(b.Record(true, t0));  // a success resets the count
  CHECK_FALSE(b.Record(false, t0));
  CHECK_FALSE(b.Record(false, t0));
  CHECK(b.Record(false, t0) == S::kOpen);
  CHECK_FALSE(b.Allow(t0 + std::chrono::milliseconds(999)));
  CHECK(b.Allow(t0 + std::chrono::milliseconds(1000)));  // the probe
  CHECK(b.state() == S::kHalfOpen);
  CHECK_FALSE(b.Allow(t0 + std::chrono::milliseconds(1001)));  // one at a time
  CHECK(b.Record(false, t0 + std::chrono::milliseconds(1002)) == S::kOpen);
  CHECK(b.Allow(t0 + std::chrono::milliseconds(2002)));
  CHECK(b.Record(true, t0 + std::chrono::milliseconds(2003)) == S::kClosed);
  CHECK(b.Allow(t0 + std::chrono::milliseconds(2004)));
}

TEST_CASE("resilient limiter: Redis down, each replica enforces its share, open and closed modes") {
  FakeBackend redis;
  redis.down = true;
  suite::obs::Metrics metrics("t");
  ResilientRateLimiter local(redis, {.mode = FailureMode::kLocal, .replicas = 2, .failures = 2}, metrics);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    const auto d = RunTask(local.Check({.bucket = "{ip:1}", .limit = 6, .period = std::chrono::seconds(60)}));
    CHECK(d.local);
    allowed += d.allowed ? 1 : 0;
  }
  CHECK(allowed == 3);                       // 6 / 2 replicas
  CHECK(redis.keys.size() == 2);             // the breaker opened after two failures: no more waits
  CHECK(local.state() == CircuitBreaker::State::kOpen);
  CHECK(metrics.Render().find("gateway_ratelimit_breaker_state 1") != std::string::npos);
  FakeBackend redis2;
  redis2.down = true;
  ResilientRateLimiter open(redis2, {.mode = FailureMode::kOpen}, metrics);
  auto d = RunTask(open.Check({.bucket = "{ip:1}", .limit = 1, .period = std::chrono::seconds(60)}));
  CHECK(d.allowed);
  CHECK_FALSE(d.local);
  ResilientRateLimiter closed(redis2, {.mode = FailureMode::kClosed}, metrics);
  d = RunTask(closed.Check({.bucket = "{ip:1}", .limit = 1, .period = std::chrono::seconds(60)}));
  CHECK_FALSE(d.allowed);
  // Redis back: a healthy backend is asked and decides.
  FakeBackend healthy;
  ResilientRateLimiter back(healthy, {}, metrics);
  d = RunTask(back.Check({.bucket = "{ip:1}", .limit = 5, .period = std::chrono::seconds(60)}));
  CHECK(d.allowed);
  CHECK_FALSE(d.degraded);
  CHECK(healthy.keys.size() == 1);
}

TEST_CASE("chain: a local refusal is a 429, fail-closed a 503") {
  RateLimitConfig rl;
  rl.anonymous = 1;
  Rig rig(rl);
  rig.backend.down = true;
  // The Rig's filter talks to the backend directly (fail-closed by the fake): 503.
  CHECK(rig.Run(Req("POST", "/auth/login"), "{}").status == 503);
  FakeBackend down;
  down.down = true;
  suite::obs::Metrics metrics("t2");
  ResilientRateLimiter local(down, {.mode = FailureMode::kLocal}, metrics);
  Chain chain(rig.proxy, 1 << 20);
  chain.Add<RouteFilter>(std::vector<Route>{{.prefix = "/auth/login", .methods = "POST", .auth = AuthPolicy::kNone,
                                             .upstream = &rig.upstream}});
  chain.Add<AuthnFilter>(AuthnFilter::Config{rig.keys, rig.hs, rig.hs_options, rig.es_options}, rig.signing);
  chain.Add<RateLimitFilter>(rl, local, metrics);
  std::vector<int> statuses;
  for (int i = 0; i < 2; ++i) {
    auto req = Req("POST", "/auth/login");
    FakeBody body(*req, "{}");
    statuses.push_back(RunTask(chain.Run(req, body)).status);
  }
  CHECK(statuses == std::vector<int>{200, 429});
  CHECK(metrics.Render().find("decision=\"local_limited\"} 1") != std::string::npos);
}

namespace {
class FakeVerifier final : public KeyVerifier {
 public:
  Task<KeyCheck> Verify(std::string key) override {
    ++calls;
    KeyCheck c;
    if (key == valid) {
      c.verdict = KeyVerdict::kValid;
      c.key = {.name = "sk_0123abcd", .tier = "pro", .subject = "alice", .roles = {"user"}};
      c.user_id = 7;
    } else {
      c.verdict = down ? KeyVerdict::kUnavailable : KeyVerdict::kInvalid;
    }
    return Ready(c);
  }
  std::string valid = "sk_0123abcd_" + std::string(43, 'A');
  int calls = 0;
  bool down = false;

 private:
  static Task<KeyCheck> Ready(KeyCheck c) { co_return c; }
};
std::string KeyLike(char c) { return "sk_0123abcd_" + std::string(43, c); }
}  // namespace

TEST_CASE("issued keys: cached while revocations are received, evicted by them, forgotten when the feed stops") {
  FakeVerifier verifier;
  UserKeys keys(verifier);
  // Not live yet: every use asks auth-user.
  CHECK(RunTask(keys.Find(verifier.valid, "1.1.1.1")).verdict == KeyVerdict::kValid);
  CHECK(RunTask(keys.Find(verifier.valid, "1.1.1.1")).verdict == KeyVerdict::kValid);
  CHECK(verifier.calls == 2);
  keys.SetLive(true);
  CHECK(RunTask(keys.Find(verifier.valid, "1.1.1.1")).key.subject == "alice");
  CHECK(RunTask(keys.Find(verifier.valid, "1.1.1.1")).verdict == KeyVerdict::kValid);
  CHECK(verifier.calls == 3);
  // Revoked by its hash: asked again.
  keys.Revoked(R"({"key_hash":")" + suite::security::ApiKeyHash(verifier.valid) + R"(","id":3})");
  RunTask(keys.Find(verifier.valid, "1.1.1.1"));
  CHECK(verifier.calls == 4);
  // All of a user's keys.
  keys.Revoked(R"({"user_id":7})");
  RunTask(keys.Find(verifier.valid, "1.1.1.1"));
  CHECK(verifier.calls == 5);
  keys.Revoked(R"({"user_id":8})");
  RunTask(keys.Find(verifier.valid, "1.1.1.1"));
  CHECK(verifier.calls == 5);
  // The feed is lost: nothing valid is trusted from memory.
  keys.SetLive(false);
  RunTask(keys.Find(verifier.valid, "1.1.1.1"));
  CHECK(verifier.calls == 6);
  // An unreadable revocation forgets everything.
  keys.SetLive(true);
  RunTask(keys.Find(verifier.valid, "1.1.1.1"));
  keys.Revoked("{not json");
  CHECK(keys.size() == 0);
}

TEST_CASE("issued keys: unknown ones are remembered briefly, and an address guessing at line rate is stopped") {
  FakeVerifier verifier;
  UserKeys keys(verifier, {.lookups_per_minute = 5});
  CHECK(RunTask(keys.Find(KeyLike('B'), "6.6.6.6")).verdict == KeyVerdict::kInvalid);
  CHECK(RunTask(keys.Find(KeyLike('B'), "6.6.6.6")).verdict == KeyVerdict::kInvalid);
  CHECK(verifier.calls == 1);  // negative cache
  for (char c = 'C'; c < 'G'; ++c) CHECK(RunTask(keys.Find(KeyLike(c), "6.6.6.6")).verdict == KeyVerdict::kInvalid);
  CHECK(verifier.calls == 5);
  CHECK(RunTask(keys.Find(KeyLike('X'), "6.6.6.6")).verdict == KeyVerdict::kThrottled);
  CHECK(verifier.calls == 5);  // no look-up for it
  // Another address is not held back by it.
  CHECK(RunTask(keys.Find(KeyLike('Y'), "7.7.7.7")).verdict == KeyVerdict::kInvalid);
  // auth-user down: unavailable, not invalid, and not remembered.
  verifier.down = true;
  CHECK(RunTask(keys.Find(KeyLike('Z'), "8.8.8.8")).verdict == KeyVerdict::kUnavailable);
  verifier.down = false;
  CHECK(RunTask(keys.Find(KeyLike('Z'), "8.8.8.8")).verdict == KeyVerdict::kInvalid);
}

TEST_CASE("auth-user's verify answer is read strictly") {
  suite::http::ClientResult r;
  r.status = suite::http::ClientResult::Status::kOk;
  r.response = Response::Json(200, {{"valid", true}, {"prefix", "sk_0123abcd"}, {"tier", "pro"}, {"username", "alice"},
                                    {"user_id", 7}, {"roles", {"user", "admin"}}, {"expires_at", nullptr}});
  auto c = AuthUserKeyVerifier::Read(r);
  CHECK(c.verdict == KeyVerdict::kValid);
  CHECK(c.key.roles == std::vector<std::string>{"user", "admin"});
  CHECK(c.key.tier == "pro");
  CHECK_FALSE(c.expires_at);
  // An end user's key never gets the operator's unlimited tier, whatever the answer says.
  r.response = Response::Json(200, {{"valid", true}, {"prefix", "sk_0123abcd"}, {"tier", "unlimited"}, {"username", "alice"},
                                    {"user_id", 7}});
  CHECK(AuthUserKeyVerifier::Read(r).key.tier == "free");
  r.response = Response::Json(401, {});
  CHECK(AuthUserKeyVerifier::Read(r).verdict == KeyVerdict::kInvalid);
  r.response = Response::Json(500, {});
  CHECK(AuthUserKeyVerifier::Read(r).verdict == KeyVerdict::kUnavailable);
  r.response = Response::Json(200, {{"valid", true}, {"tier", "pro"}});
  CHECK(AuthUserKeyVerifier::Read(r).verdict == KeyVerdict::kUnavailable);
  r.status = suite::http::ClientResult::Status::kTimeout;
  CHECK(AuthUserKeyVerifier::Read(r).verdict == KeyVerdict::kUnavailable);
}

TEST_CASE("chain: an issued key acts for its owner, with its tier, auth-user down is a 503") {
  Rig rig;
  FakeVerifier verifier;
  UserKeys keys(verifier);
  Chain chain(rig.proxy, 1 << 20);
  chain.Add<RouteFilter>(std::vector<Route>{{.prefix = "/jobs/", .methods = "GET", .auth = AuthPolicy::kAny,
                                             .upstream = &rig.upstream}});
  chain.Add<AuthnFilter>(AuthnFilter::Config{rig.keys, rig.hs, rig.hs_options, rig.es_options}, rig.signing, &keys);
  chain.Add<RateLimitFilter>(rig.rate_limit, rig.backend, rig.metrics);
  auto run = [&](std::string key) {
    auto req = Req("GET", "/jobs/1", {{"x-api-key", std::move(key)}});
    FakeBody body(*req, "");
    return RunTask(chain.Run(req, body));
  };
  auto res = run(verifier.valid);
  REQUIRE(res.status == 200);
  std::string identity;
  for (const auto& [k, v] : rig.upstream.seen.back().headers)
    if (k == "x-internal-identity") identity = v;
  const auto id = rig.signer.Verify(identity, {"rid-1", "GET", "/jobs/1"});
  CHECK(id.subject == "alice");
  CHECK(id.api_key_id == "sk_0123abcd");
  CHECK(id.tier == "pro");
  CHECK(res.Header("x-ratelimit-limit") == "60");
  CHECK(rig.backend.keys.back() == "{key:sk_0123abcd}");
  CHECK(run(KeyLike('Q')).status == 401);
  CHECK(run("not-shaped-and-not-static").status == 401);
  CHECK(verifier.calls == 2);  // the shapeless one never reached auth-user
  verifier.down = true;
  res = run(KeyLike('R'));
  CHECK(res.status == 503);
  CHECK(res.Header("retry-after") == "1");
}

TEST_CASE("access events: every answer, refusals with their reason, never the query string") {
  Rig rig;
  AccessEventFilter access(nullptr, rig.metrics);
  auto req = Req("POST", "/process?api_key=sk-ent-key-123", {{"user-agent", std::string(1000, 'u')}});
  RequestContext ctx{.request = req};
  FakeBody body(*req, "{}");
  RunTask(rig.chain.Run(ctx, body));
  auto refused = suite::http::ErrorReply(suite::core::ApiError(suite::core::ErrorCode::kUnauthenticated, "x"), "r");
  const auto e = nlohmann::json::parse(AccessEvent(ctx, refused).ToLine());
  CHECK(e["type"] == "request");
  CHECK(e["path"] == "/process");
  CHECK(e["route"] == "/process");
  CHECK(e["http_status"] == 401);
  CHECK(e["reason"] == "unauthenticated");  // API key present, JWT missing
  CHECK(e["tier"] == "anonymous");
  CHECK(e["user_agent"].get<std::string>().size() == 512);  // the schema's bound
  CHECK(e.dump().find("sk-ent-key-123") == std::string::npos);
  access.OnResponse(ctx, refused);
  CHECK(rig.metrics.Render().find("gateway_refusals_total{reason=\"unauthenticated\"} 1") != std::string::npos);
}

TEST_CASE("access event line: valid JSON whatever the client sent") {
  Rig rig;
  auto req = Req("GET", std::string("/a\"b\\c\x01\xff\xfe"), {{"user-agent", "ua\n\"x\"\xc3\xa9"}});
  RequestContext ctx{.request = req};
  ctx.identity.method = "none";
  const Response res = Response::Json(404, {});
  auto event = AccessEvent(ctx, res);
  event.event_id = suite::core::NewUuid();
  event.timestamp = suite::core::NowIso();
  std::string why;
  const auto back = suite::audit::Event::Parse(event.ToLine(), why);  // the consumer's reader
  INFO(why);
  REQUIRE(back);
  const auto& a = std::get<suite::audit::AccessRecord>(back->record);
  CHECK(a.path == "/a\"b\\c\x01??");
  CHECK(a.user_agent == "ua\n\"x\"\xc3\xa9");  // valid UTF-8 kept
  CHECK_FALSE(a.subject);
  CHECK(a.http_status == 404);
}

TEST_CASE("a route keeping seed 001's status answers missing or invalid credentials 403, with our message") {
  Rig rig;
  auto none = rig.Run(Req("GET", "/seed001"));
  CHECK(none.status == 403);
  CHECK(Body(none)["detail"] == "API key required (query param 'api_key' or header 'X-API-Key')");
  CHECK(none.Header("www-authenticate").empty());
  auto bad = rig.Run(Req("GET", "/seed001", {{"x-api-key", "sk-wrong-key-000"}}));
  CHECK(bad.status == 403);
  CHECK(Body(bad)["detail"] == "Invalid API key");
  CHECK(rig.Run(Req("GET", "/seed001", {{"x-api-key", "sk-ent-key-123"}})).status == 200);
  // Elsewhere the same refusal is 401 with its challenge.
  auto elsewhere = rig.Run(Req("GET", "/jobs/1"));
  CHECK(elsewhere.status == 401);
  CHECK(elsewhere.Header("www-authenticate") == "Bearer realm=\"api\"");
}

TEST_CASE("authorization filter: a route's role, or 403, a pending 401 is left alone") {
  AuthorizationFilter f;
  const Route admin{.prefix = "/audit/", .role = "admin"}, open{.prefix = "/jobs/"};
  RequestContext ctx{.request = Req("GET", "/audit/requests")};
  ctx.route = &admin;
  ctx.identity.method = "jwt";
  ctx.identity.roles = {"user"};
  REQUIRE(f.OnRequest(ctx) == FilterStatus::kStop);
  CHECK(ctx.reply->status == 403);
  CHECK(ctx.reason == "forbidden");
  RequestContext ok{.request = Req("GET", "/audit/requests")};
  ok.route = &admin;
  ok.identity.roles = {"admin"};
  CHECK(f.OnRequest(ok) == FilterStatus::kContinue);
  RequestContext any{.request = Req("GET", "/jobs/1")};
  any.route = &open;
  CHECK(f.OnRequest(any) == FilterStatus::kContinue);
  RequestContext pending{.request = Req("GET", "/audit/requests")};
  pending.route = &admin;
  pending.Defer(suite::core::ApiError(suite::core::ErrorCode::kUnauthenticated, "no"), "unauthenticated");
  CHECK(f.OnRequest(pending) == FilterStatus::kContinue);
}

TEST_CASE("authorization filter: a route's required scopes, roles and issuers, or 403 naming what is missing") {
  AuthorizationFilter f;
  Route route{.prefix = "/process"};
  route.require = {.scopes = {"process:write", "jobs:read"}, .roles = {"analyst"}, .issuers = {"keycloak", "auth-user"}};
  auto run = [&](suite::security::Identity id) {
    auto ctx = std::make_unique<RequestContext>(RequestContext{.request = Req("POST", "/process")});
    ctx->route = &route;
    ctx->identity = std::move(id);
    const auto status = f.OnRequest(*ctx);
    return std::make_pair(status, std::move(ctx));
  };
  suite::security::Identity good;
  good.method = "jwt";
  good.issuer = "keycloak";
  good.roles = {"analyst", "reader"};
  good.scopes = {"openid", "process:write", "jobs:read"};
  CHECK(run(good).first == FilterStatus::kContinue);
  auto from_auth_user = good;
  from_auth_user.issuer = "auth-user";
  CHECK(run(from_auth_user).first == FilterStatus::kContinue);
  // A scope missing: 403, the scope named in the body and in WWW-Authenticate (RFC 6750).
  auto narrow = good;
  narrow.scopes = {"process:write"};
  auto [status, ctx] = run(narrow);
  REQUIRE(status == FilterStatus::kStop);
  CHECK(ctx->reply->status == 403);
  CHECK(ctx->reason == "insufficient_scope");
  CHECK(ctx->reply->body.find("Scopes required: jobs:read") != std::string::npos);
  CHECK(ctx->reply->Header("www-authenticate") ==
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"jobs:read\"");
  // Everything missing at once: each named, the issuer first.
  suite::security::Identity shared;
  shared.method = "jwt";
  shared.issuer = "shared-secret";
  auto [status2, ctx2] = run(shared);
  REQUIRE(status2 == FilterStatus::kStop);
  CHECK(ctx2->reply->body.find("A token from keycloak, auth-user required; roles required: analyst; scopes required: "
                               "process:write, jobs:read") != std::string::npos);
  // An API key alone carries no token, so no issuer.
  suite::security::Identity key;
  key.method = "api_key";
  key.roles = {"analyst"};
  key.scopes = good.scopes;
  auto [status3, ctx3] = run(key);
  CHECK(status3 == FilterStatus::kStop);
  CHECK(ctx3->reason == "forbidden");
}

TEST_CASE("chain: the forwarded traceparent carries the request's trace id (the one in its logs)") {
  Rig rig;
  auto req = Req("POST", "/auth/login");
  req->trace_id = "0af7651916cd43dd8448eb211c80319c";
  FakeBody body(*req, "{}");
  REQUIRE(RunTask(rig.chain.Run(req, body)).status == 200);
  std::string tp;
  for (const auto& [k, v] : rig.upstream.seen.back().headers)
    if (k == "traceparent") tp = v;
  CHECK(suite::core::TraceIdOf(tp) == "0af7651916cd43dd8448eb211c80319c");
}

TEST_CASE("proxy: a route's own deadline goes with the request, capped by the identity's lifetime") {
  Rig rig;
  Proxy proxy(rig.signer, rig.local, rig.metrics, std::chrono::milliseconds(5000));
  Chain chain(proxy, 1 << 20);
  chain.Add<RouteFilter>(std::vector<Route>{
      {.prefix = "/slow", .methods = "GET", .auth = AuthPolicy::kNone, .upstream = &rig.upstream,
       .timeout = std::chrono::milliseconds(60'000)},
      {.prefix = "/fast", .methods = "GET", .auth = AuthPolicy::kNone, .upstream = &rig.upstream,
       .timeout = std::chrono::milliseconds(250)},
      {.prefix = "/plain", .methods = "GET", .auth = AuthPolicy::kNone, .upstream = &rig.upstream}});
  chain.Add<AuthnFilter>(AuthnFilter::Config{rig.keys, rig.hs, rig.hs_options, rig.es_options}, rig.signing);
  for (const char* path : {"/slow", "/fast", "/plain"}) {
    auto req = Req("GET", path);
    FakeBody body(*req, "");
    REQUIRE(RunTask(chain.Run(req, body)).status == 200);
  }
  REQUIRE(rig.upstream.seen.size() == 3);
  CHECK(rig.upstream.seen[0].timeout == std::chrono::milliseconds(5000));
  CHECK(rig.upstream.seen[1].timeout == std::chrono::milliseconds(250));
  CHECK_FALSE(rig.upstream.seen[2].timeout);
}

TEST_CASE("an unlimited key (API_KEYS only): no rate limit or quota asked of Redis, enterprise's body cap") {
  Rig rig;
  for (int i = 0; i < 20; ++i) {
    auto res = rig.Run(Req("POST", "/process", {{"x-api-key", "sk-bench-key-789"}, {"authorization", "Bearer " + rig.Jwt()}}), "{}");
    REQUIRE(res.status == 200);
    CHECK(res.Header("x-ratelimit-limit").empty());
  }
  CHECK(rig.backend.keys.empty());  // not one decision asked for
  auto ent = rig.Run(Req("POST", "/process", {{"x-api-key", "sk-ent-key-123"}, {"authorization", "Bearer " + rig.Jwt()}}), "{}");
  CHECK(ent.status == 200);
  CHECK(rig.backend.keys.size() == 1);  // the others still are
  std::string err;
  CHECK_FALSE(ApiKeyStore::Parse(R"([{"key":"sk-some-key-000","tier":"infinite"}])", err));
  CHECK(err == "tier must be free, pro, enterprise or unlimited");
}

TEST_CASE("chain: a gRPC call refused by the gateway is answered in gRPC's terms (Trailers-Only)") {
  Rig rig;
  // No credentials: 401 becomes grpc-status 16, the challenge kept.
  auto req = Req("POST", "/jobs/echo.Echo/Say", {{"content-type", "application/grpc"}, {"te", "trailers"}});
  auto res = rig.Run(req);
  CHECK(res.status == 200);
  CHECK(res.Header("content-type") == "application/grpc");
  CHECK(res.Header("grpc-status") == "16");
  CHECK(res.Header("grpc-message") == "Authentication required (API key or 'Authorization: Bearer <token>')");
  CHECK(res.Header("www-authenticate") == "Bearer realm=\"api\"");
  CHECK(res.body.empty());
  CHECK(rig.upstream.seen.empty());
  // Past the route's rate limit (5): 429 becomes 8 RESOURCE_EXHAUSTED, with Retry-After.
  std::string last;
  for (int i = 0; i < 6; ++i)
    last = std::string(rig.Run(Req("POST", "/jobs/echo.Echo/Say", {{"content-type", "application/grpc+proto"},
                                                                    {"x-api-key", "sk-ent-key-123"}}))
                           .Header("grpc-status"));
  CHECK(last == "8");
  // Not gRPC: the HTTP answer as before.
  Rig fresh;
  CHECK(fresh.Run(Req("POST", "/jobs/x", {{"content-type", "application/grpcx"}})).status == 401);
}

TEST_CASE("gRPC status of an HTTP status, and grpc-message's percent-encoding") {
  CHECK(gateway::GrpcStatusFor(200) == 0);
  CHECK(gateway::GrpcStatusFor(401) == 16);
  CHECK(gateway::GrpcStatusFor(403) == 7);
  CHECK(gateway::GrpcStatusFor(429) == 8);
  CHECK(gateway::GrpcStatusFor(502) == 14);
  CHECK(gateway::GrpcStatusFor(503) == 14);
  CHECK(gateway::GrpcStatusFor(504) == 14);
  CHECK(gateway::GrpcStatusFor(418) == 2);
  CHECK(gateway::GrpcPercentEncode("50% off\r\n\xc3\xa9") == "50%25 off%0D%0A%C3%A9");
}
