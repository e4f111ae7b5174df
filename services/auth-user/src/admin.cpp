// The administrators' side of Users: seed 004's /users/ endpoints.
#include "suite/core/error.hpp"
#include "suite/observability/log.hpp"
#include "user_row.hpp"
#include "users.hpp"
#include "validation.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;
namespace obs = suite::obs;

namespace {

pqxx::row Lock(pqxx::work& tx, long long id) {
  auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM auth.users WHERE id = $1 FOR UPDATE", id);
  if (rows.empty()) throw ApiError(ErrorCode::kNotFound, "User not found");
  return rows[0];
}

void NotOnSelf(const pqxx::row& user, const std::string& actor, const char* what) {
  if (std::string(user["username"].c_str()) == actor)
    throw ApiError(ErrorCode::kConflict, std::string("Administrators cannot ") + what + " their own account");
}

// LIKE pattern of a literal substring.
std::string Contains(const std::string& s) {
  std::string out = "%";
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "%";
}

}  // namespace

nlohmann::json Users::ListUsers(const UserFilter& f) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    const std::optional<std::string> pattern = f.search ? std::optional<std::string>(Contains(*f.search)) : std::nullopt;
    constexpr const char* kWhere =
        " FROM auth.users WHERE ($1::text IS NULL OR username ILIKE $1 OR email ILIKE $1) "
        "AND ($2::boolean IS NULL OR is_active = $2) AND ($3::text IS NULL OR $3 = ANY(roles))";
    auto rows = tx.exec_params(std::string("SELECT ") + kColumns + kWhere + " ORDER BY id LIMIT $4 OFFSET $5",
                               pattern, f.is_active, f.role, f.limit, f.skip);
    const auto total = tx.exec_params1(std::string("SELECT count(*)") + kWhere, pattern, f.is_active, f.role)[0]
                           .as<long long>();
    nlohmann::json items = nlohmann::json::array();
    for (const auto& r : rows) items.push_back(UserJson(r));
    return nlohmann::json{{"items", items}, {"total", total}, {"skip", f.skip}, {"limit", f.limit}};
  });
}

nlohmann::json Users::GetUser(long long id) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM auth.users WHERE id = $1", id);
    if (rows.empty()) throw ApiError(ErrorCode::kNotFound, "User not found");
    return UserJson(rows[0]);
  });
}

nlohmann::json Users::UpdateUser(long long id, const UserChanges& ch, const std::string& actor,
                                 const ClientInfo& client) {
  nlohmann::json errors = nlohmann::json::array();
  if (ch.username) CheckUsername(*ch.username, errors);
  if (ch.email) CheckEmail(*ch.email, errors);
  if (ch.password)
    CheckPassword(*ch.password, errors, config_.password_min_score,
                  {ch.username.value_or(""), ch.email.value_or("")});
  if (!errors.empty()) throw suite::core::ValidationError(std::move(errors));
  const std::optional<std::string> hash = ch.password ? std::optional<std::string>(hasher_.Hash(*ch.password)) : std::nullopt;
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto user = Lock(tx, id);
    if ((ch.is_active && !*ch.is_active) || (ch.is_superuser && !*ch.is_superuser)) NotOnSelf(user, actor, "deactivate or demote");
    std::optional<std::string> roles;
    if (ch.is_superuser) roles = *ch.is_superuser ? "{admin,user}" : "{user}";
    pqxx::result r;
    try {
      pqxx::subtransaction sub(tx);
      r = sub.exec_params(std::string("UPDATE auth.users SET username = coalesce($2, username), email = coalesce($3, email), "
                                      "password_hash = coalesce($4, password_hash), is_active = coalesce($5, is_active), "
                                      "is_verified = coalesce($6, is_verified), roles = coalesce($7::text[], roles), "
                                      "updated_at = now() WHERE id = $1 RETURNING ") + kColumns,
                          id, ch.username, ch.email, hash, ch.is_active, ch.is_verified, roles);
      sub.commit();
    } catch (const pqxx::unique_violation&) {
      throw ApiError(ErrorCode::kConflict, "Username or email already registered");
    }
    if (hash || (ch.is_active && !*ch.is_active)) sessions_.EndAll(tx, id);
    tx.commit();
    obs::Info("user changed by an administrator", {{"user_id", id}, {"actor", actor}, {"event", "admin_user_update"}});
    nlohmann::json changed = nlohmann::json::array();  // which fields, never their values (a password)
    if (ch.username) changed.push_back("username");
    if (ch.email) changed.push_back("email");
    if (ch.password) changed.push_back("password");
    if (ch.is_active) changed.push_back("is_active");
    if (ch.is_verified) changed.push_back("is_verified");
    if (ch.is_superuser) changed.push_back("is_superuser");
    Emit("admin_user_update", Severity::kWarning, id, r[0]["username"].c_str(), client, {{"actor", actor}, {"fields", changed}});
    return UserJson(r[0]);
  });
}

nlohmann::json Users::SetState(long long id, const std::string& action, const std::string& actor,
                               const ClientInfo& client) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto user = Lock(tx, id);
    const char* sql = nullptr;
    if (action == "activate") {
      sql = "UPDATE auth.users SET is_active = true, updated_at = now() WHERE id = $1";
    } else if (action == "deactivate") {
      NotOnSelf(user, actor, "deactivate");
      sql = "UPDATE auth.users SET is_active = false, updated_at = now() WHERE id = $1";
      sessions_.EndAll(tx, id);
    } else if (action == "unlock") {
      sql = "UPDATE auth.users SET failed_attempts = 0, locked_until = NULL, updated_at = now() WHERE id = $1";
    } else {
      throw ApiError(ErrorCode::kNotFound, "Not Found");
    }
    tx.exec_params(sql, id);
    auto r = tx.exec_params1(std::string("SELECT ") + kColumns + " FROM auth.users WHERE id = $1", id);
    tx.commit();
    obs::Info("user state changed by an administrator",
              {{"user_id", id}, {"actor", actor}, {"action", action}, {"event", "admin_user_" + action}});
    Emit(action == "unlock" ? "admin_user_unlock" : action == "activate" ? "admin_user_activate" : "admin_user_deactivate",
         Severity::kWarning, id, r["username"].c_str(), client, {{"actor", actor}});
    return UserJson(r);
  });
}

void Users::DeleteUser(long long id, const std::string& actor, const ClientInfo& client) {
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto user = Lock(tx, id);
    NotOnSelf(user, actor, "delete");
    const std::string name = user["username"].c_str();
    tx.exec_params("DELETE FROM auth.users WHERE id = $1", id);  // sessions go with it (ON DELETE CASCADE)
    tx.commit();
    obs::Info("user deleted by an administrator", {{"user_id", id}, {"actor", actor}, {"event", "admin_user_delete"}});
    Emit("admin_user_delete", Severity::kWarning, id, name, client, {{"actor", actor}});
    return 0;
  });
}

}  // namespace auth
