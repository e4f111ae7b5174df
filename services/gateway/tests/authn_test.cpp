#include <catch2/catch.hpp>

#include "authn.hpp"
#include "config.hpp"
#include "rate_limiter.hpp"
#include "suite/core/error.hpp"
#include "suite/testing/clock.hpp"

using namespace gateway;
using Catch::Matchers::Contains;

namespace {
const std::string kSecret = "0123456789abcdef0123456789abcdef";
const suite::security::JwtOptions kNone;
ApiKeyStore Keys() {
  std::string err;
  return *ApiKeyStore::Parse(R"([{"key":"sk-prod-key-123","name":"Prod","tier":"enterprise"},{"key":"sk-free-key-456"}])", err);
}
std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
suite::http::Request Req(std::string query, suite::http::Headers headers) {
  suite::http::Request r;
  r.query = std::move(query);
  r.SetHeaders(headers);
  r.remote_ip = "10.1.2.3";
  return r;
}
std::string Message(const suite::http::Request& r, AuthPolicy p) {
  try {
    const suite::security::Hs256 jwt(kSecret);
    Authenticate(r, p, Keys(), JwtVerifiers{jwt, kNone});
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kUnauthenticated);
    return e.what();
  }
  return "ok";
}
}  // namespace

TEST_CASE("API_KEYS: JSON list with tiers, or comma list") {
  std::string err;
  auto keys = Keys();
  CHECK(keys.size() == 2);
  CHECK(keys.Find("sk-prod-key-123")->tier == "enterprise");
  CHECK(keys.Find("sk-free-key-456")->name == "key-2");
  CHECK_FALSE(keys.Find("sk-prod-key-12"));
  auto plain = ApiKeyStore::Parse("my-secret-api-key-12345, other-key-678", err);
  REQUIRE(plain);
  CHECK(plain->Find("other-key-678")->name == "key-2");
  CHECK_FALSE(ApiKeyStore::Parse("short", err));
  CHECK(err == "every key must be at least 8 characters");
  CHECK_FALSE(ApiKeyStore::Parse(R"([{"key":"sk-xxxxxxxx","tier":"gold"}])", err));
  CHECK_FALSE(ApiKeyStore::Parse("[", err));
  CHECK_FALSE(ApiKeyStore::Parse(" , ", err));
}

TEST_CASE("POST /process needs both credentials, with seed 000's messages") {
  suite::security::Hs256 jwt(kSecret);
  const std::string token = jwt.Sign({{"sub", "testuser"}, {"exp", Now() + 3600}});
  auto ok = Authenticate(Req("api_key=sk-prod-key-123", {{"authorization", "Bearer " + token}}),
                         AuthPolicy::kApiKeyAndJwt, Keys(), JwtVerifiers{jwt, kNone});
  CHECK(ok.subject == "testuser");
  CHECK(ok.tier == "enterprise");
  CHECK(ok.method == "api_key+jwt");
  CHECK(ok.client_ip == "10.1.2.3");
  CHECK(Message(Req("", {{"x-api-key", "sk-prod-key-123"}, {"authorization", "bearer " + token}}),
                AuthPolicy::kApiKeyAndJwt) == "ok");
  CHECK(Message(Req("", {{"authorization", "Bearer " + token}}), AuthPolicy::kApiKeyAndJwt) ==
        "API key required (query param 'api_key' or header 'X-API-Key')");
  CHECK_THAT(Message(Req("api_key=sk-prod-key-123", {{"authorization", "Bearer invalid.jwt.token"}}),
                     AuthPolicy::kApiKeyAndJwt), Contains("Invalid JWT token: "));
  CHECK(Message(Req("api_key=wrong-key-000", {{"authorization", "Bearer " + token}}), AuthPolicy::kApiKeyAndJwt) ==
        "Invalid API key");
  CHECK_THAT(Message(Req("api_key=sk-prod-key-123", {}), AuthPolicy::kApiKeyAndJwt), Contains("JWT required"));
  const std::string expired = jwt.Sign({{"sub", "u"}, {"exp", Now() - 10}});
  CHECK_THAT(Message(Req("api_key=sk-prod-key-123", {{"authorization", "Bearer " + expired}}), AuthPolicy::kApiKeyAndJwt),
             Contains("expired"));
}

