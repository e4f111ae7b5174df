#pragma once
/// ES256 (ECDSA P-256 with SHA-256) JSON Web Tokens and their JWKs, over OpenSSL 3, and the
/// JwkSet that verifies them and RS256, PS256 (rsa.hpp) and EdDSA (eddsa.hpp) ones. Verification
/// is pinned to the key the token's `kid` names and to that key's algorithm: a token naming
/// another `alg` (RS256 against an EC key, PS256 against a key published as RS256, HS256 with the
/// public key as secret, "none"), an algorithm the caller does not allow, or an unknown `kid` is
/// refused before any signature check. Claims are checked as Hs256 checks them.
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "suite/security/eddsa.hpp"
#include "suite/security/jwt.hpp"
#include "suite/security/rsa.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace suite::security {

class EcKey {
 public:
  /// A fresh P-256 key pair.
  static EcKey Generate();
  /// A private key from PEM (PKCS#8); throws std::invalid_argument unless it is a P-256 key.
  static EcKey FromPrivatePem(std::string_view pem);
  /// A public key from a JWK {"kty":"EC","crv":"P-256","x","y"}; throws std::invalid_argument
  /// when it is anything else or the point is not on the curve.
  static EcKey FromJwk(const nlohmann::json& jwk);

  bool has_private() const { return private_; }
  std::string PrivatePem() const;
  /// {"kty":"EC","crv":"P-256","x","y","kid","use":"sig","alg":"ES256"}
  nlohmann::json PublicJwk(const std::string& kid) const;
  /// JWS signature: r||s, 64 bytes.
  std::string Sign(std::string_view data) const;
  bool Verify(std::string_view data, std::string_view signature) const;

 private:
  EcKey(std::shared_ptr<EVP_PKEY> key, bool has_private) : key_(std::move(key)), private_(has_private) {}
  std::shared_ptr<EVP_PKEY> key_;
  bool private_ = false;
};

/// A compact JWS with header {"alg":"ES256","typ":"JWT","kid":kid}.
std::string SignEs256(const EcKey& key, const std::string& kid, const nlohmann::json& claims);

/// A token naming a `kid` the set does not hold (the holder may fetch the keys again).
class UnknownKeyError : public JwtError {
 public:
  using JwtError::JwtError;
};

/// Public keys by `kid` (a JWKS document's keys), each with the algorithms it may verify.
class JwkSet {
 public:
  JwkSet() = default;
  /// From {"keys":[...]}: signing keys with a kid that are EC P-256 (ES256), RSA (RS256, or
  /// PS256 when the JWK says so) or OKP Ed25519 (EdDSA) are taken; others (another curve,
  /// "use":"enc", an `alg` that does not fit the key, a weak modulus) skipped. Throws
  /// std::invalid_argument when the document is not a JWKS.
  static JwkSet FromJwks(const nlohmann::json& jwks);
  void Add(const std::string& kid, EcKey key) { keys_.insert_or_assign(kid, Entry{Key(std::move(key)), {}}); }
  /// An RSA key verifies RS256 and PS256 tokens unless `alg` names one of them.
  void Add(const std::string& kid, RsaKey key, std::string alg = {}) {
    keys_.insert_or_assign(kid, Entry{Key(std::move(key)), std::move(alg)});
  }
  void Add(const std::string& kid, EdKey key) { keys_.insert_or_assign(kid, Entry{Key(std::move(key)), {}}); }
  bool Contains(const std::string& kid) const { return keys_.count(kid) != 0; }
  std::size_t size() const { return keys_.size(); }
  /// The claims, or JwtError.
  nlohmann::json Verify(std::string_view token, const JwtOptions& opts = {},
                        std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;
  nlohmann::json Verify(const detail::TokenParts& token, const JwtOptions& opts,
                        std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

 private:
  using Key = std::variant<EcKey, RsaKey, EdKey>;
  struct Entry {
    Key key;
    std::string alg;  ///< the one algorithm the JWK named (RSA keys), else empty
  };
  std::map<std::string, Entry, std::less<>> keys_;
};

/// Whether `alg` is one a JwkSet verifies (ES256, RS256, PS256, EdDSA).
bool IsAsymmetricJwsAlgorithm(std::string_view alg);

/// Authenticated encryption of secrets at rest (XChaCha20-Poly1305, libsodium) under a key
/// derived from a passphrase of at least 32 bytes. `context` is bound to the ciphertext (the
/// row it belongs to): a sealed value moved to another row does not open.
class SecretBox {
 public:
  explicit SecretBox(std::string_view passphrase);
  std::string Seal(std::string_view plaintext, std::string_view context) const;
  /// Throws std::runtime_error when the key is wrong or the data was altered.
  std::string Open(std::string_view sealed, std::string_view context) const;

 private:
  std::string key_;
};

}  // namespace suite::security
