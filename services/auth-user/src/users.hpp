#pragma once
/// Registration and login against PostgreSQL (blocking: worker threads only).
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "email_tokens.hpp"
#include "lockout.hpp"
#include "sessions.hpp"
#include "totp.hpp"
#include "suite/audit/event.hpp"
#include "suite/core/ids.hpp"
#include "suite/db/pool.hpp"
#include "suite/security/jwt.hpp"
#include "suite/security/password.hpp"

namespace auth {

struct AuthConfig {
  std::chrono::seconds access_ttl{15 * 60};
  /// Key material for device tokens (main passes JWT_SECRET); empty: a random one per process.
  std::string device_secret;
  int lockout_threshold = 5;
  int password_min_score = 3;  ///< zxcvbn 0-4; 0: composition rules only
  std::chrono::minutes lockout_duration{30};
  std::string issuer = "suite-auth";   ///< `iss` of access tokens
  std::string audience = "suite-api";  ///< `aud` of access tokens
};

/// Signs access-token claims (ES256 with the current signing key, or HS256).
using TokenSigner = std::function<std::string(const nlohmann::json&)>;

/// Receives security events; never a secret in them.
using EventSink = std::function<void(suite::audit::Event)>;
using Severity = suite::audit::Severity;

struct NewUser {
  bool admin = false;     ///< roles admin+user (seed 002's superuser)
  bool verified = false;  ///< the address counts as confirmed (bootstrap admin, admin's choice)
  bool self = true;       ///< registered by the person (event "register"), not by an admin
};

class Users {
 public:
  Users(suite::db::Pool& pool, const suite::security::PasswordHasher& hasher,
        const suite::security::Hs256& jwt, AuthConfig config, SessionConfig sessions = {},
        EmailConfig email = {.require_verification = false})
      : pool_(pool), hasher_(hasher), jwt_(jwt), config_(config), sessions_(sessions),
        devices_(config.device_secret.empty() ? suite::core::RandomHex(32) : config.device_secret),
        lockout_(config.lockout_threshold, config.lockout_duration), email_(std::move(email)) {}

