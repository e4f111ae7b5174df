#pragma once
/// Per-client-address limits on login, registration and mail-sending attempts (seed 004's per-endpoint
/// limits), in PostgreSQL so that all replicas share them: a fixed one-minute window per
/// (action, client). Blocking: worker threads only.
#include <string>

#include "suite/db/pool.hpp"

namespace auth {

class Throttle {
 public:
  /// `per_minute` 0 disables the action's limit.
  Throttle(suite::db::Pool& pool, int login_per_minute, int register_per_minute, int mail_per_minute = 5,
           int token_per_minute = 120)
      : pool_(pool), login_(login_per_minute), register_(register_per_minute), mail_(mail_per_minute),
        token_(token_per_minute) {}
  /// Counts one attempt; throws ApiError(kRateLimited) with retry_after_seconds past the limit.
  void Login(const std::string& client) { Count("login", client, login_); }
  void Register(const std::string& client) { Count("register", client, register_); }
  /// Requests that send a mail (resend verification, forgotten password).
  void Mail(const std::string& client) { Count("mail", client, mail_); }
  /// Requests to the OAuth token endpoint (client_credentials).
  void Token(const std::string& client) { Count("token", client, token_); }

 private:
  void Count(const char* action, const std::string& client, int limit);
  suite::db::Pool& pool_;
  int login_, register_, mail_, token_;
};

}  // namespace auth
