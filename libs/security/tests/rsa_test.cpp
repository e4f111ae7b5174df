#include <catch2/catch.hpp>

#include "suite/security/es256.hpp"
#include "suite/security/rsa.hpp"

using namespace suite::security;

namespace {
std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
nlohmann::json Claims() { return {{"sub", "alice"}, {"exp", Now() + 60}}; }
const RsaKey& Key() {
  static const RsaKey key = RsaKey::Generate(2048);
  return key;
}
}  // namespace

TEST_CASE("RS256: RFC 7515 A.2's signature verifies with its published key") {
  const auto key = RsaKey::FromJwk(
      {{"kty", "RSA"},
       {"n", "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-"
             "pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg"
             "665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRW"
             "yuXpoQ"},
       {"e", "AQAB"}});
  const std::string input =
      "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  const auto sig = Base64UrlDecode(
      "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQ"
      "jbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEs"
      "qtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw");
  REQUIRE(sig);
  CHECK(key.bytes() == 256);
  CHECK(key.Verify(input, *sig));
  CHECK_FALSE(key.Verify(input + "x", *sig));
  CHECK_FALSE(key.has_private());
}

TEST_CASE("RS256: a JWKS with RSA and EC keys verifies each token with its own key and algorithm") {
  const auto ec = EcKey::Generate();
  const auto set = JwkSet::FromJwks({{"keys", {Key().PublicJwk("r1"), ec.PublicJwk("e1")}}});
  CHECK(set.size() == 2);
  CHECK(set.Verify(SignRs256(Key(), "r1", Claims()))["sub"] == "alice");
  CHECK(set.Verify(SignEs256(ec, "e1", Claims()))["sub"] == "alice");
  // Claims are checked as for any token.
  CHECK_THROWS_AS(set.Verify(SignRs256(Key(), "r1", {{"sub", "a"}, {"exp", Now() - 10}})), JwtError);
  // Another RSA key under the same kid; a kid the set does not hold.
  CHECK_THROWS_WITH(set.Verify(SignRs256(RsaKey::Generate(2048), "r1", Claims())), "Signature verification failed");
  CHECK_THROWS_WITH(set.Verify(SignRs256(Key(), "r2", Claims())), "Unknown signing key");
}

TEST_CASE("RS256: algorithm confusion and malformed signatures are refused") {
  const auto ec = EcKey::Generate();
  JwkSet set;
  set.Add("r1", RsaKey::FromJwk(Key().PublicJwk("r1")));
  set.Add("e1", EcKey::FromJwk(ec.PublicJwk("e1")));
  // An RS256 token naming the EC key's kid, and an ES256 token naming the RSA key's.
  const auto rs_as_ec = SignRs256(Key(), "e1", Claims());
  CHECK_THROWS_WITH(set.Verify(rs_as_ec), "The specified alg value is not allowed");
  CHECK_THROWS_WITH(set.Verify(SignEs256(ec, "r1", Claims())), "The specified alg value is not allowed");
  // HS256 keyed with the RSA modulus (the classic confusion): not an algorithm a JWKS verifies.
  const auto input = Base64UrlEncode(nlohmann::json{{"alg", "HS256"}, {"kid", "r1"}}.dump()) + "." +
                     Base64UrlEncode(Claims().dump());
  const std::string n = Key().PublicJwk("r1")["n"];
  CHECK_THROWS_WITH(set.Verify(input + "." + Base64UrlEncode(HmacSha256(n, input))),
                    "The specified alg value is not allowed");
  // Signatures shorter or longer than the modulus, or all zeros.
  const auto token = SignRs256(Key(), "r1", Claims());
  const auto cut = token.rfind('.');
  CHECK_THROWS_AS(set.Verify(token.substr(0, cut) + "." + Base64UrlEncode(std::string(255, 'a'))), JwtError);
  CHECK_THROWS_AS(set.Verify(token.substr(0, cut) + "." + Base64UrlEncode(std::string(257, 'a'))), JwtError);
  CHECK_THROWS_AS(set.Verify(token.substr(0, cut) + "." + Base64UrlEncode(std::string(256, '\0'))), JwtError);
}