  /// 201 body; throws ApiError 422 (policy) or 409 (username taken; an e-mail address too,
  /// unless verification is on). With verification on a taken address is not revealed: the
  /// answer looks like a new account's, none is made, and the address's owner gets a mail.
  nlohmann::json Register(const std::string& username, const std::string& email, const std::string& password,
                          const ClientInfo& client, NewUser kind = {});
  // E-mail links (seed 004's verification, and password reset). The request endpoints answer
  // the same whether or not the address belongs to an account.
  nlohmann::json VerifyEmail(const std::string& token, const ClientInfo& client);
  void ResendVerification(const std::string& email, const ClientInfo& client);
  void ForgotPassword(const std::string& email, const ClientInfo& client);
  /// Sets a new password (policy applies), confirms the address, lifts a lock and ends every
  /// session. 400 when the token is not valid.
  void ResetPassword(const std::string& token, const std::string& new_password, const ClientInfo& client);
  /// How access tokens are signed; unset: HS256 with the shared secret.
  void SetSigner(TokenSigner signer) { signer_ = std::move(signer); }
  /// Signs access-token claims as users' tokens are signed (ES256 with the current key, or
  /// HS256 when ACCESS_TOKEN_ALGORITHM says so).
  std::string SignAccess(const nlohmann::json& claims) const { return signer_ ? signer_(claims) : jwt_.Sign(claims); }
  const AuthConfig& config() const { return config_; }
  /// Where mails go; nullptr (the default): none are sent, and verification cannot be required.
  void SetOutbox(Outbox* outbox) { outbox_ = outbox; }
  /// Token response (access, refresh and device token); throws ApiError 401 (bad
  /// credentials) or 403 (locked, inactive). A valid `device_token` of this account (from an
  /// earlier login) exempts the client from a lock that other clients caused.
  /// With TOTP on, a right password without `totp_code` is 401 MFA_REQUIRED, and a wrong code
  /// counts as a failed login.
  nlohmann::json Login(const std::string& username_or_email, const std::string& password,
                       const ClientInfo& client, std::string_view device_token = {}, std::string_view totp_code = {});
  // TOTP second factor of the signed-in user.
  nlohmann::json TotpEnroll(const std::string& username, const ClientInfo& client);
  nlohmann::json TotpConfirm(const std::string& username, const std::string& code, const ClientInfo& client);
  /// Needs the password and a code (or a recovery code): a stolen access token cannot remove it.
  void TotpDisable(const std::string& username, const std::string& password, const std::string& code,
                   const ClientInfo& client);
  void SetTotp(const Totp* totp) { totp_ = totp; }
  /// Rotates a refresh token: a new access and refresh token, or 401 "Invalid refresh token".
  nlohmann::json Refresh(const std::string& refresh_token, const ClientInfo& client);
  /// Ends the session (token family) of `refresh_token`; 401 when unknown.
  void Logout(const std::string& refresh_token);
  /// Ends every session of the user; returns how many.
  long long LogoutAll(const std::string& username, const ClientInfo& client = {});
  nlohmann::json ListSessions(const std::string& username);
  /// Checks the current password (401 when wrong), applies the policy to the new one (422),
  /// stores it and ends every session.
  void ChangePassword(const std::string& username, const std::string& current, const std::string& next,
                      const ClientInfo& client = {});
  /// The caller's profile; 404 when the account is gone.
  nlohmann::json Me(const std::string& username);
  /// Changes username and/or e-mail (validated; 409 when taken); returns the profile.
  nlohmann::json UpdateMe(const std::string& username, const std::optional<std::string>& new_username,
                          const std::optional<std::string>& new_email);
  // Administration (seed 004's /users/ endpoints; the caller is checked by the routes).
  struct UserFilter {
    std::optional<std::string> search;  ///< substring of username or e-mail, case-insensitive
    std::optional<bool> is_active;
    std::optional<std::string> role;
    long long skip = 0;
    int limit = 50;
  };
  struct UserChanges {
    std::optional<std::string> username, email, password;
    std::optional<bool> is_active, is_verified, is_superuser;
  };
  /// {"items","total","skip","limit"}, oldest first.
  nlohmann::json ListUsers(const UserFilter& filter);
  nlohmann::json GetUser(long long id);
  /// Applies the changes (validated like registration; 409 when a name is taken); deactivating
  /// or changing the password ends the user's sessions. `actor` may not demote or deactivate
  /// themselves (an admin locked out of their own tools).
  nlohmann::json UpdateUser(long long id, const UserChanges& changes, const std::string& actor,
                            const ClientInfo& client = {});
  /// activate | deactivate | unlock
  nlohmann::json SetState(long long id, const std::string& action, const std::string& actor,
                          const ClientInfo& client = {});
  void DeleteUser(long long id, const std::string& actor, const ClientInfo& client = {});
  /// Where security events go (the audit publisher in the service, a list in tests).
  void SetEventSink(EventSink sink) { events_ = std::move(sink); }
  /// Publishes one security event (and nothing when no sink is set).
  void Emit(const char* type, Severity severity, std::optional<long long> user_id, const std::string& username,
            const ClientInfo& client, nlohmann::json details = nullptr) const;
  /// Creates the bootstrap admin when absent. Returns true when created.
  bool EnsureAdmin(const std::string& username, const std::string& email, const std::string& password);

 private:
  nlohmann::json Tokens(const nlohmann::json& user, const std::string& refresh_token) const;
  /// Mails a new link of `purpose` to the account of `email`, if there is one that may have it
  /// and none went out within the resend interval; silent otherwise (the caller answers alike).
  void MailLink(const std::string& email, EmailPurpose purpose, const ClientInfo& client);
  /// Queues a mail in `tx` when mail is configured (sent once `tx` commits and Wake runs).
  bool Queue(pqxx::work& tx, const Mail& mail) const;
  void WakeOutbox() const {
    if (outbox_) outbox_->Wake();
  }
  pqxx::row FindByUsername(pqxx::work& tx, const std::string& username, bool for_update) const;

  suite::db::Pool& pool_;
  const suite::security::PasswordHasher& hasher_;
  const suite::security::Hs256& jwt_;
  AuthConfig config_;
  Sessions sessions_;
  DeviceTokens devices_;
  Lockout lockout_;
  EventSink events_;
  EmailTokens email_;
  Outbox* outbox_ = nullptr;
  TokenSigner signer_;
  const Totp* totp_ = nullptr;
};

}  // namespace auth
