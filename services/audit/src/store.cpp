#include "store.hpp"

namespace audit {

std::vector<nlohmann::json> WriteEvents(suite::db::Pool& pool, const std::vector<StreamEvent>& events) {
  return pool.With([&](pqxx::connection& c) {
    std::vector<nlohmann::json> fresh;
    pqxx::work tx(c);
    for (const auto& se : events) {
      const auto& e = se.event;
      if (e.value("type", "") != "process") continue;
      auto opt = [&](const char* k) -> std::optional<std::string> {
        if (e.contains(k) && e[k].is_string() && !e[k].get<std::string>().empty()) return e[k].get<std::string>();
        return std::nullopt;
      };
      auto r = tx.exec_params(
          "INSERT INTO audit.requests (event_id, stream_id, timestamp, request_id, dataset_id, action, status, "
          "duration_ms, output, http_status, client, subject) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12) "
          "ON CONFLICT (event_id) DO NOTHING RETURNING id",
          e.value("event_id", ""), se.stream_id, e.value("timestamp", ""), e.value("request_id", ""),
          opt("dataset_id"), opt("action"), e.value("status", "failure"), e.value("duration_ms", 0),
          e.contains("output") ? e["output"].dump() : std::string("null"), e.value("http_status", 0),
          opt("client"), opt("subject"));
      if (!r.empty()) fresh.push_back(e);
    }
    tx.commit();
    return fresh;
  });
}

nlohmann::json QueryRequests(suite::db::Pool& pool, const RequestFilter& f) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT event_id, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
        "request_id, dataset_id, action, status, duration_ms, output::text, http_status, client "
        "FROM audit.requests "
        "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR action = $2) "
        "AND ($3::text IS NULL OR dataset_id = $3) AND ($4::text IS NULL OR request_id = $4) "
        "ORDER BY timestamp DESC, id DESC LIMIT $5",
        f.status, f.action, f.dataset_id, f.request_id, f.limit);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& row : rows) {
      auto text = [&](int i) { return row[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[i].c_str()); };
      items.push_back({{"event_id", row[0].c_str()},
                       {"timestamp", row[1].c_str()},
                       {"request_id", row[2].c_str()},
                       {"dataset_id", text(3)},
                       {"action", text(4)},
                       {"status", row[5].c_str()},
                       {"duration_ms", row[6].as<int>()},
                       {"output", nlohmann::json::parse(row[7].c_str(), nullptr, false)},
                       {"http_status", row[8].as<int>()},
                       {"client", text(9)}});
    }
    return nlohmann::json{{"items", items}, {"count", items.size()}, {"limit", f.limit}};
  });
}

}  // namespace audit
