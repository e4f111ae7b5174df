#include "users.hpp"

#include "user_row.hpp"

#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
#include "suite/observability/log.hpp"
#include "validation.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;
namespace obs = suite::obs;

namespace {

std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::vector<std::string> TextArray(const pqxx::field& f) {
  std::vector<std::string> out;
  auto arr = f.as_array();
  for (auto item = arr.get_next(); item.first != pqxx::array_parser::done; item = arr.get_next())
    if (item.first == pqxx::array_parser::string_value) out.push_back(item.second);
  return out;
}

nlohmann::json UserJson(const pqxx::row& r) {
  const auto roles = TextArray(r["roles"]);
  return {{"id", r["id"].as<long long>()},      {"username", r["username"].c_str()},
          {"email", r["email"].c_str()},         {"roles", roles},
          {"is_active", r["is_active"].as<bool>()}, {"is_verified", r["is_verified"].as<bool>()},
          {"created_at", r["created_at"].c_str()}};
}

const char* const kColumns =
    "id, username, email, password_hash, roles, is_active, is_verified, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') AS created_at";


nlohmann::json Users::Register(const std::string& username, const std::string& email,
                               const std::string& password, const ClientInfo& client, NewUser kind) {
  nlohmann::json errors = nlohmann::json::array();
  CheckUsername(username, errors);
  CheckEmail(email, errors);
  CheckPassword(password, errors, config_.password_min_score, {username, email});
  if (!errors.empty()) throw suite::core::ValidationError(std::move(errors));
  const std::string hash = hasher_.Hash(password);  // before taking a connection
  // A taken address stays secret only where an address must be proven (verification on).
  const bool conceal = email_.config().require_verification && outbox_ != nullptr;
  struct Outcome {
    nlohmann::json user;
    std::optional<long long> owner;  ///< the existing account of a taken address
  };
  auto out = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_params(std::string("INSERT INTO auth.users (username, email, password_hash, roles, is_verified) "
                                        "VALUES ($1, $2, $3, $4::text[], $5) ON CONFLICT DO NOTHING RETURNING ") +
                                kColumns,
                            username, email, hash, kind.admin ? "{admin,user}" : "{user}", kind.verified);
    if (!r.empty()) {
      auto user = UserJson(r[0]);
      if (!kind.verified)
        Queue(tx, email_.VerificationMail(email, username,
                                          email_.Issue(tx, user["id"], EmailPurpose::kVerify, email)));
      tx.commit();
      return Outcome{std::move(user), std::nullopt};
    }
    const bool name_taken =
        !tx.exec_params("SELECT 1 FROM auth.users WHERE lower(username) = lower($1)", username).empty();
    if (!conceal || name_taken)
      throw ApiError(ErrorCode::kConflict, name_taken && conceal ? "Username already registered"
                                                                 : "Username or email already registered");
    // The address is taken: answer as for a new account (an id from the same sequence, so the
    // numbering shows nothing), make none, and tell the owner.
    auto owner = tx.exec_params1("SELECT id, username, email FROM auth.users WHERE lower(email) = lower($1)", email);
    auto fake = tx.exec1(
        "SELECT nextval(pg_get_serial_sequence('auth.users', 'id')), "
        "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')");
    Queue(tx, email_.AddressTakenMail(owner[2].c_str(), owner[1].c_str()));
    tx.commit();
    return Outcome{{{"id", fake[0].as<long long>()},
                    {"username", username},
                    {"email", email},
                    {"roles", kind.admin ? nlohmann::json{"admin", "user"} : nlohmann::json{"user"}},
                    {"is_active", true},
                    {"is_verified", false},
                    {"created_at", fake[1].c_str()}},
                   owner[0].as<long long>()};
  });
  WakeOutbox();
  if (out.owner) {
    Emit("register_existing_email", Severity::kWarning, *out.owner, "", client, {{"action", "owner notified by e-mail"}});
  } else if (kind.self) {
    Emit("register", Severity::kInfo, out.user["id"].get<long long>(), username, client);
  }
  return out.user;
}