TEST_CASE("either credential on kAny routes, none on public ones") {
  suite::security::Hs256 jwt(kSecret);
  const std::string token = jwt.Sign({{"sub", "admin"}, {"roles", {"admin", "user"}}, {"exp", Now() + 60}});
  auto by_jwt = Authenticate(Req("", {{"authorization", "Bearer " + token}}), AuthPolicy::kAny, Keys(), JwtVerifiers{jwt, kNone});
  CHECK(by_jwt.method == "jwt");
  CHECK(by_jwt.subject == "admin");
  // A shared-secret token names its holder but grants no role: anyone with JWT_SECRET could mint one.
  CHECK_FALSE(by_jwt.HasRole("admin"));
  CHECK(by_jwt.roles.empty());
  auto by_key = Authenticate(Req("", {{"x-api-key", "sk-free-key-456"}}), AuthPolicy::kAny, Keys(), JwtVerifiers{jwt, kNone});
  CHECK(by_key.method == "api_key");
  CHECK(by_key.subject == "api-key:key-2");
  CHECK_THAT(Message(Req("", {}), AuthPolicy::kAny), Contains("Authentication required"));
  CHECK(Authenticate(Req("", {}), AuthPolicy::kNone, Keys(), JwtVerifiers{jwt, kNone}).method == "none");
}

