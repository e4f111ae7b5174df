// Users: the TOTP second factor of the signed-in user.
#include "users.hpp"

#include "suite/core/error.hpp"
#include "suite/observability/log.hpp"
#include "user_row.hpp"
#include "validation.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;
namespace obs = suite::obs;

nlohmann::json Users::TotpEnroll(const std::string& username, const ClientInfo& client) {
  if (!totp_) throw ApiError(ErrorCode::kNotFound, "Two-factor authentication is not available");
  auto out = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto id = FindByUsername(tx, username, true)["id"].as<long long>();
    auto r = totp_->Enroll(tx, id, username);
    tx.commit();
    return r;
  });
  Emit("totp_enrolment_started", Severity::kInfo, std::nullopt, username, client);
  return out;
}

nlohmann::json Users::TotpConfirm(const std::string& username, const std::string& code, const ClientInfo& client) {
  if (!totp_) throw ApiError(ErrorCode::kNotFound, "Two-factor authentication is not available");
  const auto [id, out] = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto id = FindByUsername(tx, username, true)["id"].as<long long>();
    auto r = totp_->Confirm(tx, id, code);
    tx.commit();
    return std::pair{id, r};
  });
  Emit("totp_enabled", Severity::kInfo, id, username, client);
  return out;
}

void Users::TotpDisable(const std::string& username, const std::string& password, const std::string& code,
                        const ClientInfo& client) {
  if (!totp_) throw ApiError(ErrorCode::kNotFound, "Two-factor authentication is not available");
  const std::string stored = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    return std::string(FindByUsername(tx, username, false)["password_hash"].c_str());
  });
  if (password.size() > 1024 || !hasher_.Verify(stored, password))
    throw ApiError(ErrorCode::kUnauthenticated, "Incorrect password");
  const auto id = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto id = FindByUsername(tx, username, true)["id"].as<long long>();
    if (!totp_->Enabled(tx, id)) throw ApiError(ErrorCode::kBadRequest, "Two-factor authentication is not enabled");
    if (totp_->Check(tx, id, code) == Totp::Result::kInvalid) {
      tx.commit();  // a spent recovery code stays spent
      throw ApiError(ErrorCode::kUnauthenticated, "Invalid two-factor code");
    }
    totp_->Disable(tx, id);
    tx.commit();
    return id;
  });
  Emit("totp_disabled", Severity::kWarning, id, username, client);
}

}  // namespace auth
