#pragma once
/// TOTP second factor (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps, one step of clock skew each
/// way), codes computed by liboath. A user enrols (secret shown once, as base32 and an
/// otpauth:// URI), confirms with a first code (then gets ten single-use recovery codes), and
/// may disable it. Each code works once. Blocking: inside the caller's transaction.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <ctime>
#include <string>

#include "suite/security/es256.hpp"

namespace auth {

class Totp {
 public:
  Totp(suite::security::SecretBox box, std::string issuer = "suite") : box_(std::move(box)), issuer_(std::move(issuer)) {}
  bool Enabled(pqxx::work& tx, long long user_id) const;
  /// A new pending secret (replacing a pending one); 409 when TOTP is already on.
  nlohmann::json Enroll(pqxx::work& tx, long long user_id, const std::string& username) const;
  /// Turns a pending enrolment on with its first code; returns the recovery codes. 400 when
  /// nothing is pending or the code is wrong.
  nlohmann::json Confirm(pqxx::work& tx, long long user_id, const std::string& code) const;
  enum class Result { kOk, kRecoveryCodeUsed, kInvalid };
  /// Checks a code (or a recovery code, which is then spent) of an enabled factor.
  Result Check(pqxx::work& tx, long long user_id, const std::string& code, std::time_t now = std::time(nullptr)) const;
  void Disable(pqxx::work& tx, long long user_id) const;
  /// The code for `secret` at `now` (tests, and nothing else, need this).
  static std::string CodeAt(const std::string& secret, std::time_t now);
  /// The raw secret from its base32 form (as an authenticator app would read it).
  static std::string FromBase32(const std::string& b32);

 private:
  std::string Secret(pqxx::work& tx, long long user_id, bool enabled) const;
  suite::security::SecretBox box_;
  std::string issuer_;
};

}  // namespace auth
