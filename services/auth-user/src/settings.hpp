#pragma once
// auth-user's configuration, read once from the environment (README lists each variable).
#include <string>

#include "clients.hpp"
#include "email_tokens.hpp"
#include "mail.hpp"
#include "sessions.hpp"
#include "suite/core/config.hpp"
#include "suite/audit/publisher.hpp"
#include "suite/redis/client.hpp"
#include "suite/security/password.hpp"
#include "suite/service/host.hpp"
#include "users.hpp"

namespace auth {

struct Settings {
  suite::service::HostConfig host;
  std::string database_url;
  suite::redis::Options redis;
  suite::audit::PublisherOptions audit;  ///< the security events' spool (AUDIT_SPOOL_*)
  std::string jwt_secret;      ///< HS256 access tokens (seed 000), device tokens
  std::string signing_secret;  ///< seals the ES256 signing keys in PostgreSQL
  std::string algorithm;       ///< what signs access tokens: ES256 or HS256
  AuthConfig auth;
  SessionConfig sessions;
  EmailConfig email;
  SmtpConfig smtp;
  suite::security::PasswordParams password;
  std::string totp_issuer;
  int login_per_minute = 10, register_per_minute = 5, mail_per_minute = 5;
  int token_per_minute = 120;  ///< POST /oauth/token per client address (OAUTH_TOKEN_RATE_PER_MINUTE)
  ClientConfig clients;        ///< CLIENT_TOKEN_EXPIRE_SECONDS, MAX_SERVICE_CLIENTS
  int max_keys_per_user = 20;
  std::string admin_user, admin_email, admin_password;  ///< the bootstrap admin (optional)

  /// Every error is recorded in `env` (Env::Finish() reports them all and exits 2).
  static Settings FromEnv(suite::core::Env& env);
};

}  // namespace auth
