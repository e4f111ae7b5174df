#pragma once
/// API keys from the API_KEYS variable: a JSON list `[{"key","name","tier"}]` (seed 003) or
/// a comma-separated list of keys (seeds 000/001; named key-1, key-2, ... with tier "free").
/// Only SHA-256 digests are kept; lookup compares against every digest in constant time.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gateway {

struct ApiKey {
  std::string name;                ///< static: its name; issued by auth-user: its prefix (sk_1a2b3c4d)
  std::string tier;
  std::string subject;             ///< the owner (auth-user's username); empty for static keys
  std::vector<std::string> roles;  ///< the owner's roles, as auth-user vouches for them
};

class ApiKeyStore {
 public:
  static std::optional<ApiKeyStore> Parse(std::string_view text, std::string& error);
  std::optional<ApiKey> Find(std::string_view presented) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string digest;
    ApiKey key;
  };
  std::vector<Entry> entries_;
};

}  // namespace gateway
