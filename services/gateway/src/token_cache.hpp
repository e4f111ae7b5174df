#pragma once
/// Bearer tokens that verified, kept so that the next request with the same token skips the
/// signature (an ES256 check costs ~100 µs, HS256 a few) and the parsing. Exact token text as the
/// key; only tokens that verified go in, so a caller cannot fill it with junk. An entry lasts
/// until the token's `exp` (plus the leeway) or `ttl`, whichever comes first: a key retired from
/// auth-user's JWKS stops vouching for its tokens within `ttl`. Bounded in entries and bytes;
/// the oldest go first. The chain owns one, so a configuration reload (a new secret) starts empty.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gateway {

/// What authentication takes from a verified token.
struct VerifiedToken {
  std::optional<std::string> subject;
  std::vector<std::string> roles;   ///< as the token lists them (granted only when from_jwks)
  std::vector<std::string> scopes;  ///< a configured issuer's (issuers.hpp)
  std::optional<std::string> tier;  ///< a configured issuer's (its tier claim, or its default)
  std::string issuer;               ///< "auth-user", "shared-secret", or a configured issuer's name
  bool from_jwks = false;           ///< signed by a key of auth-user's JWKS, or of a configured issuer
};

class TokenCache {
 public:
  using Clock = std::chrono::system_clock;
  struct Limits {
    std::size_t entries = 10'000;
    std::size_t bytes = 8u << 20;  ///< token text and claims kept, counted roughly
    std::chrono::seconds ttl{60};
  };
  TokenCache() : TokenCache(Limits{}) {}
  explicit TokenCache(Limits limits) : limits_(limits) {}

  /// The token's verified claims while its entry lasts.
  std::optional<VerifiedToken> Find(std::string_view token, Clock::time_point now);
  /// Keeps a token that verified; `valid_until` is its `exp` plus the verifier's leeway.
  void Put(std::string_view token, VerifiedToken claims, Clock::time_point valid_until, Clock::time_point now);

  std::size_t size() const;
  std::uint64_t hits() const { return hits_; }

 private:
  struct Entry {
    VerifiedToken claims;
    Clock::time_point until;
    std::size_t bytes;
  };
  void EvictOldest();  // mu_ held
  Limits limits_;
  mutable std::mutex mu_;
  // Looked up by the request's token text itself (no copy per request).
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
  std::deque<std::string> order_;  // insertion order, for eviction
  std::size_t bytes_ = 0;
  std::uint64_t hits_ = 0;
};

}  // namespace gateway
