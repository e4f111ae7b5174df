#include "store.hpp"

namespace audit {

namespace {
// The `timestamp` column as the API shows it: ISO 8601, UTC, microseconds.
const std::string kTimestamp = "to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')";
nlohmann::json TextOrNull(const pqxx::field& f) { return f.is_null() ? nlohmann::json(nullptr) : nlohmann::json(f.c_str()); }
}  // namespace

std::size_t WriteEvents(suite::db::Pool& pool, const std::vector<StreamEvent>& events, const std::string& writer) {
  return pool.With([&](pqxx::connection& c) {
    std::size_t fresh = 0;
    pqxx::work tx(c);
    for (const auto& se : events) {
      const auto& e = se.event;
      auto opt = [&](const char* k) -> std::optional<std::string> {
        if (e.contains(k) && e[k].is_string() && !e[k].get<std::string>().empty()) return e[k].get<std::string>();
        return std::nullopt;
      };
      if (e.value("type", "") == "security") {  // not in the NDJSON request log: not returned as fresh
        const auto uid = e.find("user_id");
        tx.exec_params(
            "INSERT INTO audit.security_events (event_id, stream_id, timestamp, request_id, service, event_type, "
            "severity, user_id, username, client, user_agent, details) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb) ON CONFLICT (event_id) DO NOTHING",
            e.value("event_id", ""), se.stream_id, e.value("timestamp", ""), opt("request_id"),
            e.value("service", "unknown"), e.value("event_type", ""), e.value("severity", "INFO"),
            uid != e.end() && uid->is_number_integer() ? std::optional<long long>(uid->get<long long>()) : std::nullopt,
            opt("username"), opt("client"), opt("user_agent"),
            e.contains("details") ? e["details"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                  : std::string("null"));
        continue;
      }
      if (e.value("type", "") == "request") {  // the gateway's access log: not in the NDJSON request log
        tx.exec_params(
            "INSERT INTO audit.access_events (event_id, stream_id, timestamp, request_id, method, route, path, "
            "http_status, reason, duration_ms, client, subject, auth_method, key_id, tier, bytes_in, bytes_out, "
            "user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) "
            "ON CONFLICT (event_id) DO NOTHING",
            e.value("event_id", ""), se.stream_id, e.value("timestamp", ""), e.value("request_id", ""),
            e.value("method", ""), e.value("route", ""), e.value("path", ""), e.value("http_status", 0),
            e.value("reason", "-"), e.value("duration_ms", 0), opt("client"), opt("subject"),
            e.value("auth_method", "none"), opt("key_id"), e.value("tier", "anonymous"),
            e.value("bytes_in", std::int64_t{0}), e.value("bytes_out", std::int64_t{0}), opt("user_agent"));
        continue;
      }
      if (e.value("type", "") != "process") continue;
      auto r = tx.exec_params(
          "INSERT INTO audit.requests (event_id, stream_id, timestamp, request_id, dataset_id, action, status, "
          "duration_ms, output, http_status, client, subject) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12) "
          "ON CONFLICT (event_id) DO NOTHING RETURNING id",
          e.value("event_id", ""), se.stream_id, e.value("timestamp", ""), e.value("request_id", ""),
          opt("dataset_id"), opt("action"), e.value("status", "failure"), e.value("duration_ms", 0),
          e.contains("output") ? e["output"].dump() : std::string("null"), e.value("http_status", 0),
          opt("client"), opt("subject"));
      if (!r.empty()) {
        tx.exec_params("INSERT INTO audit.ndjson_outbox (request_id, writer) VALUES ($1, $2)", r[0][0].as<long long>(),
                       writer);
        ++fresh;
      }
    }
    tx.commit();
    return fresh;
  });
}

nlohmann::json QueryRequests(suite::db::Pool& pool, const RequestFilter& f) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT event_id, " + kTimestamp + ", "
        "request_id, dataset_id, action, status, duration_ms, output::text, http_status, client "
        "FROM audit.requests "
        "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR action = $2) "
        "AND ($3::text IS NULL OR dataset_id = $3) AND ($4::text IS NULL OR request_id = $4) "
        "ORDER BY timestamp DESC, id DESC LIMIT $5",
        f.status, f.action, f.dataset_id, f.request_id, f.limit);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& row : rows) {
      items.push_back({{"event_id", row[0].c_str()},
                       {"timestamp", row[1].c_str()},
                       {"request_id", row[2].c_str()},
                       {"dataset_id", TextOrNull(row[3])},
                       {"action", TextOrNull(row[4])},
                       {"status", row[5].c_str()},
                       {"duration_ms", row[6].as<int>()},
                       {"output", nlohmann::json::parse(row[7].c_str(), nullptr, false)},
                       {"http_status", row[8].as<int>()},
                       {"client", TextOrNull(row[9])}});
    }
    return nlohmann::json{{"items", items}, {"count", items.size()}, {"limit", f.limit}};
  });
}

