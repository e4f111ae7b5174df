// Issuers configured beside auth-user (issuers.hpp): their configuration, the claim layouts of
// Keycloak, Auth0 and Entra ID as their documentation gives them, and authentication through
// them with keys of the test's own.
#include <catch2/catch.hpp>

#include "authn.hpp"
#include "config_file.hpp"
#include "issuers.hpp"
#include "oidc_fetch.hpp"
#include "suite/core/error.hpp"

using namespace gateway;
using Catch::Matchers::Contains;
namespace sec = suite::security;

namespace {

std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* const kKeycloak = R"({
  "name": "keycloak",
  "issuer": "https://kc.example.com/realms/acme",
  "discovery_url": "https://kc.example.com/realms/acme/.well-known/openid-configuration",
  "audiences": ["suite-api"],
  "algorithms": ["RS256"],
  "claims": {"subject": "sub", "roles": "realm_access.roles", "scopes": "scope", "tier": "tier"}
})";
const char* const kAuth0 = R"({
  "name": "auth0",
  "issuer": "https://acme.eu.auth0.com/",
  "jwks_uri": "https://acme.eu.auth0.com/.well-known/jwks.json",
  "audiences": ["https://api.acme.example"],
  "algorithms": ["RS256", "PS256"],
  "clock_skew_seconds": 10,
  "claims": {"roles": "https://acme.example/roles", "scopes": "permissions", "tier": "https://acme.example/tier"},
  "default_tier": "pro"
})";
const char* const kEntra = R"({
  "name": "entra",
  "issuer": "https://login.microsoftonline.com/0000-tenant/v2.0",
  "discovery_url": "https://login.microsoftonline.com/0000-tenant/v2.0/.well-known/openid-configuration",
  "audiences": ["api://suite"],
  "algorithms": ["RS256"],
  "claims": {"subject": "oid", "roles": "roles", "scopes": "scp"}
})";

std::vector<IssuerSpec> Read(const std::string& issuers, std::vector<std::string>& errors) {
  return FileConfig::Read(nlohmann::json::parse("{\"issuers\": [" + issuers + "]}"), errors).issuers;
}

std::vector<std::string> Errors(const std::string& issuer) {
  std::vector<std::string> errors;
  Read(issuer, errors);
  return errors;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

// A fixed set of keys (the JWKS cache in the gateway).
class FixedKeys final : public SigningKeys {
 public:
  explicit FixedKeys(sec::JwkSet set) : set_(std::make_shared<const sec::JwkSet>(std::move(set))) {}
  std::shared_ptr<const sec::JwkSet> Keys() const override { return set_; }
  suite::http::Task<bool> Refetch() override { co_return true; }

 private:
  std::shared_ptr<const sec::JwkSet> set_;
};

suite::http::Request Bearer(const std::string& token) {
  suite::http::Request r;
  r.SetHeaders({{"authorization", "Bearer " + token}});
  r.remote_ip = "10.1.2.3";
  return r;
}

}  // namespace

TEST_CASE("issuers: Keycloak, Auth0 and Entra ID blocks are read, with their defaults") {
  std::vector<std::string> errors;
  const auto specs = Read(std::string(kKeycloak) + "," + kAuth0 + "," + kEntra, errors);
  INFO(Joined(errors));
  REQUIRE(errors.empty());
  REQUIRE(specs.size() == 3);
  CHECK(specs[0].name == "keycloak");
  CHECK(specs[0].discovery_url.has_value());
  CHECK_FALSE(specs[0].jwks_uri.has_value());
  CHECK(specs[0].roles->text() == "realm_access.roles");
  CHECK(specs[0].clock_skew == std::chrono::seconds(30));
  CHECK(specs[0].default_tier == "free");
  CHECK(specs[0].refresh == std::chrono::seconds(300));
  CHECK(specs[1].algorithms == std::vector<std::string>{"RS256", "PS256"});
  CHECK(specs[1].subject.text() == "sub");
  CHECK(specs[1].default_tier == "pro");
  CHECK(specs[2].subject.text() == "oid");
  const auto options = specs[1].Options();
  CHECK(options.issuer == "https://acme.eu.auth0.com/");
  CHECK(options.audiences == std::vector<std::string>{"https://api.acme.example"});
  CHECK(options.leeway == std::chrono::seconds(10));
}