void Users::Emit(const char* type, Severity severity, std::optional<long long> user_id, const std::string& username,
                 const ClientInfo& client, nlohmann::json details) const {
  if (!events_) return;
  auto text = [](const std::string& v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
  events_({.service = "auth-user",
           .request_id = client.request_id,
           .record = suite::audit::SecurityRecord{.event_type = type,
                                                  .severity = severity,
                                                  .user_id = user_id,
                                                  .username = text(username),
                                                  .client = text(client.ip),
                                                  .user_agent = text(client.user_agent),
                                                  .details = std::move(details)}});
}

nlohmann::json Users::Tokens(const nlohmann::json& user, const std::string& refresh_token) const {
  const auto now = Now();
  const nlohmann::json claims = {{"iss", config_.issuer},     {"aud", config_.audience}, {"sub", user["username"]},
                                 {"uid", user["id"]},         {"roles", user["roles"]},  {"type", "access"},
                                 {"jti", suite::core::NewUuid()}, {"iat", now},           {"exp", now + config_.access_ttl.count()}};
  const auto token = signer_ ? signer_(claims) : jwt_.Sign(claims);
  return nlohmann::json{{"access_token", token}, {"refresh_token", refresh_token}, {"token_type", "bearer"},
                        {"expires_in", config_.access_ttl.count()}};
}

pqxx::row Users::FindByUsername(pqxx::work& tx, const std::string& username, bool for_update) const {
  auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM auth.users WHERE lower(username) = lower($1)" +
                                 (for_update ? " FOR UPDATE" : ""),
                             username);
  if (rows.empty()) throw ApiError(ErrorCode::kNotFound, "User not found");
  return rows[0];
}

nlohmann::json Users::Login(const std::string& login, const std::string& password, const ClientInfo& client,
                            std::string_view device_token, std::string_view totp_code) {
  const std::string& client_ip = client.ip;
  static const std::string kDummy = hasher_.Hash("timing-equaliser-Pa55!");
  const std::string unauthorized = "Incorrect username or password";
  if (login.empty() || password.empty() || login.size() > 254 || password.size() > 1024)
    throw ApiError(ErrorCode::kUnauthenticated, unauthorized);
  // One answer for every lock, whoever's it is: real and unknown names are indistinguishable.
  auto locked = [](const LockState& s) {
    return ApiError(ErrorCode::kForbidden, "Account locked due to too many failed login attempts. Try again later.",
                    {{"retry_after_seconds", s.retry_after_seconds}})
        .RetryAfter(std::chrono::seconds(s.retry_after_seconds));
  };
  const auto device = devices_.Verify(device_token);
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_params(std::string("SELECT ") + kColumns +
                                   " FROM auth.users WHERE lower(username) = lower($1) OR lower(email) = lower($1) "
                                   "ORDER BY (lower(username) = lower($1)) DESC LIMIT 1 FOR UPDATE",
                               login);
    if (rows.empty()) {
      if (const auto s = lockout_.Unknown(tx, login); s.locked) throw locked(s);
      (void)hasher_.Verify(kDummy, password);  // same work as for a real user
      const bool now_locked = lockout_.UnknownFailure(tx, login);
      tx.commit();
      obs::Warn("login failed", {{"reason", "unknown user"}, {"client", client_ip}});
      // The attempted name is left out: people type their password into the name field.
      Emit("login_failure", Severity::kWarning, std::nullopt, "", client, {{"reason", "unknown account"}});
      if (now_locked) Emit("account_locked", Severity::kWarning, std::nullopt, "", client, {{"scope", "unknown account"}});
      throw ApiError(ErrorCode::kUnauthenticated, unauthorized);
    }
    const auto& u = rows[0];
    const long long id = u["id"].as<long long>();
    // A device token of this account: only its own failures can hold it.
    const bool trusted = device && device->user_id == id;
    if (const auto s = trusted ? lockout_.Device(tx, device->nonce) : lockout_.Account(tx, id); s.locked) throw locked(s);
    if (!hasher_.Verify(u["password_hash"].c_str(), password)) {
      const bool now_locked =
          trusted ? lockout_.DeviceFailure(tx, device->nonce, id) : lockout_.AccountFailure(tx, id);
      tx.commit();
      Emit("login_failure", Severity::kWarning, id, u["username"].c_str(), client, {{"reason", "bad password"}, {"trusted_device", trusted}});
      if (now_locked)
        Emit("account_locked", Severity::kError, id, u["username"].c_str(), client, {{"scope", trusted ? "device" : "account"}});
      obs::Warn("login failed", {{"reason", "bad password"}, {"user_id", id}, {"trusted_device", trusted},
                                 {"client", client_ip}});
      throw ApiError(ErrorCode::kUnauthenticated, unauthorized);
    }
    if (!u["is_active"].as<bool>()) throw ApiError(ErrorCode::kForbidden, "Inactive user");
    bool recovery_used = false;
    if (totp_ && totp_->Enabled(tx, id)) {
      if (totp_code.empty())
        throw ApiError(ErrorCode::kMfaRequired, "Two-factor code required", {{"mfa", "totp"}});
      const auto result = totp_->Check(tx, id, std::string(totp_code.substr(0, 64)));
      if (result == Totp::Result::kInvalid) {
        // A wrong code is a failed login: the lockout bounds guessing.
        const bool now_locked =
            trusted ? lockout_.DeviceFailure(tx, device->nonce, id) : lockout_.AccountFailure(tx, id);
        tx.commit();
        Emit("totp_failure", Severity::kWarning, id, u["username"].c_str(), client, {{"trusted_device", trusted}});
        if (now_locked)
          Emit("account_locked", Severity::kError, id, u["username"].c_str(), client, {{"scope", trusted ? "device" : "account"}});
        throw ApiError(ErrorCode::kUnauthenticated, "Invalid two-factor code");
      }
      recovery_used = result == Totp::Result::kRecoveryCodeUsed;
    }
    if (hasher_.NeedsRehash(u["password_hash"].c_str()))
      tx.exec_params("UPDATE auth.users SET password_hash = $2 WHERE id = $1", id, hasher_.Hash(password));
    if (trusted) lockout_.DeviceSuccess(tx, device->nonce);
    else lockout_.AccountSuccess(tx, id);  // the owner, from a new client: the stranger's count ends
    // Only after the password: the answer says nothing about an account to one who lacks it.
    if (email_.config().require_verification && !u["is_verified"].as<bool>()) {
      tx.commit();  // the failure count the right password ended
      throw ApiError(ErrorCode::kEmailNotVerified,
                     "Email address not verified. Open the link we sent, or ask for a new one at "
                     "POST /auth/resend-verification.");
    }
    auto user = UserJson(u);
    const std::string refresh = sessions_.Start(tx, id, client);
    auto out = Tokens(user, refresh);
    out["device_token"] = trusted ? std::string(device_token) : devices_.Issue(id);
    tx.commit();
    if (recovery_used) Emit("totp_recovery_code_used", Severity::kWarning, id, u["username"].c_str(), client);
    Emit("login_success", Severity::kInfo, id, u["username"].c_str(), client, {{"trusted_device", trusted}});
    return out;
  });
}