TEST_CASE("RSA JWKs: weak, oversized and odd keys are not taken") {
  auto jwk = Key().PublicJwk("r");
  CHECK_NOTHROW(RsaKey::FromJwk(jwk));
  const auto weak = RsaKey::Generate(1024).PublicJwk("w");
  CHECK_THROWS_AS(RsaKey::FromJwk(weak), std::invalid_argument);
  auto huge = jwk;
  huge["n"] = Base64UrlEncode(std::string(1025, '\xff'));  // 8200 bits
  CHECK_THROWS_AS(RsaKey::FromJwk(huge), std::invalid_argument);
  auto even = jwk;
  even["e"] = Base64UrlEncode(std::string("\x01\x00\x00", 3));
  CHECK_THROWS_AS(RsaKey::FromJwk(even), std::invalid_argument);
  auto one = jwk;
  one["e"] = "AQ";
  CHECK_THROWS_AS(RsaKey::FromJwk(one), std::invalid_argument);
  auto big_e = jwk;
  big_e["e"] = Base64UrlEncode(std::string("\x01\x00\x00\x00\x01", 5));  // 33 bits
  CHECK_THROWS_AS(RsaKey::FromJwk(big_e), std::invalid_argument);
  auto garbage = jwk;
  garbage["n"] = "!!!";
  CHECK_THROWS_AS(RsaKey::FromJwk(garbage), std::invalid_argument);
  // In a JWKS: skipped, with "use":"enc" keys and algorithms that do not match the key type.
  auto enc = Key().PublicJwk("enc");
  enc["use"] = "enc";
  auto oaep = Key().PublicJwk("oaep");
  oaep["alg"] = "RSA-OAEP";
  auto ec_as_rs = EcKey::Generate().PublicJwk("x");
  ec_as_rs["alg"] = "RS256";
  auto hs = Key().PublicJwk("hs");
  hs["alg"] = "HS256";
  auto ps = Key().PublicJwk("ps");
  ps["alg"] = "PS256";
  const auto set = JwkSet::FromJwks({{"keys", {weak, enc, oaep, ec_as_rs, hs, ps, jwk}}});
  CHECK(set.size() == 2);
  CHECK(set.Contains("r"));
  CHECK(set.Contains("ps"));
}

TEST_CASE("PS256: verifies with RSA keys, bound to the JWK's algorithm, with the salt RFC 7518 asks") {
  JwkSet set;
  set.Add("any", RsaKey::FromJwk(Key().PublicJwk("any")));        // no alg in the JWK: RS256 or PS256
  set.Add("ps", RsaKey::FromJwk(Key().PublicJwk("ps")), "PS256");  // published as PS256 only
  set.Add("rs", RsaKey::FromJwk(Key().PublicJwk("rs")), "RS256");
  CHECK(set.Verify(SignPs256(Key(), "any", Claims()))["sub"] == "alice");
  CHECK(set.Verify(SignRs256(Key(), "any", Claims()))["sub"] == "alice");
  CHECK(set.Verify(SignPs256(Key(), "ps", Claims()))["sub"] == "alice");
  CHECK_THROWS_WITH(set.Verify(SignRs256(Key(), "ps", Claims())), "The specified alg value is not allowed");
  CHECK_THROWS_WITH(set.Verify(SignPs256(Key(), "rs", Claims())), "The specified alg value is not allowed");
  // A PSS signature is randomised: two signatures of one input differ, both verify.
  const std::string input = "a.b";
  const auto one = Key().Sign(input, RsaPadding::kPss), two = Key().Sign(input, RsaPadding::kPss);
  CHECK(one != two);
  CHECK(Key().Verify(input, one, RsaPadding::kPss));
  CHECK(Key().Verify(input, two, RsaPadding::kPss));
  // One padding's signature is no signature of the other.
  CHECK_FALSE(Key().Verify(input, one, RsaPadding::kPkcs1));
  CHECK_FALSE(Key().Verify(input, Key().Sign(input), RsaPadding::kPss));
  // A token whose header says PS256 over an RS256 signature, and the other way round.
  auto swap_alg = [](const std::string& token, const char* alg) {
    const auto dot = token.find('.');
    const auto rest = token.substr(dot);
    const auto header = Base64UrlEncode(nlohmann::json{{"alg", alg}, {"typ", "JWT"}, {"kid", "any"}}.dump());
    return header + rest;
  };
  CHECK_THROWS_WITH(set.Verify(swap_alg(SignRs256(Key(), "any", Claims()), "PS256")), "Signature verification failed");
  CHECK_THROWS_WITH(set.Verify(swap_alg(SignPs256(Key(), "any", Claims()), "RS256")), "Signature verification failed");
  // The caller's algorithms: an issuer that allows only RS256 refuses PS256 before any check.
  JwtOptions rs_only;
  rs_only.algorithms = {"RS256"};
  CHECK(set.Verify(SignRs256(Key(), "any", Claims()), rs_only)["sub"] == "alice");
  CHECK_THROWS_WITH(set.Verify(SignPs256(Key(), "any", Claims()), rs_only), "The specified alg value is not allowed");
}
