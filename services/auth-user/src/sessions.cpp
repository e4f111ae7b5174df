#include "sessions.hpp"

#include "suite/core/ids.hpp"
#include "suite/security/jwt.hpp"

namespace auth {

namespace {
constexpr std::size_t kMaxTokenLength = 256;
std::string Digest(const std::string& token) { return suite::security::Sha256Hex(token); }
}  // namespace

std::string Sessions::Issue(pqxx::work& tx, const std::string& family, long long user_id,
                            const ClientInfo& client) const {
  const std::string token = suite::security::Base64UrlEncode(suite::core::RandomBytes(32));
  tx.exec_params(
      "INSERT INTO auth.refresh_tokens (family, user_id, token_hash, expires_at, client_ip, user_agent) "
      "VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6)",
      family, user_id, Digest(token), static_cast<double>(config_.refresh_ttl.count()),
      client.ip.empty() ? std::optional<std::string>() : client.ip,
      client.user_agent.empty() ? std::optional<std::string>() : client.user_agent.substr(0, 512));
  return token;
}

std::string Sessions::Start(pqxx::work& tx, long long user_id, const ClientInfo& client) const {
  return Issue(tx, suite::core::NewUuid(), user_id, client);
}

std::optional<Refreshed> Sessions::Rotate(pqxx::work& tx, const std::string& token, const ClientInfo& client,
                                          std::string& why) const {
  if (token.empty() || token.size() > kMaxTokenLength) {
    why = "malformed";
    return std::nullopt;
  }
  auto rows = tx.exec_params(
      "SELECT t.id, t.family, t.user_id, t.revoked_at IS NOT NULL AS revoked, t.expires_at <= now() AS expired, "
      "t.used_at IS NOT NULL AS used, t.used_at > now() - make_interval(secs => $2) AS in_grace, u.is_active "
      "FROM auth.refresh_tokens t JOIN auth.users u ON u.id = t.user_id WHERE t.token_hash = $1 FOR UPDATE OF t",
      Digest(token), static_cast<double>(config_.reuse_grace.count()));
  if (rows.empty()) {
    why = "unknown";
    return std::nullopt;
  }
  const auto& r = rows[0];
  const std::string family = r["family"].c_str();
  const long long user_id = r["user_id"].as<long long>();
  if (r["revoked"].as<bool>()) {
    why = "revoked";
    return std::nullopt;
  }
  if (r["expired"].as<bool>()) {
    why = "expired";
    return std::nullopt;
  }
  if (!r["is_active"].as<bool>()) {
    why = "inactive user";
    return std::nullopt;
  }
  if (r["used"].as<bool>()) {
    if (!r["in_grace"].is_null() && r["in_grace"].as<bool>()) {
      // Two refreshes raced with one token: the second gets a sibling, the user stays logged in.
      return Refreshed{user_id, Issue(tx, family, user_id, client)};
    }
    tx.exec_params("UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL",
                   family);
    why = "reuse";
    return std::nullopt;
  }
  tx.exec_params("UPDATE auth.refresh_tokens SET used_at = now() WHERE id = $1", r["id"].as<long long>());
  return Refreshed{user_id, Issue(tx, family, user_id, client)};
}

bool Sessions::EndFamily(pqxx::work& tx, const std::string& token) const {
  if (token.empty() || token.size() > kMaxTokenLength) return false;
  auto r = tx.exec_params(
      "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND family = "
      "(SELECT family FROM auth.refresh_tokens WHERE token_hash = $1) RETURNING id",
      Digest(token));
  return !r.empty() || !tx.exec_params("SELECT 1 FROM auth.refresh_tokens WHERE token_hash = $1", Digest(token)).empty();
}

long long Sessions::EndAll(pqxx::work& tx, long long user_id) const {
  auto r = tx.exec_params1(
      "WITH ended AS (UPDATE auth.refresh_tokens SET revoked_at = now() "
      "WHERE user_id = $1 AND revoked_at IS NULL RETURNING family) SELECT count(DISTINCT family) FROM ended",
      user_id);
  return r[0].as<long long>();
}

nlohmann::json Sessions::List(pqxx::work& tx, long long user_id) const {
  // One row per live family: its newest token says when and from where it was last used.
  auto rows = tx.exec_params(
      "SELECT * FROM (SELECT DISTINCT ON (family) family, created_at, "
      "to_char(min(created_at) OVER (PARTITION BY family) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') AS started_at, "
      "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') AS last_refreshed_at, "
      "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') AS expires_at, "
      "client_ip, user_agent FROM auth.refresh_tokens "
      "WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() "
      "ORDER BY family, created_at DESC) newest ORDER BY created_at DESC",
      user_id);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    auto text = [&](const char* k) { return r[k].is_null() ? nlohmann::json(nullptr) : nlohmann::json(r[k].c_str()); };
    out.push_back({{"id", r["family"].c_str()}, {"started_at", r["started_at"].c_str()},
                   {"last_refreshed_at", r["last_refreshed_at"].c_str()}, {"expires_at", r["expires_at"].c_str()},
                   {"client_ip", text("client_ip")}, {"user_agent", text("user_agent")}});
  }
  return out;
}

}  // namespace auth
