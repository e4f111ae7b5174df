#include "users.hpp"

#include "suite/core/error.hpp"
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

nlohmann::json UserJson(const pqxx::row& r) {
  std::vector<std::string> roles;
  auto arr = r["roles"].as_array();
  for (auto item = arr.get_next(); item.first != pqxx::array_parser::done; item = arr.get_next())
    if (item.first == pqxx::array_parser::string_value) roles.push_back(item.second);
  return {{"id", r["id"].as<long long>()},      {"username", r["username"].c_str()},
          {"email", r["email"].c_str()},         {"roles", roles},
          {"is_active", r["is_active"].as<bool>()}, {"is_verified", r["is_verified"].as<bool>()},
          {"created_at", r["created_at"].c_str()}};
}

constexpr const char* kColumns =
    "id, username, email, password_hash, roles, is_active, is_verified, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') AS created_at";

}  // namespace

nlohmann::json Users::Register(const std::string& username, const std::string& email,
                               const std::string& password, bool admin) {
  nlohmann::json errors = nlohmann::json::array();
  CheckUsername(username, errors);
  CheckEmail(email, errors);
  CheckPassword(password, errors);
  if (!errors.empty()) throw ApiError(ErrorCode::kValidation, "Request validation failed", {{"errors", errors}});
  const std::string hash = hasher_.Hash(password);  // before taking a connection
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_params(std::string("INSERT INTO auth.users (username, email, password_hash, roles) "
                                        "VALUES ($1, $2, $3, $4::text[]) ON CONFLICT DO NOTHING RETURNING ") + kColumns,
                            username, email, hash, admin ? "{admin,user}" : "{user}");
    if (r.empty()) throw ApiError(ErrorCode::kConflict, "Username or email already registered");
    tx.commit();
    return UserJson(r[0]);
  });
}

nlohmann::json Users::Login(const std::string& login, const std::string& password, const std::string& client_ip) {
  static const std::string kDummy = hasher_.Hash("timing-equaliser-Pa55!");
  const std::string unauthorized = "Incorrect username or password";
  if (login.empty() || password.empty() || login.size() > 254 || password.size() > 1024)
    throw ApiError(ErrorCode::kUnauthenticated, unauthorized);
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_params(std::string("SELECT ") + kColumns +
                                   ", locked_until > now() AS locked, "
                                   "ceil(extract(epoch FROM locked_until - now()))::bigint AS locked_for "
                                   "FROM auth.users WHERE lower(username) = lower($1) OR lower(email) = lower($1) "
                                   "ORDER BY (lower(username) = lower($1)) DESC LIMIT 1 FOR UPDATE",
                               login);
    if (rows.empty()) {
      (void)hasher_.Verify(kDummy, password);  // same work as for a real user
      obs::Warn("login failed", {{"reason", "unknown user"}, {"client", client_ip}});
      throw ApiError(ErrorCode::kUnauthenticated, unauthorized);
    }
    const auto& u = rows[0];
    if (!u["locked"].is_null() && u["locked"].as<bool>()) {
      ApiError err(ErrorCode::kForbidden, "Account locked due to too many failed login attempts. Try again later.",
                   {{"retry_after_seconds", u["locked_for"].as<long long>()}});
      throw err;
    }
    if (!hasher_.Verify(u["password_hash"].c_str(), password)) {
      auto r = tx.exec_params1(
          "UPDATE auth.users SET failed_attempts = failed_attempts + 1, "
          "locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN now() + make_interval(mins => $3) END, "
          "updated_at = now() WHERE id = $1 RETURNING failed_attempts",
          u["id"].as<long long>(), config_.lockout_threshold, static_cast<int>(config_.lockout_duration.count()));
      tx.commit();
      obs::Warn("login failed", {{"reason", "bad password"}, {"user_id", u["id"].as<long long>()},
                                 {"failed_attempts", r[0].as<int>()}, {"client", client_ip}});
      throw ApiError(ErrorCode::kUnauthenticated, unauthorized);
    }
    if (!u["is_active"].as<bool>()) throw ApiError(ErrorCode::kForbidden, "Inactive user");
    if (hasher_.NeedsRehash(u["password_hash"].c_str()))
      tx.exec_params("UPDATE auth.users SET password_hash = $2 WHERE id = $1", u["id"].as<long long>(),
                     hasher_.Hash(password));
    tx.exec_params("UPDATE auth.users SET failed_attempts = 0, locked_until = NULL WHERE id = $1",
                   u["id"].as<long long>());
    tx.commit();
    auto user = UserJson(u);
    const auto now = Now();
    const auto token = jwt_.Sign({{"sub", user["username"]}, {"uid", user["id"]}, {"roles", user["roles"]},
                                  {"type", "access"}, {"iat", now}, {"exp", now + config_.access_ttl.count()}});
    return nlohmann::json{{"access_token", token}, {"token_type", "bearer"},
                          {"expires_in", config_.access_ttl.count()}};
  });
}

bool Users::EnsureAdmin(const std::string& username, const std::string& email, const std::string& password) {
  try {
    Register(username, email, password, true);
    return true;
  } catch (const ApiError& e) {
    if (e.code() == ErrorCode::kConflict) return false;
    throw std::runtime_error(std::string("bootstrap admin rejected: ") + e.what() + " " + e.details().dump());
  }
}

}  // namespace auth
