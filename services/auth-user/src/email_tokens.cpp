#include "email_tokens.hpp"

#include "suite/core/ids.hpp"
#include "suite/security/jwt.hpp"

namespace auth {

namespace {
constexpr std::size_t kMaxTokenLength = 256;
const char* Name(EmailPurpose p) { return p == EmailPurpose::kVerify ? "verify" : "reset"; }
std::string Digest(const std::string& token) { return suite::security::Sha256Hex(token); }
std::string Hours(std::chrono::seconds s) {
  const auto m = std::chrono::duration_cast<std::chrono::minutes>(s).count();
  return m % 60 == 0 ? std::to_string(m / 60) + (m == 60 ? " hour" : " hours") : std::to_string(m) + " minutes";
}
}  // namespace

std::string EmailTokens::Issue(pqxx::work& tx, long long user_id, EmailPurpose purpose, const std::string& email) const {
  tx.exec_params("UPDATE auth.email_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
                 user_id, Name(purpose));
  // Spent and expired links older than a day go with each new one.
  tx.exec_params("DELETE FROM auth.email_tokens WHERE user_id = $1 AND (used_at < now() - interval '1 day' "
                 "OR expires_at < now() - interval '1 day')",
                 user_id);
  const std::string token = suite::security::Base64UrlEncode(suite::core::RandomBytes(32));
  const auto ttl = purpose == EmailPurpose::kVerify ? config_.verify_ttl : config_.reset_ttl;
  tx.exec_params("INSERT INTO auth.email_tokens (token_hash, user_id, purpose, email, expires_at) "
                 "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
                 Digest(token), user_id, Name(purpose), email, static_cast<double>(ttl.count()));
  return token;
}

bool EmailTokens::RecentlySent(pqxx::work& tx, long long user_id, EmailPurpose purpose) const {
  return tx.exec_params1("SELECT EXISTS (SELECT 1 FROM auth.email_tokens WHERE user_id = $1 AND purpose = $2 "
                         "AND created_at > now() - make_interval(secs => $3))",
                         user_id, Name(purpose), static_cast<double>(config_.resend_interval.count()))[0]
      .as<bool>();
}

std::optional<EmailTokens::Claim> EmailTokens::Consume(pqxx::work& tx, const std::string& token,
                                                       EmailPurpose purpose) const {
  return Find(tx, token, purpose, true);
}

std::optional<EmailTokens::Claim> EmailTokens::Peek(pqxx::work& tx, const std::string& token,
                                                    EmailPurpose purpose) const {
  return Find(tx, token, purpose, false);
}

std::optional<EmailTokens::Claim> EmailTokens::Find(pqxx::work& tx, const std::string& token, EmailPurpose purpose,
                                                    bool spend) const {
  if (token.empty() || token.size() > kMaxTokenLength) return std::nullopt;
  // Valid: unspent, unexpired, of this purpose, and the account still has the address.
  static const std::string kValid =
      "t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > now() "
      "AND u.id = t.user_id AND lower(u.email) = lower(t.email)";
  auto rows = tx.exec_params(spend ? "UPDATE auth.email_tokens t SET used_at = now() FROM auth.users u WHERE " + kValid +
                                         " RETURNING t.user_id, t.email"
                                   : "SELECT t.user_id, t.email FROM auth.email_tokens t, auth.users u WHERE " + kValid,
                             Digest(token), Name(purpose));
  if (rows.empty()) return std::nullopt;
  return Claim{rows[0][0].as<long long>(), rows[0][1].c_str()};
}

Mail EmailTokens::VerificationMail(const std::string& to, const std::string& username, const std::string& token) const {
  return {to, "Confirm your e-mail address",
          "Hello " + username + ",\n\n"
          "Confirm this address by opening the link below:\n\n" +
              config_.public_base_url + "/auth/verify-email?token=" + token +
              "\n\n"
              "or by sending the token to POST /auth/verify-email as {\"token\": \"" +
              token + "\"}.\n\nThe link works once and expires in " + Hours(config_.verify_ttl) +
              ". If you did not create an account, ignore this mail.\n"};
}

Mail EmailTokens::ResetMail(const std::string& to, const std::string& username, const std::string& token) const {
  return {to, "Reset your password",
          "Hello " + username + ",\n\n"
          "Someone (we hope you) asked to reset the password of this account. To choose a new one, send\n\n"
          "POST " + config_.public_base_url + "/auth/reset-password\n{\"token\": \"" + token +
              "\", \"new_password\": \"...\"}\n\n"
              "The token works once and expires in " + Hours(config_.reset_ttl) +
              ". Resetting ends every session of the account. If you did not ask, ignore this mail: "
              "your password is unchanged.\n"};
}

Mail EmailTokens::AddressTakenMail(const std::string& to, const std::string& username) const {
  return {to, "Someone tried to register with your address",
          "Hello " + username + ",\n\n"
          "Someone tried to create a new account with this e-mail address, which already belongs to your account. "
          "No account was created.\n\nIf it was you: log in instead, or reset your password with "
          "POST " + config_.public_base_url + "/auth/forgot-password {\"email\": \"" + to +
              "\"}.\nIf it was not you, nothing needs to be done.\n"};
}

}  // namespace auth
