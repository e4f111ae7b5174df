#pragma once
/// End-user API keys, as auth-user issues them and the gateway checks them:
///   sk_<8 hex: the visible prefix>_<43 base64url: 32 random bytes>
/// Only the SHA-256 of the whole key is stored (a 256-bit random secret needs no slow hash:
/// there is nothing to guess). The prefix identifies a key in lists and logs without revealing it.
#include <string>
#include <string_view>

namespace suite::security {

/// Redis pub/sub channel on which auth-user announces revoked keys, as JSON:
/// {"key_hash": "<sha256 hex>", "id": N} for one key, {"user_id": N} for all of a user's keys.
inline constexpr const char* kApiKeyRevocations = "api-keys.revoked";

struct NewApiKey {
  std::string key;     ///< shown once to its owner
  std::string prefix;  ///< "sk_1a2b3c4d"
  std::string hash;    ///< SHA-256 hex of `key`
};

NewApiKey GenerateApiKey();
/// Shape check only (no lookup): cheap rejection of garbage before any hashing or I/O.
bool IsApiKeyShaped(std::string_view key);
/// SHA-256 hex: what is stored and looked up.
std::string ApiKeyHash(std::string_view key);
/// "sk_1a2b3c4d" of a well-shaped key; empty otherwise.
std::string ApiKeyPrefix(std::string_view key);

}  // namespace suite::security
