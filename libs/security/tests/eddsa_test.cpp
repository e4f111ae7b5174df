#include <catch2/catch.hpp>

#include "suite/security/eddsa.hpp"
#include "suite/security/es256.hpp"

using namespace suite::security;

namespace {
std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
nlohmann::json Claims() { return {{"sub", "alice"}, {"exp", Now() + 60}}; }
}  // namespace

TEST_CASE("EdDSA: RFC 8037 A.4's signature verifies with its published key") {
  const auto key = EdKey::FromJwk({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}});
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  const auto sig =
      Base64UrlDecode("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  REQUIRE(sig);
  CHECK(key.Verify(input, *sig));
  CHECK_FALSE(key.Verify(input + "x", *sig));
  CHECK_FALSE(key.has_private());
}

TEST_CASE("EdDSA: sign, publish, verify, and forged, confused and malformed tokens are refused") {
  const auto key = EdKey::Generate();
  const auto ec = EcKey::Generate();
  const auto set = JwkSet::FromJwks({{"keys", {key.PublicJwk("ed"), ec.PublicJwk("ec")}}});
  REQUIRE(set.size() == 2);
  const auto token = SignEdDsa(key, "ed", Claims());
  CHECK(set.Verify(token)["sub"] == "alice");
  // Another key under the same kid; a kid the set does not hold; a tampered payload.
  CHECK_THROWS_WITH(set.Verify(SignEdDsa(EdKey::Generate(), "ed", Claims())), "Signature verification failed");
  CHECK_THROWS_WITH(set.Verify(SignEdDsa(key, "other", Claims())), "Unknown signing key");
  const auto dot = token.find('.'), dot2 = token.find('.', dot + 1);
  const auto forged = Base64UrlEncode(nlohmann::json{{"sub", "admin"}, {"exp", Now() + 60}}.dump());
  CHECK_THROWS_WITH(set.Verify(token.substr(0, dot + 1) + forged + token.substr(dot2)), "Signature verification failed");
  // Algorithm confusion both ways: an EdDSA token naming the EC key, an ES256 one naming the Ed key.
  CHECK_THROWS_WITH(set.Verify(SignEdDsa(key, "ec", Claims())), "The specified alg value is not allowed");
  CHECK_THROWS_WITH(set.Verify(SignEs256(ec, "ed", Claims())), "The specified alg value is not allowed");
  // HS256 keyed with the public key's bytes, and "none".
  const std::string x = key.PublicJwk("ed")["x"];
  const auto hs_input = Base64UrlEncode(nlohmann::json{{"alg", "HS256"}, {"kid", "ed"}}.dump()) + "." +
                        Base64UrlEncode(Claims().dump());
  CHECK_THROWS_WITH(set.Verify(hs_input + "." + Base64UrlEncode(HmacSha256(x, hs_input))),
                    "The specified alg value is not allowed");
  const auto none = Base64UrlEncode(nlohmann::json{{"alg", "none"}, {"kid", "ed"}}.dump()) + "." +
                    Base64UrlEncode(Claims().dump()) + ".";
  CHECK_THROWS_WITH(set.Verify(none), "The specified alg value is not allowed");
  // A critical header we do not understand.
  const auto crit = Base64UrlEncode(nlohmann::json{{"alg", "EdDSA"}, {"kid", "ed"}, {"crit", {"b64"}}, {"b64", false}}.dump()) +
                    "." + Base64UrlEncode(Claims().dump()) + "." + Base64UrlEncode(std::string(64, 'a'));
  CHECK_THROWS_WITH(set.Verify(crit), "Unsupported critical header parameter");
  // Signatures of the wrong length, and all zeros.
  CHECK_THROWS_AS(set.Verify(token.substr(0, dot2) + "." + Base64UrlEncode(std::string(63, 'a'))), JwtError);
  CHECK_THROWS_AS(set.Verify(token.substr(0, dot2) + "." + Base64UrlEncode(std::string(65, 'a'))), JwtError);
  CHECK_THROWS_AS(set.Verify(token.substr(0, dot2) + "." + Base64UrlEncode(std::string(64, '\0'))), JwtError);
  // The caller's algorithms.
  JwtOptions es_only;
  es_only.algorithms = {"ES256"};
  CHECK_THROWS_WITH(set.Verify(token, es_only), "The specified alg value is not allowed");
  CHECK(set.Verify(SignEs256(ec, "ec", Claims()), es_only)["sub"] == "alice");
}

TEST_CASE("Ed25519 JWKs: other curves, private parts and malformed keys are not taken") {
  const auto jwk = EdKey::Generate().PublicJwk("k");
  CHECK_NOTHROW(EdKey::FromJwk(jwk));
  for (const char* crv : {"Ed448", "X25519", "P-256"}) {
    auto other = jwk;
    other["crv"] = crv;
    INFO(crv);
    CHECK_THROWS_AS(EdKey::FromJwk(other), std::invalid_argument);
  }
  auto with_d = jwk;
  with_d["d"] = jwk["x"];
  CHECK_THROWS_AS(EdKey::FromJwk(with_d), std::invalid_argument);
  auto short_x = jwk;
  short_x["x"] = Base64UrlEncode(std::string(31, 'a'));
  CHECK_THROWS_AS(EdKey::FromJwk(short_x), std::invalid_argument);
  auto long_x = jwk;
  long_x["x"] = Base64UrlEncode(std::string(33, 'a'));
  CHECK_THROWS_AS(EdKey::FromJwk(long_x), std::invalid_argument);
  auto bad = jwk;
  bad["x"] = "!!!";
  CHECK_THROWS_AS(EdKey::FromJwk(bad), std::invalid_argument);
  auto kty = jwk;
  kty["kty"] = "EC";
  CHECK_THROWS_AS(EdKey::FromJwk(kty), std::invalid_argument);
  // In a JWKS: skipped when the algorithm does not fit, taken otherwise.
  auto es = jwk;
  es["alg"] = "ES256";
  es["kid"] = "es";
  auto x25519 = jwk;
  x25519["crv"] = "X25519";
  x25519["kid"] = "x";
  const auto set = JwkSet::FromJwks({{"keys", {es, x25519, jwk}}});
  CHECK(set.size() == 1);
  CHECK(set.Contains("k"));
}
