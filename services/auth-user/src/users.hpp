#pragma once
/// Registration and login against PostgreSQL (blocking: worker threads only).
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "suite/db/pool.hpp"
#include "suite/security/jwt.hpp"
#include "suite/security/password.hpp"

namespace auth {

struct AuthConfig {
  std::chrono::seconds access_ttl{15 * 60};
  int lockout_threshold = 5;
  std::chrono::minutes lockout_duration{30};
};

class Users {
 public:
  Users(suite::db::Pool& pool, const suite::security::PasswordHasher& hasher,
        const suite::security::Hs256& jwt, AuthConfig config)
      : pool_(pool), hasher_(hasher), jwt_(jwt), config_(config) {}

  /// 201 body; throws ApiError 422 (policy) or 409 (taken).
  nlohmann::json Register(const std::string& username, const std::string& email,
                          const std::string& password, bool admin = false);
  /// Token response; throws ApiError 401 (bad credentials) or 403 (locked, inactive).
  nlohmann::json Login(const std::string& username_or_email, const std::string& password,
                       const std::string& client_ip);
  /// Creates the bootstrap admin when absent. Returns true when created.
  bool EnsureAdmin(const std::string& username, const std::string& email, const std::string& password);

 private:
  suite::db::Pool& pool_;
  const suite::security::PasswordHasher& hasher_;
  const suite::security::Hs256& jwt_;
  AuthConfig config_;
};

}  // namespace auth
