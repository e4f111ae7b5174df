#include <catch2/catch.hpp>

#include "suite/security/es256.hpp"

using namespace suite::security;

namespace {
std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
nlohmann::json Claims() { return {{"sub", "alice"}, {"roles", {"user"}}, {"exp", Now() + 60}}; }
std::string Header(const std::string& token) { return *Base64UrlDecode(token.substr(0, token.find('.'))); }
}  // namespace

TEST_CASE("ES256: RFC 7515 A.3's signature verifies with its published key") {
  const auto key = EcKey::FromJwk({{"kty", "EC"},
                                   {"crv", "P-256"},
                                   {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                                   {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}});
  const std::string input =
      "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  const auto sig = Base64UrlDecode(
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  REQUIRE(sig);
  CHECK(key.Verify(input, *sig));
  CHECK_FALSE(key.Verify(input + "x", *sig));
  CHECK_FALSE(key.has_private());
}

TEST_CASE("ES256: sign, publish, verify, and the key survives PEM") {
  const auto key = EcKey::Generate();
  const auto again = EcKey::FromPrivatePem(key.PrivatePem());
  CHECK(again.PublicJwk("k1") == key.PublicJwk("k1"));
  const auto token = SignEs256(again, "k1", Claims());
  CHECK(nlohmann::json::parse(Header(token)) == nlohmann::json{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", "k1"}});
  const auto jwks = nlohmann::json{{"keys", {key.PublicJwk("k1"), {{"kty", "RSA"}, {"kid", "r1"}, {"n", "x"}, {"e", "AQAB"}}}}};
  const auto set = JwkSet::FromJwks(jwks);
  CHECK(set.size() == 1);
  CHECK(set.Verify(token)["sub"] == "alice");
  CHECK(set.Verify(token, {.issuer = std::nullopt})["roles"] == nlohmann::json{"user"});
  // Claims are checked as for HS256.
  CHECK_THROWS_AS(set.Verify(SignEs256(key, "k1", {{"sub", "a"}, {"exp", Now() - 10}})), JwtError);
  CHECK_THROWS_AS(set.Verify(SignEs256(key, "k1", {{"sub", "a"}})), JwtError);
  CHECK_THROWS_AS(set.Verify(token, {.audience = std::string("suite-api")}), JwtError);
}

TEST_CASE("ES256: forged, confused and unknown tokens are refused") {
  const auto key = EcKey::Generate();
  JwkSet set;
  set.Add("k1", EcKey::FromJwk(key.PublicJwk("k1")));
  const auto token = SignEs256(key, "k1", Claims());
  // Another key signing under the same kid.
  CHECK_THROWS_WITH(set.Verify(SignEs256(EcKey::Generate(), "k1", Claims())), "Signature verification failed");
  CHECK_THROWS_WITH(set.Verify(SignEs256(key, "k2", Claims())), "Unknown signing key");
  // A tampered payload.
  const auto dot = token.find('.');
  const auto dot2 = token.find('.', dot + 1);
  const auto forged_payload = Base64UrlEncode(nlohmann::json{{"sub", "admin"}, {"exp", Now() + 60}}.dump());
  CHECK_THROWS_AS(set.Verify(token.substr(0, dot + 1) + forged_payload + token.substr(dot2)), JwtError);
  // HS256 with the public key's bytes as the secret (the classic confusion), and "none".
  const std::string x = key.PublicJwk("k1")["x"];
  auto with_header = [&](const nlohmann::json& h, const std::string& sig) {
    const auto input = Base64UrlEncode(h.dump()) + "." + Base64UrlEncode(Claims().dump());
    return input + "." + sig;
  };
  const auto hs_input = Base64UrlEncode(nlohmann::json{{"alg", "HS256"}, {"kid", "k1"}}.dump()) + "." +
                        Base64UrlEncode(Claims().dump());
  CHECK_THROWS_WITH(set.Verify(hs_input + "." + Base64UrlEncode(HmacSha256(x, hs_input))),
                    "The specified alg value is not allowed");
  CHECK_THROWS_WITH(set.Verify(with_header({{"alg", "none"}, {"kid", "k1"}}, "")), "The specified alg value is not allowed");
  CHECK_THROWS_WITH(set.Verify(with_header({{"alg", "ES256"}}, "AAAA")), "Token has no key id (kid)");
  CHECK_THROWS_WITH(set.Verify(with_header({{"alg", "ES256"}, {"kid", "k1"}, {"crit", {"exp"}}}, "AAAA")),
                    "Unsupported critical header parameter");
  // An ES256 token is no HS256 token, whatever the secret.
  CHECK_THROWS_WITH(Hs256("0123456789abcdef0123456789abcdef").Verify(token), "The specified alg value is not allowed");
  // Wrong signature lengths.
  CHECK_THROWS_AS(set.Verify(token.substr(0, dot2) + "." + Base64UrlEncode(std::string(63, 'a'))), JwtError);
  CHECK_THROWS_AS(set.Verify(token.substr(0, dot2) + "." + Base64UrlEncode(std::string(64, '\0'))), JwtError);
}

TEST_CASE("JWK import refuses points off the curve and other key types") {
  auto jwk = EcKey::Generate().PublicJwk("k");
  auto off = jwk;
  std::string y = *Base64UrlDecode(off["y"].get<std::string>());
  y[31] = static_cast<char>(y[31] ^ 1);
  off["y"] = Base64UrlEncode(y);
  CHECK_THROWS_AS(EcKey::FromJwk(off), std::invalid_argument);
  auto other = jwk;
  other["crv"] = "P-384";
  CHECK_THROWS_AS(EcKey::FromJwk(other), std::invalid_argument);
  auto shortx = jwk;
  shortx["x"] = "AAAA";
  CHECK_THROWS_AS(EcKey::FromJwk(shortx), std::invalid_argument);
  CHECK_THROWS_AS(EcKey::FromJwk(nlohmann::json::array()), std::invalid_argument);
  CHECK_THROWS_AS(JwkSet::FromJwks({{"nokeys", 1}}), std::invalid_argument);
  CHECK_THROWS_AS(EcKey::FromPrivatePem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                  std::invalid_argument);
}

TEST_CASE("SecretBox: opens only with its key and context, and detects changes") {
  const SecretBox box(std::string(32, 'k'));
  const auto sealed = box.Seal("private key", "kid-1");
  CHECK(sealed.find("private key") == std::string::npos);
  CHECK(box.Open(sealed, "kid-1") == "private key");
  CHECK(box.Seal("private key", "kid-1") != sealed);  // a fresh nonce each time
  CHECK_THROWS(box.Open(sealed, "kid-2"));
  CHECK_THROWS(SecretBox(std::string(32, 'j')).Open(sealed, "kid-1"));
  auto altered = sealed;
  altered[30] = static_cast<char>(altered[30] ^ 1);
  CHECK_THROWS(box.Open(altered, "kid-1"));
  CHECK_THROWS(box.Open("short", "kid-1"));
  CHECK_THROWS_AS(SecretBox("too short"), std::invalid_argument);
}
