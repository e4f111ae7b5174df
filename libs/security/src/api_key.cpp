#include "suite/security/api_key.hpp"

#include "suite/core/ids.hpp"
#include "suite/security/jwt.hpp"

namespace suite::security {

namespace {
constexpr std::size_t kPrefixLength = 3 + 8;  // "sk_" + 8 hex
constexpr std::size_t kKeyLength = kPrefixLength + 1 + 43;
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsB64Url(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}
}  // namespace

NewApiKey GenerateApiKey() {
  NewApiKey k;
  k.prefix = "sk_" + core::RandomHex(4);
  k.key = k.prefix + "_" + Base64UrlEncode(core::RandomBytes(32));
  k.hash = ApiKeyHash(k.key);
  return k;
}

bool IsApiKeyShaped(std::string_view key) {
  if (key.size() != kKeyLength || key.substr(0, 3) != "sk_" || key[kPrefixLength] != '_') return false;
  for (std::size_t i = 3; i < kPrefixLength; ++i)
    if (!IsHex(key[i])) return false;
  for (std::size_t i = kPrefixLength + 1; i < key.size(); ++i)
    if (!IsB64Url(key[i])) return false;
  return true;
}

std::string ApiKeyHash(std::string_view key) { return Sha256Hex(key); }

std::string ApiKeyPrefix(std::string_view key) {
  return IsApiKeyShaped(key) ? std::string(key.substr(0, kPrefixLength)) : std::string();
}

}  // namespace suite::security