nlohmann::json Users::Refresh(const std::string& refresh_token, const ClientInfo& client) {
  return pool_.With([&](pqxx::connection& c) {
    std::string why;
    pqxx::work tx(c);
    const auto next = sessions_.Rotate(tx, refresh_token, client, why);
    nlohmann::json out;
    if (next) {
      auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM auth.users WHERE id = $1", next->user_id);
      if (!rows.empty()) out = Tokens(UserJson(rows[0]), next->refresh_token);
    }
    tx.commit();  // a detected replay revokes its family even though the answer is 401
    if (out.is_null()) {
      if (why == "reuse") {
        obs::Warn("refresh token reuse: session revoked", {{"client", client.ip}, {"event", "refresh_token_reuse"}});
        Emit("refresh_token_reuse", Severity::kCritical, std::nullopt, "", client, {{"action", "session revoked"}});
      } else {
        obs::Info("refresh refused", {{"reason", why}, {"client", client.ip}});
      }
      throw ApiError(ErrorCode::kUnauthenticated, "Invalid refresh token");
    }
    return out;
  });
}

void Users::Logout(const std::string& refresh_token) {
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const bool known = sessions_.EndFamily(tx, refresh_token);
    tx.commit();
    if (!known) throw ApiError(ErrorCode::kUnauthenticated, "Invalid refresh token");
    return 0;
  });
}

long long Users::LogoutAll(const std::string& username, const ClientInfo& client) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto id = FindByUsername(tx, username, false)["id"].as<long long>();
    const auto n = sessions_.EndAll(tx, id);
    tx.commit();
    Emit("logout_all", Severity::kInfo, id, username, client, {{"sessions_ended", n}});
    return n;
  });
}

