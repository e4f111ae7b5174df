#pragma once
/// HS256 JSON Web Tokens over OpenSSL. The algorithm is pinned: a token whose header names any
/// other `alg` (including "none") is rejected before its signature is looked at. `exp` is
/// required; `exp`, `nbf` and `iat` must be integers in range; `iss`, `aud` and a maximum
/// lifetime are checked when the verifier asks for them.
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace suite::security {

std::string Base64UrlEncode(std::string_view in);
std::optional<std::string> Base64UrlDecode(std::string_view in);

/// Constant-time equality (length leaks, content does not).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

std::string HmacSha256(std::string_view key, std::string_view data);
std::string Sha256Hex(std::string_view data);

struct JwtOptions {
  std::optional<std::string> issuer;    ///< required `iss` when set
  std::optional<std::string> audience;  ///< required in `aud` when set
  std::vector<std::string> audiences;   ///< when not empty: `aud` must hold one of them
  std::chrono::seconds leeway{0};
  /// When set: `exp` at most this far ahead of now, and of `iat` when present.
  std::optional<std::chrono::seconds> max_lifetime;
  /// The asymmetric algorithms a JwkSet may verify for this caller (ES256, RS256, PS256, EdDSA);
  /// empty: all four. HS256 and "none" are never among them.
  std::vector<std::string> algorithms;
};

namespace detail {
/// A compact JWS split and decoded; the header parsed (bounded) and free of `crit`.
struct TokenParts {
  nlohmann::json header;
  std::string payload;    ///< decoded, not yet parsed
  std::string signature;  ///< decoded
  std::string_view signing_input;
};
TokenParts SplitToken(std::string_view token);
/// Parses the payload and checks exp/nbf/iat/iss/aud/lifetime: the claims, or JwtError.
nlohmann::json CheckClaims(const std::string& payload, const JwtOptions& opts,
                           std::chrono::system_clock::time_point now);
/// A JWK's string member `name`; std::invalid_argument when the JWK has none.
std::string JwkString(const nlohmann::json& jwk, const char* name);
}  // namespace detail

class Hs256 {
 public:
  /// The key's HMAC pads are hashed once here; each Sign or Verify then continues from copies
  /// of those two states (a quarter of the cost of a keyed HMAC call per token).
  explicit Hs256(std::string secret);
  std::string Sign(const nlohmann::json& claims) const;
  /// The same, for claims the caller wrote as JSON text already (an object).
  std::string SignPayload(std::string_view claims_json) const;
  /// The claims, or throws JwtError with a message safe to show a client.
  nlohmann::json Verify(std::string_view token, const JwtOptions& opts = {},
                        std::chrono::system_clock::time_point now =
                            std::chrono::system_clock::now()) const;
  /// The same for a token already split (a caller that looked at its header first).
  nlohmann::json Verify(const detail::TokenParts& token, const JwtOptions& opts,
                        std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

 private:
  /// HMAC-SHA256 of `data` under this key: 32 bytes.
  std::string Mac(std::string_view data) const;
  struct Key;
  std::shared_ptr<const Key> key_;  ///< immutable: copies and threads share it
};

class JwtError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};



}  // namespace suite::security
