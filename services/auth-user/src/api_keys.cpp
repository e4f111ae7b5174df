#include "api_keys.hpp"

#include "suite/core/error.hpp"
#include "suite/core/json.hpp"
#include "suite/security/api_key.hpp"
#include "user_row.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;

namespace {

constexpr const char* kTimestamp = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'";

std::string Ts(const char* column) {
  return std::string("to_char(k.") + column + " AT TIME ZONE 'UTC', " + kTimestamp + ") AS " + column;
}

const std::string& Columns() {
  static const std::string c = "k.id, k.name, k.prefix, k.tier, " + Ts("created_at") + ", " + Ts("expires_at") +
                               ", " + Ts("last_used_at") + ", " + Ts("revoked_at") + ", k.user_id";
  return c;
}

nlohmann::json KeyJson(const pqxx::row& r) {
  auto ts = [&](const char* col) { return r[col].is_null() ? nlohmann::json(nullptr) : nlohmann::json(r[col].c_str()); };
  return {{"id", r["id"].as<long long>()},
          {"name", r["name"].c_str()},
          {"prefix", r["prefix"].c_str()},
          {"tier", r["tier"].c_str()},
          {"user_id", r["user_id"].as<long long>()},
          {"created_at", ts("created_at")},
          {"expires_at", ts("expires_at")},
          {"last_used_at", ts("last_used_at")},
          {"revoked_at", ts("revoked_at")}};
}

long long UserId(pqxx::work& tx, const std::string& username) {
  auto r = tx.exec_params("SELECT id FROM auth.users WHERE lower(username) = lower($1) AND is_active", username);
  if (r.empty()) throw ApiError(ErrorCode::kUnauthenticated, "User not found or inactive");
  return r[0][0].as<long long>();
}

}  // namespace

nlohmann::json ApiKeys::Create(const Actor& actor, const std::string& name, const std::optional<std::string>& tier,
                               std::optional<int> expires_in_days) {
  nlohmann::json errors = nlohmann::json::array();
  if (name.empty() || name.size() > 64 || !suite::core::IsCleanText(name))
    errors.push_back(suite::core::FieldError("name", "1 to 64 characters of text"));
  if (tier && *tier != "free" && *tier != "pro" && *tier != "enterprise")
    errors.push_back(suite::core::FieldError("tier", "must be free, pro or enterprise"));
  if (expires_in_days && (*expires_in_days < 1 || *expires_in_days > config_.max_lifetime_days))
    errors.push_back(suite::core::FieldError(
        "expires_in_days", "must be between 1 and " + std::to_string(config_.max_lifetime_days)));
  if (!errors.empty()) throw suite::core::ValidationError(std::move(errors));
  const std::string chosen = tier.value_or("free");
  if (chosen != "free" && !actor.admin)
    throw ApiError(ErrorCode::kForbidden, "Only an administrator may give a key the '" + chosen + "' tier");
  const auto key = suite::security::GenerateApiKey();
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto user_id = UserId(tx, actor.username);
    // Serialises concurrent creations by one user, so the cap holds.
    tx.exec_params("SELECT 1 FROM auth.users WHERE id = $1 FOR UPDATE", user_id);
    const auto live = tx.exec_params1("SELECT count(*) FROM auth.api_keys WHERE user_id = $1 AND revoked_at IS NULL "
                                      "AND (expires_at IS NULL OR expires_at > now())",
                                      user_id)[0]
                          .as<int>();
    if (live >= config_.max_per_user)
      throw ApiError(ErrorCode::kConflict,
                     "At most " + std::to_string(config_.max_per_user) + " live API keys per user; revoke one first",
                     {{"limit", config_.max_per_user}});
    auto r = tx.exec_params1(
        "INSERT INTO auth.api_keys AS k (user_id, name, prefix, key_hash, tier, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6)) RETURNING " + Columns(),
        user_id, name, key.prefix, key.hash, chosen, expires_in_days);
    tx.commit();
    auto out = KeyJson(r);
    out["key"] = key.key;
    out["message"] = "Store this key now: it is shown only once.";
    return out;
  });
}

nlohmann::json ApiKeys::List(const Actor& actor) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto user_id = UserId(tx, actor.username);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& r : tx.exec_params("SELECT " + Columns() + " FROM auth.api_keys k WHERE k.user_id = $1 AND "
                                        "k.revoked_at IS NULL ORDER BY k.id DESC",
                                        user_id))
      items.push_back(KeyJson(r));
    return nlohmann::json{{"items", items}, {"count", items.size()}};
  });
}

nlohmann::json ApiKeys::Revoke(const Actor& actor, long long id) {
  auto [row, hash] = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto user_id = UserId(tx, actor.username);
    auto r = tx.exec_params(
        "UPDATE auth.api_keys k SET revoked_at = coalesce(revoked_at, now()) WHERE k.id = $1 AND "
        "($2 OR k.user_id = $3) AND k.revoked_at IS NULL RETURNING k.key_hash, " + Columns(),
        id, actor.admin, user_id);
    // Someone else's key is "not found" too: ids are not to be probed.
    if (r.empty()) throw ApiError(ErrorCode::kNotFound, "API key not found");
    tx.commit();
    return std::pair{KeyJson(r[0]), std::string(r[0]["key_hash"].c_str())};
  });
  if (revoked_) revoked_({{"key_hash", hash}, {"id", id}});
  return row;
}

std::optional<nlohmann::json> ApiKeys::Verify(const std::string& key) {
  if (!suite::security::IsApiKeyShaped(key)) return std::nullopt;
  return pool_.With([&](pqxx::connection& c) -> std::optional<nlohmann::json> {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "SELECT k.id, k.name, k.prefix, k.tier, u.id AS user_id, u.username, u.roles, "
        "(k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS stale, "
        "extract(epoch FROM k.expires_at)::bigint AS expires_at "
        "FROM auth.api_keys k JOIN auth.users u ON u.id = k.user_id WHERE k.key_hash = $1 "
        "AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AND u.is_active",
        suite::security::ApiKeyHash(key));
    if (rows.empty()) return std::nullopt;
    const auto& r = rows[0];
    if (r["stale"].as<bool>()) {
      tx.exec_params("UPDATE auth.api_keys SET last_used_at = now() WHERE id = $1", r["id"].as<long long>());
      tx.commit();
    }
    const auto roles = TextArray(r["roles"]);
    return nlohmann::json{{"valid", true},
                          {"id", r["id"].as<long long>()},
                          {"name", r["name"].c_str()},
                          {"prefix", r["prefix"].c_str()},
                          {"tier", r["tier"].c_str()},
                          {"user_id", r["user_id"].as<long long>()},
                          {"username", r["username"].c_str()},
                          {"roles", roles},
                          {"expires_at", r["expires_at"].is_null() ? nlohmann::json(nullptr)
                                                                   : nlohmann::json(r["expires_at"].as<long long>())}};
  });
}

void ApiKeys::AnnounceUserRevoked(long long user_id) const {
  if (revoked_) revoked_({{"user_id", user_id}});
}

}  // namespace auth