TEST_CASE("daily quota key turns over at midnight UTC") {
  suite::testing::FakeClock clock(1'795'564'799);  // 2026-11-24T23:59:59Z
  CHECK(RedisRateLimiter::QuotaKey("{key:k1}", clock) == "q:{key:k1}:20781");
  CHECK(RedisRateLimiter::SecondsToMidnight(clock) == 1);
  clock.Advance(std::chrono::seconds(1));
  CHECK(RedisRateLimiter::QuotaKey("{key:k1}", clock) == "q:{key:k1}:20782");
  CHECK(RedisRateLimiter::SecondsToMidnight(clock) == 86'400);
}

TEST_CASE("rate-limit buckets: API key, else user, else client address") {
  suite::security::Identity id;
  id.method = "none";
  CHECK(RateBucket(id, "10.0.0.1") == "{ip:10.0.0.1}");
  id.method = "jwt";
  id.subject = "alice";
  CHECK(RateBucket(id, "10.0.0.1") == "{user:alice}");
  id.api_key_id = "Prod";
  CHECK(RateBucket(id, "10.0.0.1") == "{key:Prod}");
  CHECK(RedisRateLimiter::WindowKey("{key:Prod}") == "rl:{key:Prod}");
}

TEST_CASE("rate limits by tier (seed 003), one limit for all when seed 001's is set") {
  RateLimitConfig rl;
  CHECK(rl.LimitFor("free") == 10);
  CHECK(rl.LimitFor("pro") == 60);
  CHECK(rl.LimitFor("enterprise") == 300);
  CHECK(rl.LimitFor("anonymous") == 100);
  CHECK(rl.LimitFor("") == 100);
  suite::core::Env env("gateway-test");
  setenv("RATE_LIMIT_REQUESTS", "42", 1);
  setenv("TLS_CERT_FILE", "x", 1);
  setenv("TLS_KEY_FILE", "x", 1);
  setenv("API_KEYS", "sk-test-key-1", 1);
  setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
  setenv("INTERNAL_TOKEN_SECRET", "fedcba9876543210fedcba9876543210", 1);
  setenv("REDIS_URL", "redis://127.0.0.1:6379", 1);
  const auto c = Config::FromEnv(env);
  CHECK(env.errors().empty());
  CHECK(c.rate_limit.single);
  CHECK(c.rate_limit.LimitFor("enterprise") == 42);
  CHECK(c.rate_limit.LimitFor("anonymous") == 42);
  unsetenv("RATE_LIMIT_REQUESTS");
}

TEST_CASE("a JWT whose exp is a float, or beyond the lifetime cap, is refused") {
  suite::security::Hs256 jwt(kSecret);
  const suite::security::JwtOptions day{.max_lifetime = std::chrono::seconds(86400)};
  auto with = [&](nlohmann::json claims) {
    return Req("", {{"x-api-key", "sk-prod-key-123"}, {"authorization", "Bearer " + jwt.Sign(claims)}});
  };
  CHECK_THROWS_WITH(Authenticate(with({{"sub", "a"}, {"exp", 1e308}}), AuthPolicy::kApiKeyAndJwt, Keys(), JwtVerifiers{jwt, day}),
                    Contains("not an integer"));
  CHECK_THROWS_WITH(Authenticate(with({{"sub", "a"}, {"exp", Now() + 2 * 86400}}), AuthPolicy::kApiKeyAndJwt, Keys(), JwtVerifiers{jwt, day}),
                    Contains("lifetime"));
  CHECK(Authenticate(with({{"sub", "a"}, {"exp", Now() + 3600}}), AuthPolicy::kApiKeyAndJwt, Keys(), JwtVerifiers{jwt, day}).subject == "a");
}

TEST_CASE("an encoded api_key query parameter authenticates") {
  auto id = Authenticate(Req("api%5Fkey=sk-prod-key-123", {}), AuthPolicy::kAny, Keys(), JwtVerifiers{suite::security::Hs256(kSecret), kNone});
  CHECK(id.api_key_id == "Prod");
}

TEST_CASE("auth-user's ES256 tokens verify with its published keys, with their roles") {
  const suite::security::Hs256 hs(kSecret);
  const auto key = suite::security::EcKey::Generate();
  suite::security::JwkSet set;
  set.Add("k1", suite::security::EcKey::FromJwk(key.PublicJwk("k1")));
  const suite::security::JwtOptions none, es{.issuer = std::string("suite-auth"), .audience = std::string("suite-api")};
  const JwtVerifiers v{hs, none, &set, &es};
  auto bearer = [](const std::string& t) { return Req("", {{"authorization", "Bearer " + t}}); };
  const nlohmann::json claims = {{"iss", "suite-auth"}, {"aud", "suite-api"}, {"sub", "alice"},
                                 {"roles", {"admin", "user"}}, {"exp", Now() + 60}};
  const auto id = Authenticate(bearer(suite::security::SignEs256(key, "k1", claims)), AuthPolicy::kAny, Keys(), v);
  CHECK(id.subject == "alice");
  CHECK(id.HasRole("admin"));
  CHECK(id.method == "jwt");
  // A kid we do not hold: the caller may fetch the keys and try again.
  CHECK_THROWS_AS(Authenticate(bearer(suite::security::SignEs256(key, "k2", claims)), AuthPolicy::kAny, Keys(), v),
                  UnknownSigningKey);
  CHECK_THROWS_AS(Authenticate(bearer("not.a.token"), AuthPolicy::kAny, Keys(), v), InvalidToken);
  // Another audience, or another signer under a known kid.
  auto other = claims;
  other["aud"] = "elsewhere";
  CHECK_THROWS_WITH(Authenticate(bearer(suite::security::SignEs256(key, "k1", other)), AuthPolicy::kAny, Keys(), v),
                    Contains("Invalid audience"));
  CHECK_THROWS_WITH(Authenticate(bearer(suite::security::SignEs256(suite::security::EcKey::Generate(), "k1", claims)),
                                 AuthPolicy::kAny, Keys(), v),
                    Contains("Signature verification failed"));
  // Without a key set an ES256 token meets the HS256 verifier, which refuses its algorithm.
  CHECK_THROWS_WITH(Authenticate(bearer(suite::security::SignEs256(key, "k1", claims)), AuthPolicy::kAny, Keys(),
                                 JwtVerifiers{hs, kNone}),
                    Contains("alg value is not allowed"));
  // HS256 tokens keep working beside it.
  CHECK(Authenticate(bearer(hs.Sign({{"sub", "bob"}, {"exp", Now() + 60}})), AuthPolicy::kAny, Keys(), v).subject == "bob");
}

TEST_CASE("RS256 tokens from a JWKS key verify with their roles, and only as RS256") {
  const suite::security::Hs256 hs(kSecret);
  const auto rsa = suite::security::RsaKey::Generate(2048);
  const auto ec = suite::security::EcKey::Generate();
  const auto set = suite::security::JwkSet::FromJwks({{"keys", {rsa.PublicJwk("r1"), ec.PublicJwk("e1")}}});
  const suite::security::JwtOptions none, es{.issuer = std::string("suite-auth"), .audience = std::string("suite-api")};
  const JwtVerifiers v{hs, none, &set, &es};
  auto bearer = [](const std::string& t) { return Req("", {{"authorization", "Bearer " + t}}); };
  const nlohmann::json claims = {{"iss", "suite-auth"}, {"aud", "suite-api"}, {"sub", "carol"},
                                 {"roles", {"admin"}}, {"exp", Now() + 60}};
  const auto id = Authenticate(bearer(suite::security::SignRs256(rsa, "r1", claims)), AuthPolicy::kJwt, Keys(), v);
  CHECK(id.subject == "carol");
  CHECK(id.HasRole("admin"));
  // The EC key's kid under RS256: refused, not tried with another verifier.
  CHECK_THROWS_WITH(Authenticate(bearer(suite::security::SignRs256(rsa, "e1", claims)), AuthPolicy::kJwt, Keys(), v),
                    Contains("alg value is not allowed"));
  // An HS256 token claiming admin still gets no role.
  CHECK_FALSE(Authenticate(bearer(hs.Sign(claims)), AuthPolicy::kJwt, Keys(), v).HasRole("admin"));
}

TEST_CASE("token cache: a verified token is taken again without its signature until exp or the ttl") {
  using namespace std::chrono;
  TokenCache cache({.entries = 3, .bytes = 1 << 20, .ttl = seconds(60)});
  const auto t0 = system_clock::time_point(seconds(1'000'000));
  cache.Put("tok-a", {.subject = "alice", .roles = {"admin"}, .from_jwks = true}, t0 + seconds(30), t0);
  auto hit = cache.Find("tok-a", t0 + seconds(10));
  REQUIRE(hit);
  CHECK(hit->subject == "alice");
  CHECK(hit->from_jwks);
  CHECK_FALSE(cache.Find("tok-a", t0 + seconds(30)));  // at exp (+ leeway): verified afresh (and refused)
  CHECK_FALSE(cache.Find("tok-A", t0));                 // exact text only
  cache.Put("tok-b", {.subject = "bob"}, t0 + hours(10), t0);
  CHECK(cache.Find("tok-b", t0 + seconds(59)));
  CHECK_FALSE(cache.Find("tok-b", t0 + seconds(60)));  // the ttl bounds a long-lived token
  cache.Put("tok-old", {}, t0 - seconds(1), t0);         // already expired: not kept
  CHECK_FALSE(cache.Find("tok-old", t0 - seconds(2)));
  // Bounded: a fourth token pushes out the oldest.
  cache.Put("tok-c", {}, t0 + seconds(30), t0);
  cache.Put("tok-d", {}, t0 + seconds(30), t0);
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.Find("tok-a", t0 + seconds(1)));
  CHECK(cache.Find("tok-d", t0 + seconds(1)));
  TokenCache small({.entries = 100, .bytes = 2000});
  small.Put(std::string(600, 'x'), {}, t0 + seconds(30), t0);
  small.Put(std::string(600, 'y'), {}, t0 + seconds(30), t0);  // bytes: the first goes
  CHECK(small.size() == 1);
  CHECK(small.Find(std::string(600, 'y'), t0));
}

TEST_CASE("authentication takes a cached token's claims, a tampered or expired token is still refused") {
  suite::security::Hs256 jwt(kSecret);
  TokenCache cache;
  const std::string token = jwt.Sign({{"sub", "cached-user"}, {"exp", Now() + 3600}});
  auto req = Req("", {{"x-api-key", "sk-prod-key-123"}, {"authorization", "Bearer " + token}});
  const JwtVerifiers verifiers{jwt, kNone, nullptr, nullptr, &cache};
  CHECK(Authenticate(req, AuthPolicy::kApiKeyAndJwt, Keys(), verifiers).subject == "cached-user");
  CHECK(cache.hits() == 0);
  const auto again = Authenticate(req, AuthPolicy::kApiKeyAndJwt, Keys(), verifiers);
  CHECK(cache.hits() == 1);
  CHECK(again.subject == "cached-user");
  CHECK(again.method == "api_key+jwt");
  CHECK(again.roles.empty());  // an HS256 token grants no role, cached or not
  auto tampered = req;
  tampered.headers[1].second = tampered.Keep("Bearer " + token.substr(0, token.size() - 2) + (token.back() == 'A' ? "BB" : "AA"));
  CHECK_THROWS_AS(Authenticate(tampered, AuthPolicy::kApiKeyAndJwt, Keys(), verifiers), InvalidToken);
  const std::string expired = jwt.Sign({{"sub", "late"}, {"exp", Now() - 10}});
  auto late = Req("", {{"x-api-key", "sk-prod-key-123"}, {"authorization", "Bearer " + expired}});
  CHECK_THROWS_AS(Authenticate(late, AuthPolicy::kApiKeyAndJwt, Keys(), verifiers), InvalidToken);
  CHECK(cache.size() == 1);
}
