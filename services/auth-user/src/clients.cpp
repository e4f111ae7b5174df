#include "clients.hpp"

#include <algorithm>

#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "suite/security/jwt.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::core::ValidationError;

namespace {
constexpr std::size_t kMaxScopes = 32;

std::vector<std::string> Scopes(const pqxx::field& f) {
  std::vector<std::string> out;
  auto parser = f.as_array();
  for (auto [kind, text] = parser.get_next(); kind != pqxx::array_parser::juncture::done;
       std::tie(kind, text) = parser.get_next())
    if (kind == pqxx::array_parser::juncture::string_value) out.push_back(text);
  return out;
}

std::string ArrayLiteral(const std::vector<std::string>& scopes) {
  std::string out = "{";
  for (const auto& s : scopes) out += (out.size() > 1 ? "," : "") + std::string("\"") + s + "\"";  // IsScope: no quote
  return out + "}";
}

nlohmann::json Row(const pqxx::row& r) {
  return {{"client_id", r[0].c_str()},
          {"name", r[1].c_str()},
          {"scopes", Scopes(r[2])},
          {"tier", r[3].c_str()},
          {"created_by", r[4].c_str()},
          {"created_at", r[5].c_str()},
          {"last_used_at", r[6].is_null() ? nlohmann::json(nullptr) : nlohmann::json(r[6].c_str())}};
}
constexpr const char* kColumns =
    "client_id, name, scopes, tier, created_by, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
    "to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')";
}  // namespace

bool IsScope(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '.' ||
          c == '_' || c == '-' || c == '/'))
      return false;
  return true;
}

std::optional<std::vector<std::string>> GrantedScopes(const VerifiedClient& client, std::string_view requested) {
  std::vector<std::string> out;
  while (!requested.empty()) {
    const auto space = requested.find(' ');
    const auto s = requested.substr(0, space);
    if (!s.empty()) {
      if (std::find(client.scopes.begin(), client.scopes.end(), s) == client.scopes.end()) return std::nullopt;
      if (std::find(out.begin(), out.end(), s) == out.end()) out.emplace_back(s);
    }
    if (space == std::string_view::npos) break;
    requested.remove_prefix(space + 1);
  }
  if (out.empty()) return client.scopes;
  return out;
}

nlohmann::json ServiceClients::Create(const std::string& admin, const std::string& name,
                                      const std::vector<std::string>& scopes, const std::string& tier) {
  if (name.empty() || name.size() > 100) throw ValidationError("name", "must be 1 to 100 characters");
  if (scopes.size() > kMaxScopes) throw ValidationError("scopes", "at most 32 scopes");
  for (const auto& s : scopes)
    if (!IsScope(s)) throw ValidationError("scopes", "each is 1 to 64 of A-Z a-z 0-9 : . _ - /");
  if (tier != "free" && tier != "pro" && tier != "enterprise")
    throw ValidationError("tier", "must be free, pro or enterprise");
  const std::string client_id = "svc_" + suite::core::RandomHex(8);
  const std::string secret = "cs_" + suite::core::RandomHex(32);
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec("LOCK TABLE auth.service_clients IN SHARE ROW EXCLUSIVE MODE");  // the count below holds
    if (tx.exec1("SELECT count(*) FROM auth.service_clients WHERE revoked_at IS NULL")[0].as<int>() >= config_.max_clients)
      throw ApiError(ErrorCode::kConflict, "Too many service clients: revoke one first");
    const auto row = tx.exec_params1(
        std::string("INSERT INTO auth.service_clients (client_id, name, secret_hash, scopes, tier, created_by) "
                    "VALUES ($1, $2, $3, $4::text[], $5, $6) RETURNING ") + kColumns,
        client_id, name, suite::security::Sha256Hex(secret), ArrayLiteral(scopes), tier, admin);
    tx.commit();
    auto out = Row(row);
    out["client_secret"] = secret;
    return out;
  });
}

nlohmann::json ServiceClients::List() {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& r : tx.exec(std::string("SELECT ") + kColumns +
                                 " FROM auth.service_clients WHERE revoked_at IS NULL ORDER BY id DESC"))
      items.push_back(Row(r));
    return nlohmann::json{{"items", items}, {"count", items.size()}};
  });
}

nlohmann::json ServiceClients::Revoke(const std::string& client_id) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto rows = tx.exec_params(std::string("UPDATE auth.service_clients SET revoked_at = now() "
                                                 "WHERE client_id = $1 AND revoked_at IS NULL RETURNING ") + kColumns,
                                     client_id);
    if (rows.empty()) throw ApiError(ErrorCode::kNotFound, "Service client not found");
    tx.commit();
    return Row(rows[0]);
  });
}

std::optional<VerifiedClient> ServiceClients::Authenticate(std::string_view client_id, std::string_view secret) {
  if (client_id.empty() || client_id.size() > 64 || secret.empty() || secret.size() > 256) return std::nullopt;
  const std::string presented = suite::security::Sha256Hex(secret);
  return pool_.With([&](pqxx::connection& c) -> std::optional<VerifiedClient> {
    pqxx::work tx(c);
    const auto rows = tx.exec_params(
        "SELECT client_id, name, scopes, tier, secret_hash, last_used_at < now() - interval '1 minute' "
        "OR last_used_at IS NULL FROM auth.service_clients WHERE client_id = $1 AND revoked_at IS NULL",
        std::string(client_id));
    // An unknown id costs the same comparison as a known one.
    const std::string stored = rows.empty() ? std::string(64, '0') : rows[0][4].c_str();
    if (!suite::security::ConstantTimeEquals(presented, stored) || rows.empty()) return std::nullopt;
    VerifiedClient v{rows[0][0].c_str(), rows[0][1].c_str(), rows[0][3].c_str(), Scopes(rows[0][2])};
    if (rows[0][5].as<bool>()) {
      tx.exec_params("UPDATE auth.service_clients SET last_used_at = now() WHERE client_id = $1", v.client_id);
      tx.commit();
    }
    return v;
  });
}

}  // namespace auth