nlohmann::json Users::ListSessions(const std::string& username) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto out = sessions_.List(tx, FindByUsername(tx, username, false)["id"].as<long long>());
    tx.commit();
    return nlohmann::json{{"sessions", out}, {"count", out.size()}};
  });
}

void Users::ChangePassword(const std::string& username, const std::string& current, const std::string& next,
                           const ClientInfo& client) {
  nlohmann::json errors = nlohmann::json::array();
  CheckPassword(next, errors, config_.password_min_score, {username});
  if (!errors.empty()) throw suite::core::ValidationError(std::move(errors));
  if (current.size() > 1024) throw ApiError(ErrorCode::kUnauthenticated, "Incorrect password");
  const std::string stored = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    return std::string(FindByUsername(tx, username, false)["password_hash"].c_str());
  });
  // Hashing runs without a held row lock or connection.
  if (!hasher_.Verify(stored, current)) {
    Emit("password_change_failure", Severity::kWarning, std::nullopt, username, client, {{"reason", "wrong current password"}});
    throw ApiError(ErrorCode::kUnauthenticated, "Incorrect password");
  }
  if (hasher_.Verify(stored, next))
    throw suite::core::ValidationError("new_password", "New password must differ from the current one");
  const std::string hash = hasher_.Hash(next);
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto user = FindByUsername(tx, username, true);
    if (std::string(user["password_hash"].c_str()) != stored)  // changed meanwhile: the check is stale
      throw ApiError(ErrorCode::kConflict, "Password was changed concurrently; try again");
    const auto id = user["id"].as<long long>();
    tx.exec_params("UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1", id, hash);
    const auto ended = sessions_.EndAll(tx, id);
    tx.commit();
    obs::Info("password changed", {{"user_id", id}, {"sessions_ended", ended}, {"event", "password_change"}});
    Emit("password_change", Severity::kInfo, id, username, client, {{"sessions_ended", ended}});
    return 0;
  });
}

nlohmann::json Users::Me(const std::string& username) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto row = FindByUsername(tx, username, false);
    auto me = UserJson(row);
    me["totp_enabled"] = totp_ != nullptr && totp_->Enabled(tx, row["id"].as<long long>());
    return me;
  });
}

nlohmann::json Users::UpdateMe(const std::string& username, const std::optional<std::string>& new_username,
                               const std::optional<std::string>& new_email) {
  nlohmann::json errors = nlohmann::json::array();
  if (new_username) CheckUsername(*new_username, errors);
  if (new_email) CheckEmail(*new_email, errors);
  if (!errors.empty()) throw suite::core::ValidationError(std::move(errors));
  auto user = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto current = FindByUsername(tx, username, true);
    const auto id = current["id"].as<long long>();
    // A new address is unconfirmed until its owner opens the link sent to it.
    const bool new_address = new_email && outbox_ != nullptr && suite::core::AsciiLower(*new_email) != suite::core::AsciiLower(current["email"].c_str());
    pqxx::result r;
    try {
      pqxx::subtransaction sub(tx);
      r = sub.exec_params(std::string("UPDATE auth.users SET username = coalesce($2, username), "
                                      "email = coalesce($3, email), is_verified = is_verified AND NOT $4, "
                                      "updated_at = now() WHERE id = $1 RETURNING ") + kColumns,
                          id, new_username, new_email, new_address);
      sub.commit();
    } catch (const pqxx::unique_violation&) {
      throw ApiError(ErrorCode::kConflict, "Username or email already registered");
    }
    if (new_address)
      Queue(tx, email_.VerificationMail(*new_email, r[0]["username"].c_str(),
                                        email_.Issue(tx, id, EmailPurpose::kVerify, *new_email)));
    tx.commit();
    return UserJson(r[0]);
  });
  WakeOutbox();
  return user;
}

bool Users::EnsureAdmin(const std::string& username, const std::string& email, const std::string& password) {
  try {
    Register(username, email, password, {}, {.admin = true, .verified = true, .self = false});
    return true;
  } catch (const ApiError& e) {
    if (e.code() == ErrorCode::kConflict) return false;
    throw std::runtime_error(std::string("bootstrap admin rejected: ") + e.what() + " " + e.details().dump());
  }
}

}  // namespace auth
