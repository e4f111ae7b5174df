#include "idempotency.hpp"

#include "suite/core/error.hpp"
#include "suite/security/jwt.hpp"

namespace processing {

using suite::core::ApiError;
using suite::core::ErrorCode;

void Idempotency::CheckKey(std::string_view key) {
  bool ok = !key.empty() && key.size() <= 255;
  for (const char c : key) ok = ok && c >= 0x21 && c <= 0x7E;
  if (!ok) throw ApiError(ErrorCode::kBadRequest, "Idempotency-Key must be 1 to 255 visible ASCII characters");
}

std::optional<StoredAnswer> Idempotency::Begin(const std::string& owner, const std::string& route,
                                               const std::string& key, std::string_view body) {
  const std::string hash = suite::security::Sha256Hex(body);
  return pool_.With([&](pqxx::connection& c) -> std::optional<StoredAnswer> {
    pqxx::work tx(c);
    // Ours if new, or if the one there expired, or was left unanswered by a process that died.
    auto mine = tx.exec_params(
        "INSERT INTO processing.idempotency_keys AS k (owner, route, key, body_sha256) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (owner, route, key) DO UPDATE SET body_sha256 = excluded.body_sha256, status = NULL, "
        "response = NULL, created_at = now() "
        "WHERE k.created_at < now() - $5::float8 * interval '1 hour' "
        "   OR (k.status IS NULL AND k.created_at < now() - $6::float8 * interval '1 second') "
        "RETURNING 1",
        owner, route, key, hash, static_cast<double>(ttl_.count()), static_cast<double>(abandoned_after_.count()));
    if (!mine.empty()) {
      tx.commit();
      return std::nullopt;
    }
    auto row = tx.exec_params1(
        "SELECT body_sha256, status, response FROM processing.idempotency_keys WHERE owner = $1 AND route = $2 AND key = $3",
        owner, route, key);
    tx.commit();
    if (row[0].c_str() != hash)
      throw ApiError(ErrorCode::kConflict, "Idempotency-Key already used with a different request body");
    if (row[1].is_null())
      throw ApiError(ErrorCode::kConflict, "A request with this Idempotency-Key is still being answered")
          .RetryAfter(std::chrono::seconds(1));
    return StoredAnswer{row[1].as<int>(), row[2].c_str()};
  });
}

void Idempotency::Finish(const std::string& owner, const std::string& route, const std::string& key,
                         const StoredAnswer& answer) {
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("UPDATE processing.idempotency_keys SET status = $4, response = $5 "
                   "WHERE owner = $1 AND route = $2 AND key = $3",
                   owner, route, key, answer.status, answer.body);
    tx.commit();
    return 0;
  });
}

void Idempotency::Release(const std::string& owner, const std::string& route, const std::string& key) {
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("DELETE FROM processing.idempotency_keys WHERE owner = $1 AND route = $2 AND key = $3 AND status IS NULL",
                   owner, route, key);
    tx.commit();
    return 0;
  });
}

long long Idempotency::Purge() {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_params(
        "DELETE FROM processing.idempotency_keys WHERE ctid IN (SELECT ctid FROM processing.idempotency_keys "
        "WHERE created_at < now() - $1::float8 * interval '1 hour' LIMIT 10000)",
        static_cast<double>(ttl_.count()));
    tx.commit();
    return static_cast<long long>(r.affected_rows());
  });
}

}  // namespace processing