TEST_CASE("issuers: what would weaken them is refused with its path") {
  const std::string base = R"("name": "x", "issuer": "https://x.example", "jwks_uri": "https://x.example/jwks")";
  // No audience: any token the provider issued to any client would pass.
  CHECK_THAT(Joined(Errors("{" + base + "}")), Contains("/issuers/0/audiences: at least one audience is required"));
  const std::string ok = base + R"(, "audiences": ["a"])";
  CHECK(Errors("{" + ok + "}").empty());
  for (const char* alg : {"HS256", "none", "RS512", "ES384"})
    CHECK_THAT(Joined(Errors("{" + ok + R"(, "algorithms": [")" + alg + "\"]}")),
               Contains("/issuers/0/algorithms: \"" + std::string(alg) + "\" is not one of RS256, PS256, ES256, EdDSA"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "algorithms": []})")), Contains("at least one algorithm"));
  CHECK_THAT(Joined(Errors(R"({"name": "x", "issuer": "i", "audiences": ["a"]})")),
             Contains("one of discovery_url and jwks_uri is required"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "discovery_url": "https://x.example/d"})")),
             Contains("one of discovery_url and jwks_uri is required (not both)"));
  for (const char* url : {"ftp://x.example/jwks", "file:///etc/passwd", "https://user:pw@x.example/jwks",
                          "https:///nohost", "not a url", "https://x.example/jwks#frag"})
    CHECK_THAT(Joined(Errors(R"({"name": "x", "issuer": "i", "audiences": ["a"], "jwks_uri": ")" + std::string(url) +
                             "\"}")),
               Contains("/issuers/0/jwks_uri: must be an http(s) URL"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "default_tier": "anonymous"})")), Contains("must be a configured tier"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "default_tier": "gold"})")), Contains("must be a configured tier"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "claims": {"roles": "a..b"}})")), Contains("/issuers/0/claims/roles"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "claims": {"roles": "a.b.c.d.e.f.g.h.i"}})")), Contains("/issuers/0/claims/roles"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "claims": {"groups": "g"}})")), Contains("/issuers/0/claims"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "clock_skew_seconds": 3600})")), Contains("clock_skew_seconds"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "max_document_bytes": 100000000})")), Contains("max_document_bytes"));
  CHECK_THAT(Joined(Errors("{" + ok + R"(, "secret": "s"})")), Contains("/issuers/0"));
  CHECK_THAT(Joined(Errors(R"({"name": "api-key", "issuer": "i", "audiences": ["a"], "jwks_uri": "https://x/j"})")),
             Contains("\"api-key\" is taken"));
  CHECK_THAT(Joined(Errors(R"({"name": "Bad Name", "issuer": "i", "audiences": ["a"], "jwks_uri": "https://x/j"})")),
             Contains("/issuers/0/name"));
  // Two issuers with one `iss`: a token could not be matched to one of them.
  CHECK_THAT(Joined(Errors("{" + ok + "}, {" + R"("name": "y", "issuer": "https://x.example", "audiences": ["a"],
                           "jwks_uri": "https://y.example/jwks"})")),
             Contains("/issuers/1/issuer: another issuer has the same iss"));
  CHECK_THAT(Joined(Errors("{" + ok + "}, {" + ok + "}")), Contains("duplicate issuer \"x\""));
}

TEST_CASE("routes: require names scopes, roles and known issuers, and needs an auth policy") {
  const auto read = [](const std::string& route, const std::string& issuers = "") {
    std::vector<std::string> errors;
    const auto c = FileConfig::Read(nlohmann::json::parse(R"({"routes": [)" + route + "]" +
                                                          (issuers.empty() ? "" : ", \"issuers\": [" + issuers + "]") + "}"),
                                    errors);
    return std::make_pair(c, Joined(errors));
  };
  const std::string base = R"("prefix": "/process", "methods": ["POST"], "upstream": "processing")";
  auto [ok, none] = read("{" + base + R"(, "require": {"scopes": ["process:write"], "roles": ["analyst"],
                                         "issuers": ["keycloak", "auth-user", "shared-secret"]}})",
                         kKeycloak);
  INFO(none);
  CHECK(none.empty());
  REQUIRE(ok.routes.size() == 1);
  CHECK(ok.routes[0].require.scopes == std::vector<std::string>{"process:write"});
  CHECK(ok.routes[0].require.issuers.size() == 3);
  CHECK_THAT(read("{" + base + R"(, "require": {"issuers": ["okta"]}})").second,
             Contains("/routes/0/require/issuers: \"okta\" is not auth-user, shared-secret or a configured issuer's name"));
  CHECK_THAT(read("{" + base + R"(, "auth": "none", "require": {"scopes": ["a"]}})").second,
             Contains("/routes/0/require: needs an auth policy other than none"));
  CHECK_THAT(read("{" + base + R"(, "require": {"scopes": ["a b"]}})").second, Contains("/routes/0/require/scopes"));
  CHECK_THAT(read("{" + base + R"(, "require": {"groups": ["a"]}})").second, Contains("/routes/0/require"));
  // Seed 001's status for missing credentials: 401 or 403 only; the token endpoint's pass-through
  // only where the gateway checks no credentials.
  CHECK(read("{" + base + R"(, "unauthenticated_status": 403})").first.routes.at(0).unauthenticated_status == 403);
  CHECK_THAT(read("{" + base + R"(, "unauthenticated_status": 402})").second, Contains("must be 401 or 403"));
  CHECK_THAT(read("{" + base + R"(, "unauthenticated_status": 500})").second, Contains("unauthenticated_status"));
  CHECK_THAT(read("{" + base + R"(, "pass_authorization": true})").second, Contains("only on a route with auth \"none\""));
  CHECK_THAT(Joined(Errors(R"({"name": "auth-user", "issuer": "i", "audiences": ["a"], "jwks_uri": "https://x/j"})")),
             Contains("is taken"));
}

TEST_CASE("issuers: the claim layouts of Keycloak, Auth0 and Entra ID map to subject, roles, scopes and tier") {
  std::vector<std::string> errors;
  const auto specs = Read(std::string(kKeycloak) + "," + kAuth0 + "," + kEntra, errors);
  REQUIRE(errors.empty());
  const std::set<std::string> tiers = {"free", "pro", "enterprise"};
  // Keycloak: realm roles under realm_access, scopes as one space-separated string.
  const auto kc = MapClaims(specs[0],
                            {{"sub", "f1e2-7a"}, {"preferred_username", "alice"},
                             {"realm_access", {{"roles", {"admin", "offline_access"}}}},
                             {"resource_access", {{"suite-api", {{"roles", {"reader"}}}}}},
                             {"scope", "openid profile process:write"}, {"tier", "enterprise"}},
                            tiers);
  CHECK(kc.subject == "keycloak:f1e2-7a");
  CHECK(kc.roles == std::vector<std::string>{"admin", "offline_access"});
  CHECK(kc.scopes == std::vector<std::string>{"openid", "profile", "process:write"});
  CHECK(kc.tier == "enterprise");
  CHECK(kc.issuer == "keycloak");
  CHECK(kc.from_jwks);
  // Auth0: namespaced custom claims (a URL is one claim name), permissions as an array.
  const auto a0 = MapClaims(specs[1],
                            {{"sub", "auth0|64b0"}, {"https://acme.example/roles", {"support"}},
                             {"permissions", {"process:write", "jobs:read"}}, {"scope", "openid"},
                             {"https://acme.example/tier", "platinum"}},
                            tiers);
  CHECK(a0.subject == "auth0:auth0|64b0");
  CHECK(a0.roles == std::vector<std::string>{"support"});
  CHECK(a0.scopes == std::vector<std::string>{"process:write", "jobs:read"});
  CHECK(a0.tier == "pro");  // an unknown tier: the issuer's default
  // Entra ID: the object id as subject, app roles as an array, delegated scopes in `scp`.
  const auto en = MapClaims(specs[2],
                            {{"sub", "pairwise-sub"}, {"oid", "00000000-0000-0000-0000-00000000beef"},
                             {"roles", {"Jobs.Admin"}}, {"scp", "Process.Write  Jobs.Read"}, {"tid", "0000-tenant"}},
                            tiers);
  CHECK(en.subject == "entra:00000000-0000-0000-0000-00000000beef");
  CHECK(en.roles == std::vector<std::string>{"Jobs.Admin"});
  CHECK(en.scopes == std::vector<std::string>{"Process.Write", "Jobs.Read"});
  CHECK(en.tier == "free");
  // No subject where the issuer says it is, or not a string: refused.
  CHECK_THROWS_WITH(MapClaims(specs[2], {{"sub", "s"}}, tiers), Contains("Token has no usable subject (oid)"));
  CHECK_THROWS_AS(MapClaims(specs[0], {{"sub", 42}}, tiers), sec::JwtError);
  CHECK_THROWS_AS(MapClaims(specs[0], {{"sub", ""}}, tiers), sec::JwtError);
  // What a token may bring is bounded: 64 values, each at most 256 bytes, no repeats.
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 1000; ++i) many.push_back("r" + std::to_string(i % 500));
  many.push_back(std::string(300, 'x'));
  const auto bounded = MapClaims(specs[0], {{"sub", "s"}, {"realm_access", {{"roles", many}}}, {"scope", 7}}, tiers);
  CHECK(bounded.roles.size() == kMaxClaimValues);
  CHECK(bounded.scopes.empty());
  // Roles of another shape (an object, numbers) are not taken.
  CHECK(MapClaims(specs[0], {{"sub", "s"}, {"realm_access", {{"roles", {{"admin", true}}}}}}, tiers).roles.empty());
  CHECK(MapClaims(specs[0], {{"sub", "s"}, {"realm_access", {1, 2}}}, tiers).roles.empty());
}

TEST_CASE("issuers: a token is checked with its own issuer's keys and rules, an unknown iss is refused") {
  std::vector<std::string> errors;
  auto specs = Read(std::string(kKeycloak) + "," + kAuth0, errors);
  REQUIRE(errors.empty());
  const IssuerSet set(specs);
  const auto kc_key = sec::RsaKey::Generate(2048), a0_key = sec::RsaKey::Generate(2048);
  const auto au_key = sec::EcKey::Generate();
  FixedKeys kc_keys(sec::JwkSet::FromJwks({{"keys", {kc_key.PublicJwk("kc1")}}}));
  // Auth0's key published without an `alg`: RS256 and PS256 both (the issuer allows both).
  auto a0_jwk = a0_key.PublicJwk("a01");
  a0_jwk.erase("alg");
  FixedKeys a0_keys(sec::JwkSet::FromJwks({{"keys", {a0_jwk}}}));
  const ForeignIssuers foreign{set, {&kc_keys, &a0_keys}, {"free", "pro", "enterprise"}};
  const auto auth_user = sec::JwkSet::FromJwks({{"keys", {au_key.PublicJwk("au1")}}});
  const sec::Hs256 hs("0123456789abcdef0123456789abcdef");
  const sec::JwtOptions none, es{.issuer = std::string("suite-auth"), .audience = std::string("suite-api")};
  const JwtVerifiers v{hs, none, &auth_user, &es, nullptr, &foreign};
  ApiKeyStore no_keys;
  auto auth = [&](const std::string& token) { return Authenticate(Bearer(token), AuthPolicy::kJwt, no_keys, v); };
  const nlohmann::json kc = {{"iss", "https://kc.example.com/realms/acme"}, {"aud", {"account", "suite-api"}},
                             {"sub", "u-1"}, {"exp", Now() + 300}, {"realm_access", {{"roles", {"admin"}}}},
                             {"scope", "process:write"}, {"tier", "pro"}};

  const auto id = auth(sec::SignRs256(kc_key, "kc1", kc));
  CHECK(id.subject == "keycloak:u-1");
  CHECK(id.HasRole("admin"));
  CHECK(id.scopes == std::vector<std::string>{"process:write"});
  CHECK(id.tier == "pro");
  CHECK(id.issuer == "keycloak");
  CHECK(id.method == "jwt");
  // auth-user's own tokens keep their path, and their issuer's keys.
  const nlohmann::json au = {{"iss", "suite-auth"}, {"aud", "suite-api"}, {"sub", "alice"}, {"roles", {"admin"}},
                             {"exp", Now() + 60}};
  const auto alice = auth(sec::SignEs256(au_key, "au1", au));
  CHECK(alice.subject == "alice");
  CHECK(alice.issuer == "auth-user");
  CHECK(alice.tier == "free");
  // An iss nobody configured: refused before any key is looked at (no fetch).
  auto stranger = kc;
  stranger["iss"] = "https://evil.example";
  CHECK_THROWS_WITH(auth(sec::SignRs256(kc_key, "kc1", stranger)), Contains("Invalid issuer"));
  // Keycloak's iss over a key of Auth0's set, or of auth-user's: not this issuer's key.
  CHECK_THROWS_AS(auth(sec::SignRs256(a0_key, "a01", kc)), UnknownSigningKey);
  // An algorithm Keycloak is not configured for: refused before its kid is looked up.
  CHECK_THROWS_WITH(auth(sec::SignEs256(au_key, "au1", kc)), Contains("alg value is not allowed"));
  // auth-user's iss signed with Keycloak's key: auth-user's keys do not hold it.
  CHECK_THROWS_AS(auth(sec::SignRs256(kc_key, "kc1", au)), UnknownSigningKey);
  // A kid the issuer has not published: the caller fetches that issuer's keys and tries again.
  try {
    auth(sec::SignRs256(kc_key, "kc2", kc));
    FAIL("accepted");
  } catch (const UnknownSigningKey& e) {
    CHECK(e.issuer == 0);
  }
  try {
    auth(sec::SignRs256(a0_key, "a02", {{"iss", "https://acme.eu.auth0.com/"}, {"aud", "https://api.acme.example"},
                                        {"sub", "s"}, {"exp", Now() + 60}}));
    FAIL("accepted");
  } catch (const UnknownSigningKey& e) {
    CHECK(e.issuer == 1);
  }
  // Its rules: the audience, the algorithms it allows, its clock skew.
  auto other_aud = kc;
  other_aud["aud"] = "account";
  CHECK_THROWS_WITH(auth(sec::SignRs256(kc_key, "kc1", other_aud)), Contains("Invalid audience"));
  CHECK_THROWS_WITH(auth(sec::SignPs256(kc_key, "kc1", kc)), Contains("alg value is not allowed"));
  auto skewed = kc;
  skewed["exp"] = Now() - 20;  // within Keycloak's 30 s
  CHECK(auth(sec::SignRs256(kc_key, "kc1", skewed)).subject == "keycloak:u-1");
  skewed["exp"] = Now() - 40;
  CHECK_THROWS_WITH(auth(sec::SignRs256(kc_key, "kc1", skewed)), Contains("expired"));
  const nlohmann::json a0 = {{"iss", "https://acme.eu.auth0.com/"}, {"aud", "https://api.acme.example"},
                             {"sub", "auth0|1"}, {"exp", Now() - 20}};
  CHECK_THROWS_WITH(auth(sec::SignPs256(a0_key, "a01", a0)), Contains("expired"));  // Auth0's skew is 10 s
  auto a0_now = a0;
  a0_now["exp"] = Now() + 60;
  CHECK(auth(sec::SignPs256(a0_key, "a01", a0_now)).subject == "auth0:auth0|1");
  CHECK(auth(sec::SignRs256(a0_key, "a01", a0_now)).tier == "pro");
  // An HS256 token naming a configured iss meets the shared secret, never the issuer's keys.
  CHECK_THROWS_WITH(auth(hs.Sign(kc) + "x"), Contains("Signature verification failed"));
  const auto shared = auth(hs.Sign(kc));
  CHECK(shared.issuer == "shared-secret");
  CHECK_FALSE(shared.HasRole("admin"));
  CHECK(shared.subject == "u-1");
  // No subject where Keycloak puts it.
  auto anonymous = kc;
  anonymous.erase("sub");
  CHECK_THROWS_WITH(auth(sec::SignRs256(kc_key, "kc1", anonymous)), Contains("no usable subject"));
}

TEST_CASE("discovery documents: the issuer must match and the jwks_uri must be usable") {
  std::vector<std::string> errors;
  const auto spec = Read(kKeycloak, errors).at(0);
  std::string error;
  const nlohmann::json good = {{"issuer", "https://kc.example.com/realms/acme"},
                               {"jwks_uri", "https://kc.example.com/realms/acme/protocol/openid-connect/certs"},
                               {"id_token_signing_alg_values_supported", {"RS256"}}};
  CHECK(JwksUriOf(spec, good.dump(), error) == "https://kc.example.com/realms/acme/protocol/openid-connect/certs");
  auto other = good;
  other["issuer"] = "https://kc.example.com/realms/other";
  CHECK_FALSE(JwksUriOf(spec, other.dump(), error));
  CHECK(error == "the discovery document names another issuer");
  auto http = good;
  http["jwks_uri"] = "http://kc.example.com/certs";
  CHECK_FALSE(JwksUriOf(spec, http.dump(), error));
  CHECK_THAT(error, Contains("over http"));
  for (const nlohmann::json& bad : {nlohmann::json("ftp://kc/certs"), nlohmann::json(7), nlohmann::json(nullptr),
                                    nlohmann::json("https://u:p@kc/certs"), nlohmann::json(std::string(3000, 'a'))}) {
    auto doc = good;
    doc["jwks_uri"] = bad;
    CHECK_FALSE(JwksUriOf(spec, doc.dump(), error));
  }
  CHECK_FALSE(JwksUriOf(spec, "[]", error));
  CHECK_FALSE(JwksUriOf(spec, std::string(300 * 1024, ' ') + good.dump(), error));  // past max_document_bytes
  CHECK_FALSE(JwksUriOf(spec, std::string(100'000, '[') + std::string(100'000, ']'), error));
}
