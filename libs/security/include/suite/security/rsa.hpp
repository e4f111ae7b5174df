#pragma once
/// RSA keys for RS256 (RSASSA-PKCS1-v1_5 with SHA-256, the default of most identity providers)
/// and PS256 (RSASSA-PSS with SHA-256, MGF1 SHA-256 and a 32-byte salt, RFC 7518 3.5). Public keys from JWKs only with a modulus of 2048 to 8192 bits
/// (shorter is breakable, longer only makes each check dearer) and an odd exponent from 3 to
/// 2^32 - 1: a hostile JWKS cannot make verification slow.
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace suite::security {

enum class RsaPadding { kPkcs1, kPss };  ///< RS256, PS256

class RsaKey {
 public:
  /// A fresh key pair (tests and tools; our own tokens are ES256).
  static RsaKey Generate(unsigned bits = 2048);
  /// A public key from {"kty":"RSA","n","e"}; throws std::invalid_argument otherwise.
  static RsaKey FromJwk(const nlohmann::json& jwk);

  bool has_private() const { return private_; }
  std::size_t bytes() const { return bytes_; }  ///< modulus size = signature size
  /// {"kty":"RSA","n","e","kid","use":"sig","alg":"RS256"}
  nlohmann::json PublicJwk(const std::string& kid) const;
  std::string Sign(std::string_view data, RsaPadding padding = RsaPadding::kPkcs1) const;
  bool Verify(std::string_view data, std::string_view signature, RsaPadding padding = RsaPadding::kPkcs1) const;

 private:
  RsaKey(std::shared_ptr<EVP_PKEY> key, bool has_private);
  std::shared_ptr<EVP_PKEY> key_;
  bool private_ = false;
  std::size_t bytes_ = 0;
};

/// A compact JWS with header {"alg":"RS256","typ":"JWT","kid":kid}.
std::string SignRs256(const RsaKey& key, const std::string& kid, const nlohmann::json& claims);
/// A compact JWS with header {"alg":"PS256","typ":"JWT","kid":kid}.
std::string SignPs256(const RsaKey& key, const std::string& kid, const nlohmann::json& claims);

}  // namespace suite::security
