// Users: the e-mailed links (verification, password reset) and the outbox they go through.
#include "users.hpp"

#include "suite/core/error.hpp"
#include "suite/observability/log.hpp"
#include "user_row.hpp"
#include "validation.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;
namespace obs = suite::obs;

bool Users::Queue(pqxx::work& tx, const Mail& mail) const {
  if (!outbox_) return false;
  Outbox::Enqueue(tx, mail);
  return true;
}

nlohmann::json Users::VerifyEmail(const std::string& token, const ClientInfo& client) {
  auto user = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto claim = email_.Consume(tx, token, EmailPurpose::kVerify);
    if (!claim) throw ApiError(ErrorCode::kBadRequest, "Invalid or expired verification token");
    auto r = tx.exec_params1(std::string("UPDATE auth.users SET is_verified = true, updated_at = now() WHERE id = $1 "
                                         "RETURNING ") + kColumns,
                             claim->user_id);
    tx.commit();
    return UserJson(r);
  });
  Emit("email_verified", Severity::kInfo, user["id"].get<long long>(), user["username"], client);
  return {{"message", "Email verified successfully"}, {"user", user}};
}

void Users::ResendVerification(const std::string& email, const ClientInfo& client) {
  MailLink(email, EmailPurpose::kVerify, client);
}

void Users::ForgotPassword(const std::string& email, const ClientInfo& client) {
  MailLink(email, EmailPurpose::kReset, client);
}

void Users::MailLink(const std::string& email, EmailPurpose purpose, const ClientInfo& client) {
  if (!outbox_ || email.size() > 254) return;
  const bool verify = purpose == EmailPurpose::kVerify;
  std::optional<long long> sent_to;
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    // Verification links go to unverified accounts only; reset links to any active one.
    auto rows = tx.exec_params(std::string("SELECT id, username, email FROM auth.users WHERE lower(email) = lower($1) "
                                           "AND is_active") + (verify ? " AND NOT is_verified" : ""),
                               email);
    if (!rows.empty() && !email_.RecentlySent(tx, rows[0][0].as<long long>(), purpose)) {
      const long long id = rows[0][0].as<long long>();
      const std::string to = rows[0][2].c_str(), name = rows[0][1].c_str();
      const auto token = email_.Issue(tx, id, purpose, to);
      Queue(tx, verify ? email_.VerificationMail(to, name, token) : email_.ResetMail(to, name, token));
      sent_to = id;
    }
    tx.commit();
    return 0;
  });
  if (sent_to) {
    WakeOutbox();
    Emit(verify ? "verification_resent" : "password_reset_requested", Severity::kInfo, *sent_to, "", client);
  }
}

void Users::ResetPassword(const std::string& token, const std::string& new_password, const ClientInfo& client) {
  const auto invalid = [] { return ApiError(ErrorCode::kBadRequest, "Invalid or expired reset token"); };
  // Look first (the policy needs the name), hash without a connection, then spend the token.
  const auto who = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto claim = email_.Peek(tx, token, EmailPurpose::kReset);
    if (!claim) throw invalid();
    auto r = tx.exec_params1("SELECT username, email FROM auth.users WHERE id = $1", claim->user_id);
    return std::pair<std::string, std::string>{r[0].c_str(), r[1].c_str()};
  });
  nlohmann::json errors = nlohmann::json::array();
  CheckPassword(new_password, errors, config_.password_min_score, {who.first, who.second});
  if (!errors.empty()) throw suite::core::ValidationError(std::move(errors));
  const std::string hash = hasher_.Hash(new_password);
  const auto [id, ended] = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto claim = email_.Consume(tx, token, EmailPurpose::kReset);
    if (!claim) throw invalid();
    tx.exec_params("UPDATE auth.users SET password_hash = $2, is_verified = true, updated_at = now() WHERE id = $1",
                   claim->user_id, hash);
    lockout_.AccountSuccess(tx, claim->user_id);
    tx.exec_params("UPDATE auth.device_locks SET failed_attempts = 0, locked_until = NULL WHERE user_id = $1",
                   claim->user_id);
    const auto n = sessions_.EndAll(tx, claim->user_id);
    tx.commit();
    return std::pair{claim->user_id, n};
  });
  obs::Info("password reset", {{"user_id", id}, {"sessions_ended", ended}, {"event", "password_reset"}});
  Emit("password_reset", Severity::kWarning, id, who.first, client, {{"sessions_ended", ended}});
}

}  // namespace auth
