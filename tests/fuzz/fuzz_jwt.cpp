// JWT verification, HS256, ES256 and RS256, JWK import (and base64url): any input is refused with JwtError or verified; a token
// we sign ourselves with claims taken from the input verifies or is refused, never crashes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "suite/security/es256.hpp"
#include "suite/security/jwt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const suite::security::Hs256 jwt("fuzz-secret-fuzz-secret-fuzz-secret!");
  const suite::security::JwtOptions opts{.issuer = "iss", .audience = "aud",
                                         .max_lifetime = std::chrono::seconds(86400)};
  try {
    (void)jwt.Verify(text, opts);
  } catch (const suite::security::JwtError&) {
  }
  // The same bytes against a key set of an ES256 key (kid "k") and an RS256 one ("r"): refused,
  // never a crash.
  static const auto key = suite::security::EcKey::Generate();
  static const auto rsa = suite::security::RsaKey::Generate(2048);
  static const auto set = [] {
    suite::security::JwkSet s;
    s.Add("k", suite::security::EcKey::FromJwk(key.PublicJwk("k")));
    s.Add("r", suite::security::RsaKey::FromJwk(rsa.PublicJwk("r")));
    return s;
  }();
  try {
    (void)set.Verify(text, opts);
  } catch (const suite::security::JwtError&) {
  }
  // And as a JWK: a key or std::invalid_argument.
  auto jwk = nlohmann::json::parse(text, nullptr, false);
  if (!jwk.is_discarded()) {
    try {
      (void)suite::security::EcKey::FromJwk(jwk);
    } catch (const std::invalid_argument&) {
    }
    try {
      (void)suite::security::RsaKey::FromJwk(jwk);
    } catch (const std::invalid_argument&) {
    }
  }
  if (auto decoded = suite::security::Base64UrlDecode(text))
    if (suite::security::Base64UrlDecode(suite::security::Base64UrlEncode(*decoded)) != decoded) __builtin_trap();
  // The input as a claims set, correctly signed: only the claim checks stand between it and us.
  auto claims = nlohmann::json::parse(text, nullptr, false);
  if (claims.is_object()) {
    try {
      (void)jwt.Verify(jwt.Sign(claims), opts);
    } catch (const suite::security::JwtError&) {
    } catch (const nlohmann::json::type_error&) {  // Sign: invalid UTF-8 in a claim
    }
  }
  return 0;
}
