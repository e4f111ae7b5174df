#include "lockout.hpp"

#include "suite/core/ids.hpp"

namespace auth {

namespace {
constexpr std::int64_t kDeviceLifetime = 365LL * 24 * 3600;

std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

LockState StateOf(const pqxx::result& r) {
  if (r.empty() || r[0][0].is_null() || !r[0][0].as<bool>()) return {};
  return {true, r[0][1].as<long long>()};
}

constexpr const char* kLockedColumns =
    "locked_until > now(), ceil(extract(epoch FROM locked_until - now()))::bigint";
}  // namespace

DeviceTokens::DeviceTokens(const std::string& secret)
    : jwt_(suite::security::HmacSha256(secret, "suite-auth-device-token-v1")) {}

std::string DeviceTokens::Issue(long long user_id) const {
  const auto now = Now();
  return jwt_.Sign({{"typ", "device"}, {"sub", std::to_string(user_id)}, {"dev", suite::core::RandomHex(16)},
                    {"iat", now}, {"exp", now + kDeviceLifetime}});
}

std::optional<DeviceTokens::Device> DeviceTokens::Verify(std::string_view token) const {
  if (token.empty() || token.size() > 1024) return std::nullopt;
  try {
    auto c = jwt_.Verify(token);
    const auto typ = c.find("typ"), sub = c.find("sub"), dev = c.find("dev");
    if (typ == c.end() || *typ != "device" || sub == c.end() || !sub->is_string() || dev == c.end() ||
        !dev->is_string() || dev->get_ref<const std::string&>().size() != 32)
      return std::nullopt;
    return Device{std::stoll(sub->get<std::string>()), dev->get<std::string>()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

LockState Lockout::Account(pqxx::work& tx, long long user_id) const {
  return StateOf(tx.exec_params(std::string("SELECT ") + kLockedColumns + " FROM auth.users WHERE id = $1", user_id));
}

bool Lockout::AccountFailure(pqxx::work& tx, long long user_id) const {
  return tx.exec_params1(
      "UPDATE auth.users SET failed_attempts = failed_attempts + 1, "
      "locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN now() + make_interval(mins => $3) END, "
      "updated_at = now() WHERE id = $1 RETURNING failed_attempts >= $2",
      user_id, threshold_, static_cast<int>(duration_.count()))[0].as<bool>();
}

void Lockout::AccountSuccess(pqxx::work& tx, long long user_id) const {
  tx.exec_params("UPDATE auth.users SET failed_attempts = 0, locked_until = NULL WHERE id = $1", user_id);
}

LockState Lockout::Device(pqxx::work& tx, const std::string& nonce) const {
  return StateOf(tx.exec_params(std::string("SELECT ") + kLockedColumns + " FROM auth.device_locks WHERE nonce = $1",
                                nonce));
}

bool Lockout::DeviceFailure(pqxx::work& tx, const std::string& nonce, long long user_id) const {
  return tx.exec_params1(
      "INSERT INTO auth.device_locks AS d (nonce, user_id, failed_attempts, locked_until) "
      "VALUES ($1, $2, 1, CASE WHEN 1 >= $3 THEN now() + make_interval(mins => $4) END) "
      "ON CONFLICT (nonce) DO UPDATE SET failed_attempts = d.failed_attempts + 1, "
      "locked_until = CASE WHEN d.failed_attempts + 1 >= $3 THEN now() + make_interval(mins => $4) END, updated_at = now() "
      "RETURNING d.failed_attempts >= $3",
      nonce, user_id, threshold_, static_cast<int>(duration_.count()))[0].as<bool>();
}

void Lockout::DeviceSuccess(pqxx::work& tx, const std::string& nonce) const {
  tx.exec_params("DELETE FROM auth.device_locks WHERE nonce = $1", nonce);
}

LockState Lockout::Unknown(pqxx::work& tx, const std::string& login) const {
  return StateOf(tx.exec_params(std::string("SELECT ") + kLockedColumns +
                                    " FROM auth.unknown_login_locks WHERE login = lower($1)",
                                login));
}

bool Lockout::UnknownFailure(pqxx::work& tx, const std::string& login) const {
  // A million invented names cost a million rows for one lockout period at most: stale rows go.
  tx.exec_params(
      "DELETE FROM auth.unknown_login_locks WHERE login IN (SELECT login FROM auth.unknown_login_locks "
      "WHERE updated_at < now() - make_interval(mins => $1) ORDER BY updated_at LIMIT 100)",
      static_cast<int>(duration_.count()));
  return tx.exec_params1(
      "INSERT INTO auth.unknown_login_locks AS u (login, failed_attempts, locked_until) "
      "VALUES (lower($1), 1, CASE WHEN 1 >= $2 THEN now() + make_interval(mins => $3) END) "
      "ON CONFLICT (login) DO UPDATE SET failed_attempts = u.failed_attempts + 1, "
      "locked_until = CASE WHEN u.failed_attempts + 1 >= $2 THEN now() + make_interval(mins => $3) END, updated_at = now() "
      "RETURNING u.failed_attempts >= $2",
      login, threshold_, static_cast<int>(duration_.count()))[0].as<bool>();
}

}  // namespace auth
