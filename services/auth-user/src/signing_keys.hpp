#pragma once
/// The ES256 keys that sign access tokens, kept in PostgreSQL with the private half sealed.
/// The first start makes one; an admin rotates: the new key signs from then on, and the old one
/// stays in the JWKS until the last token it signed has expired (retired_at + token lifetime +
/// the reload interval, so that a replica which has not reloaded yet is covered too).
/// Every replica reloads the ring at most every `reload` interval (blocking: worker threads only).
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "suite/db/pool.hpp"
#include "suite/security/es256.hpp"

namespace auth {

class SigningKeys {
 public:
  SigningKeys(suite::db::Pool& pool, suite::security::SecretBox box, std::chrono::seconds token_ttl,
              std::chrono::seconds reload = std::chrono::seconds(30))
      : pool_(pool), box_(std::move(box)), token_ttl_(token_ttl), reload_(reload) {}
  /// Makes the first key when there is none (replicas starting together make one between them).
  /// Throws when a stored key does not open (SIGNING_KEYS_SECRET changed).
  void EnsureKey();
  /// Signs `claims` with the current key (header with its kid).
  std::string Sign(const nlohmann::json& claims);
  /// {"keys": [...]}: the current key and the retired ones still needed.
  nlohmann::json Jwks();
  /// Admin view: kid, created_at, retired_at, published_until; never key material.
  nlohmann::json List();
  /// A new current key; the previous one retires. Returns {"kid", "retired"}.
  nlohmann::json Rotate();

 private:
  struct Ring {
    std::string kid;
    std::shared_ptr<const suite::security::EcKey> key;
    nlohmann::json jwks;
    std::chrono::steady_clock::time_point loaded;
  };
  std::shared_ptr<const Ring> Current(std::chrono::milliseconds max_age);
  std::string Create(pqxx::work& tx);
  suite::db::Pool& pool_;
  suite::security::SecretBox box_;
  std::chrono::seconds token_ttl_, reload_;
  std::mutex mu_;
  std::shared_ptr<const Ring> ring_;
};

}  // namespace auth
