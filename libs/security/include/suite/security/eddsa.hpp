#pragma once
/// EdDSA (Ed25519, RFC 8037) keys for JWS: the algorithm `EdDSA` with JWKs
/// {"kty":"OKP","crv":"Ed25519","x"}. Other OKP curves (Ed448, X25519: not a signing curve)
/// are refused. Signatures are exactly 64 bytes.
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace suite::security {

class EdKey {
 public:
  /// A fresh key pair (tests and tools).
  static EdKey Generate();
  /// A public key from {"kty":"OKP","crv":"Ed25519","x"}; throws std::invalid_argument otherwise.
  static EdKey FromJwk(const nlohmann::json& jwk);

  bool has_private() const { return private_; }
  /// {"kty":"OKP","crv":"Ed25519","x","kid","use":"sig","alg":"EdDSA"}
  nlohmann::json PublicJwk(const std::string& kid) const;
  std::string Sign(std::string_view data) const;
  bool Verify(std::string_view data, std::string_view signature) const;

 private:
  EdKey(std::shared_ptr<EVP_PKEY> key, bool has_private) : key_(std::move(key)), private_(has_private) {}
  std::shared_ptr<EVP_PKEY> key_;
  bool private_ = false;
};

/// A compact JWS with header {"alg":"EdDSA","typ":"JWT","kid":kid}.
std::string SignEdDsa(const EdKey& key, const std::string& kid, const nlohmann::json& claims);

}  // namespace suite::security
