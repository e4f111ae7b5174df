#pragma once
/// Login lockout (blocking; inside the login's transaction), in three ledgers with one rule
/// (`threshold` failures lock for `duration`):
///  - an account, for clients without a device token of it (seed 002/004's lockout);
///  - a device token (OWASP device cookies): a client that logged in before is held only by its
///    own failures, never by a lock that strangers caused;
///  - a name that matches no account, so that unknown names answer exactly as real ones.
#include <pqxx/pqxx>

#include <chrono>
#include <optional>
#include <string>

#include "suite/security/jwt.hpp"

namespace auth {

struct LockState {
  bool locked = false;
  long long retry_after_seconds = 0;
};

/// Signed device tokens: HS256 under a key derived from the service's signing secret.
class DeviceTokens {
 public:
  explicit DeviceTokens(const std::string& secret);
  struct Device {
    long long user_id = 0;
    std::string nonce;
  };
  std::string Issue(long long user_id) const;
  /// The device when `token` is one of ours (any failure: nullopt, the client is untrusted).
  std::optional<Device> Verify(std::string_view token) const;

 private:
  suite::security::Hs256 jwt_;
};

class Lockout {
 public:
  Lockout(int threshold, std::chrono::minutes duration) : threshold_(threshold), duration_(duration) {}
  LockState Account(pqxx::work& tx, long long user_id) const;
  /// Failure methods return true when this failure set the lock.
  bool AccountFailure(pqxx::work& tx, long long user_id) const;
  void AccountSuccess(pqxx::work& tx, long long user_id) const;
  LockState Device(pqxx::work& tx, const std::string& nonce) const;
  bool DeviceFailure(pqxx::work& tx, const std::string& nonce, long long user_id) const;
  void DeviceSuccess(pqxx::work& tx, const std::string& nonce) const;
  LockState Unknown(pqxx::work& tx, const std::string& login) const;
  bool UnknownFailure(pqxx::work& tx, const std::string& login) const;

 private:
  int threshold_;
  std::chrono::minutes duration_;
};

}  // namespace auth
