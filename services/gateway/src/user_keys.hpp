#pragma once
/// API keys that auth-user issued (sk_<prefix>_<secret>): verified by auth-user's
/// POST /internal/api-keys/verify, then cached in this process by the key's SHA-256 (valid ones
/// for API_KEY_CACHE_SECONDS at most, unknown ones briefly). Revocations are pushed over Redis
/// pub/sub (api-keys.revoked) and evict at once, so a revoked key is refused by every replica
/// within a second; while that subscription is down nothing valid is cached (a missed
/// revocation cannot linger). Look-ups of uncached keys are bounded per client address and in
/// total, so random keys sent at line rate cannot turn into a database query each.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api_keys.hpp"
#include "fallback_limiter.hpp"
#include "suite/http/client.hpp"
#include "suite/http/task.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

enum class KeyVerdict {
  kValid,
  kInvalid,
  kUnavailable,  ///< auth-user cannot say (down, or too many look-ups at once): 503
  kThrottled,    ///< this address presented too many keys that do not exist: 429
};

struct KeyCheck {
  KeyVerdict verdict = KeyVerdict::kInvalid;
  ApiKey key;                        ///< when valid
  long long user_id = 0;
  std::optional<long long> expires_at;  ///< unix seconds
};

/// The seam: auth-user in production, a fake in tests.
class KeyVerifier {
 public:
  virtual ~KeyVerifier() = default;
  virtual suite::http::Task<KeyCheck> Verify(std::string key) = 0;
};

class AuthUserKeyVerifier final : public KeyVerifier {
 public:
  AuthUserKeyVerifier(suite::http::Upstream& auth_user, const suite::security::IdentitySigner& signer)
      : auth_user_(auth_user), signer_(signer) {}
  suite::http::Task<KeyCheck> Verify(std::string key) override;
  /// auth-user's answer, read (a pure function, for the tests).
  static KeyCheck Read(const suite::http::ClientResult& r);

 private:
  suite::http::Upstream& auth_user_;
  const suite::security::IdentitySigner& signer_;
};

struct UserKeyOptions {
  std::chrono::seconds valid_ttl{60};     ///< API_KEY_CACHE_SECONDS
  std::chrono::seconds invalid_ttl{10};
  std::size_t max_entries = 10'000;
  int lookups_per_minute = 30;            ///< look-ups of keys that do not exist, per client address, per replica
  int max_in_flight = 64;                 ///< uncached look-ups at once, per replica
};

class UserKeys {
 public:
  UserKeys(KeyVerifier& verifier, UserKeyOptions options = {});
  /// The verdict for a well-shaped key presented by `client_ip`.
  suite::http::Task<KeyCheck> Find(std::string key, std::string client_ip);
  /// A message on api-keys.revoked: {"key_hash"} or {"user_id"}.
  void Revoked(const std::string& payload);
  /// The revocation feed is (not) being received.
  void SetLive(bool live);
  std::size_t size() const;

 private:
  struct Entry {
    KeyCheck check;
    std::chrono::steady_clock::time_point until;
  };
  std::optional<KeyCheck> Cached(const std::string& hash);
  void Store(const std::string& hash, const KeyCheck& check);
  bool Enter();
  void Leave();
  KeyVerifier& verifier_;
  const UserKeyOptions options_;
  LocalRateLimiter lookups_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  bool live_ = false;
  int in_flight_ = 0;
};

}  // namespace gateway
