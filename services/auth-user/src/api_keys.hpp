#pragma once
/// End-user API keys (blocking: worker threads only). A user holds a bounded number of live
/// keys; the secret is returned once at creation. Revocation is announced on Redis pub/sub
/// (suite::security::kApiKeyRevocations) so that gateway caches drop the key at once.
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>

#include "suite/db/pool.hpp"

namespace auth {

struct ApiKeyConfig {
  int max_per_user = 20;
  int max_lifetime_days = 365;  ///< longest `expires_in_days` a client may ask for
};

/// Who is acting: the signed-in user and whether they are an administrator.
struct Actor {
  std::string username;
  bool admin = false;
};

class ApiKeys {
 public:
  /// Receives revocation notices ({"key_hash","id"} or {"user_id"}); the service publishes them.
  using RevocationSink = std::function<void(const nlohmann::json&)>;

  ApiKeys(suite::db::Pool& pool, ApiKeyConfig config = {}) : pool_(pool), config_(config) {}
  void SetRevocationSink(RevocationSink sink) { revoked_ = std::move(sink); }

  /// 201 body with the key (shown once). `tier` other than free needs an admin (403);
  /// 409 past max_per_user live keys.
  nlohmann::json Create(const Actor& actor, const std::string& name, const std::optional<std::string>& tier,
                        std::optional<int> expires_in_days);
  /// The actor's live keys, newest first (never the secret or its hash).
  nlohmann::json List(const Actor& actor);
  /// Revokes a key of the actor (an admin: anyone's); 404 otherwise. Returns the key's row.
  nlohmann::json Revoke(const Actor& actor, long long id);
  /// The gateway's check: the key's owner, roles and tier, or nullopt when it is unknown,
  /// revoked, expired or its owner inactive. Records last_used_at (at most once a minute).
  std::optional<nlohmann::json> Verify(const std::string& key);
  /// Announces that every key of the user stopped working (user deactivated or deleted).
  void AnnounceUserRevoked(long long user_id) const;

 private:
  suite::db::Pool& pool_;
  ApiKeyConfig config_;
  RevocationSink revoked_;
};

}  // namespace auth