nlohmann::json QueryAccess(suite::db::Pool& pool, const AccessFilter& f) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT " + kTimestamp + ", request_id, method, route, path, http_status, reason, duration_ms, client, "
        "subject, auth_method, key_id, tier, bytes_in, bytes_out "
        "FROM audit.access_events "
        "WHERE ($1::text IS NULL OR client = $1) AND ($2::text IS NULL OR request_id = $2) "
        "AND ($3::text IS NULL OR reason = $3) AND ($4::int IS NULL OR http_status = $4) "
        "AND ($5::text IS NULL OR subject = $5) "
        "ORDER BY timestamp DESC, id DESC LIMIT $6 OFFSET $7",
        f.client, f.request_id, f.reason, f.http_status, f.subject, f.limit, f.offset);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& row : rows) {
      items.push_back({{"timestamp", row[0].c_str()},    {"request_id", row[1].c_str()},
                       {"method", row[2].c_str()},       {"route", row[3].c_str()},
                       {"path", row[4].c_str()},         {"http_status", row[5].as<int>()},
                       {"reason", row[6].c_str()},       {"duration_ms", row[7].as<int>()},
                       {"client", TextOrNull(row[8])},   {"subject", TextOrNull(row[9])},
                       {"auth_method", row[10].c_str()}, {"key_id", TextOrNull(row[11])},
                       {"tier", row[12].c_str()},        {"bytes_in", row[13].as<long long>()},
                       {"bytes_out", row[14].as<long long>()}});
    }
    return nlohmann::json{{"items", items}, {"count", items.size()}, {"limit", f.limit}, {"offset", f.offset}};
  });
}

nlohmann::json QuerySecurityEvents(suite::db::Pool& pool, const SecurityFilter& f) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT event_id, " + kTimestamp + ", "
        "event_type, severity, user_id, username, client, user_agent, details::text, request_id, service "
        "FROM audit.security_events WHERE timestamp > now() - make_interval(hours => $1) "
        "AND ($2::text IS NULL OR severity = $2) AND ($3::text IS NULL OR event_type = $3) "
        "ORDER BY timestamp DESC, id DESC LIMIT $4 OFFSET $5",
        f.hours, f.severity, f.event_type, f.limit, f.offset);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& row : rows) {
      items.push_back({{"event_id", row[0].c_str()},
                       {"timestamp", row[1].c_str()},
                       {"event_type", row[2].c_str()},
                       {"severity", row[3].c_str()},
                       {"user_id", row[4].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[4].as<long long>())},
                       {"username", TextOrNull(row[5])},
                       {"client_ip", TextOrNull(row[6])},
                       {"user_agent", TextOrNull(row[7])},
                       {"details", nlohmann::json::parse(row[8].c_str(), nullptr, false)},
                       {"request_id", TextOrNull(row[9])},
                       {"service", row[10].c_str()}});
    }
    return nlohmann::json{{"items", items}, {"count", items.size()}, {"hours", f.hours},
                          {"limit", f.limit}, {"offset", f.offset}};
  });
}

nlohmann::json SecurityHealth(suite::db::Pool& pool) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto r = tx.exec1(
        "SELECT count(*) FILTER (WHERE event_type = 'login_failure'), "
        "count(*) FILTER (WHERE event_type = 'account_locked'), "
        "count(*) FILTER (WHERE event_type = 'refresh_token_reuse'), "
        "count(*) FILTER (WHERE severity IN ('ERROR', 'CRITICAL')) "
        "FROM audit.security_events WHERE timestamp > now() - interval '24 hours'");
    const auto failures = r[0].as<long long>(), lockouts = r[1].as<long long>(), reuse = r[2].as<long long>(),
               severe = r[3].as<long long>();
    const char* status = reuse > 0 || lockouts >= 10 ? "alert" : failures >= 50 || lockouts > 0 ? "warning" : "healthy";
    return nlohmann::json{{"status", status},
                          {"window_hours", 24},
                          {"failed_logins", failures},
                          {"lockouts", lockouts},
                          {"refresh_token_reuse", reuse},
                          {"high_severity_events", severe}};
  });
}

}  // namespace audit
