#include "store.hpp"

#include "suite/core/config.hpp"

namespace audit {

namespace {
// The `timestamp` column as the API shows it: ISO 8601, UTC, microseconds.
std::string IsoOf(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')";
}
const std::string kTimestamp = IsoOf("timestamp");
nlohmann::json TextOrNull(const pqxx::field& f) { return f.is_null() ? nlohmann::json(nullptr) : nlohmann::json(f.c_str()); }
// A jsonb column read as text (SQL NULL when the event's value was null).
nlohmann::json JsonOrNull(const pqxx::field& f) {
  return f.is_null() ? nlohmann::json(nullptr) : nlohmann::json::parse(f.c_str(), nullptr, false);
}

// Security events: one statement for the batch, the rows as one JSON array typed by the table's
// row type, in the batch's order; the chain's triggers lock the lane's head once for the
// statement, drop replays and link each row.
const std::string kInsertSecurity =
    "INSERT INTO audit.security_events (event_id, stream_id, timestamp, request_id, service, event_type, severity, "
    "user_id, username, client, user_agent, details) SELECT event_id, stream_id, timestamp, request_id, service, "
    "event_type, severity, user_id, username, client, user_agent, details "
    "FROM jsonb_populate_recordset(NULL::audit.security_events, $1::jsonb) WITH ORDINALITY ORDER BY ordinality "
    "ON CONFLICT (event_id) DO NOTHING";
// Access events and process records: through the append functions (the service's role may not
// insert into those tables), which drop replays, store the batch and link it as one (010).
const std::string kAppendAccess = "SELECT audit.append_access_events($1::jsonb, $2::integer, NULL)";
const std::string kAppendRequests = "SELECT audit.append_requests($1::jsonb, $2::integer, $3::text)";
}  // namespace

std::size_t WriteEvents(suite::db::Pool& pool, const std::vector<StreamEvent>& events, const std::string& writer,
                        int lane) {
  using suite::audit::Name;
  auto requests = nlohmann::json::array(), security = nlohmann::json::array(), access = nlohmann::json::array();
  const auto opt = [](const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(); };
  for (const auto& [stream_id, e] : events) {
    if (const auto* p = std::get_if<suite::audit::ProcessRecord>(&e.record)) {
      requests.push_back({{"event_id", e.event_id}, {"stream_id", stream_id}, {"timestamp", e.timestamp},
                          {"request_id", e.request_id}, {"dataset_id", opt(p->dataset_id)},
                          {"action", opt(p->action)}, {"status", Name(p->status)},
                          {"duration_ms", p->duration_ms}, {"output", p->output}, {"http_status", p->http_status},
                          {"client", opt(p->client)}, {"subject", opt(p->subject)}});
    } else if (const auto* a = std::get_if<suite::audit::AccessRecord>(&e.record)) {
      // The gateway's access log: not in the NDJSON request log.
      access.push_back({{"event_id", e.event_id}, {"stream_id", stream_id}, {"timestamp", e.timestamp},
                        {"request_id", e.request_id}, {"method", a->method}, {"route", a->route},
                        {"path", a->path}, {"http_status", a->http_status}, {"reason", a->reason},
                        {"duration_ms", a->duration_ms}, {"client", opt(a->client)},
                        {"subject", opt(a->subject)}, {"auth_method", a->auth_method},
                        {"key_id", opt(a->key_id)}, {"tier", a->tier}, {"bytes_in", a->bytes_in},
                        {"bytes_out", a->bytes_out}, {"user_agent", opt(a->user_agent)},
                        {"protocol", opt(a->protocol)}});
    } else {
      // Security events: not in the NDJSON request log either.
      const auto& sec = std::get<suite::audit::SecurityRecord>(e.record);
      security.push_back({{"event_id", e.event_id}, {"stream_id", stream_id}, {"timestamp", e.timestamp},
                          {"request_id", e.request_id.empty() ? nlohmann::json() : nlohmann::json(e.request_id)},
                          {"service", e.service}, {"event_type", sec.event_type}, {"severity", Name(sec.severity)},
                          {"user_id", sec.user_id ? nlohmann::json(*sec.user_id) : nlohmann::json()},
                          {"username", opt(sec.username)}, {"client", opt(sec.client)},
                          {"user_agent", opt(sec.user_agent)}, {"details", sec.details}});
    }
  }
  const auto text = [](const nlohmann::json& rows) {
    return rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  return pool.With([&](pqxx::connection& c) {
    std::size_t fresh = 0;
    pqxx::work tx(c);
    if (!security.empty()) {
      if (lane != 0) tx.exec_params("SELECT set_config('audit.lane', $1, true)", std::to_string(lane));
      tx.exec_params(kInsertSecurity, text(security));
    }
    if (!access.empty()) tx.exec_params(kAppendAccess, text(access), lane);
    if (!requests.empty()) fresh = tx.exec_params1(kAppendRequests, text(requests), lane, writer)[0].as<std::size_t>();
    tx.commit();
    return fresh;
  });
}

const std::string kRequestColumns =
    "r.event_id::text, " + IsoOf("r.timestamp") + ", "
    "r.request_id, r.dataset_id, r.action, r.status, r.duration_ms, r.output::text, r.http_status, r.client, "
    "r.subject, r.chain_seq, encode(r.hash, 'hex'), r.chain_lane";

nlohmann::ordered_json RequestLine(const pqxx::row& r, int f) {
  nlohmann::ordered_json line;
  line["timestamp"] = r[f + 1].c_str();
  line["request_id"] = r[f + 2].c_str();
  line["dataset_id"] = TextOrNull(r[f + 3]);
  line["action"] = TextOrNull(r[f + 4]);
  line["status"] = r[f + 5].c_str();
  line["duration_ms"] = r[f + 6].as<long long>();
  line["output"] = JsonOrNull(r[f + 7]);
  line["http_status"] = r[f + 8].as<int>();
  line["client"] = TextOrNull(r[f + 9]);
  line["user"] = TextOrNull(r[f + 10]);
  line["event_id"] = r[f].c_str();
  line["chain_seq"] = r[f + 11].as<long long>();
  line["hash"] = r[f + 12].c_str();
  line["chain_lane"] = r[f + 13].as<long long>();
  return line;
}

std::string EncodeCursor(const Cursor& c) { return std::to_string(c.timestamp_us) + "." + std::to_string(c.id); }

std::optional<Cursor> DecodeCursor(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto ts = suite::core::ParseInt(text.substr(0, dot)), id = suite::core::ParseInt(text.substr(dot + 1));
  if (!ts || !id || *ts < 0 || *id < 1 || text.substr(0, dot).size() > 19 || text.substr(dot + 1).size() > 19)
    return std::nullopt;
  return Cursor{*ts, *id};
}

namespace {

// The records of `f`, newest first, one more than the page so that the caller knows whether
// another page follows; the cursor columns come first.
pqxx::result SelectRequests(pqxx::transaction_base& tx, const RequestFilter& f) {
  // Plain values and a flag (an optional's payload here trips GCC's -Wmaybe-uninitialized at -O2).
  const bool has_after = f.after.has_value();
  const std::int64_t after_ts = has_after ? f.after->timestamp_us : 0;
  const long long after_id = has_after ? f.after->id : 0;
  return tx.exec_params(
      "SELECT (extract(epoch FROM r.timestamp) * 1000000)::bigint, r.id, " + kRequestColumns +
          " FROM audit.requests r "
          "WHERE ($1::text IS NULL OR r.status = $1) AND ($2::text IS NULL OR r.action = $2) "
          "AND ($3::text IS NULL OR r.dataset_id = $3) AND ($4::text IS NULL OR r.request_id = $4) "
          "AND ($5::text IS NULL OR r.subject = $5) "
          "AND ($6::bigint IS NULL OR r.timestamp >= timestamptz 'epoch' + $6 * interval '1 microsecond') "
          "AND ($7::bigint IS NULL OR r.timestamp < timestamptz 'epoch' + $7 * interval '1 microsecond') "
          "AND (NOT $8::boolean OR (r.timestamp, r.id) < (timestamptz 'epoch' + $9 * interval '1 microsecond', $10)) "
          "ORDER BY r.timestamp DESC, r.id DESC LIMIT $11",
      f.status, f.action, f.dataset_id, f.request_id, f.subject, f.since_us, f.until_us, has_after, after_ts,
      after_id, f.limit + 1);
}

std::optional<std::string> NextCursor(const pqxx::result& rows, int limit) {
  if (rows.size() <= static_cast<std::size_t>(limit)) return std::nullopt;
  const auto& last = rows[static_cast<pqxx::result::size_type>(limit - 1)];
  return EncodeCursor({last[0].as<std::int64_t>(), last[1].as<long long>()});
}

}  // namespace

nlohmann::json QueryRequests(suite::db::Pool& pool, const RequestFilter& f) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    const auto rows = SelectRequests(tx, f);
    nlohmann::json items = nlohmann::json::array();
    for (int i = 0; i < f.limit && i < static_cast<int>(rows.size()); ++i)
      items.push_back(nlohmann::json(RequestLine(rows[i], 2)));
    const auto next = NextCursor(rows, f.limit);
    return nlohmann::json{{"items", items}, {"count", items.size()}, {"limit", f.limit},
                          {"next_cursor", next ? nlohmann::json(*next) : nlohmann::json(nullptr)}};
  });
}

std::string ExportRequests(suite::db::Pool& pool, const RequestFilter& f, std::optional<std::string>& next) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    const auto rows = SelectRequests(tx, f);
    std::string out;
    for (int i = 0; i < f.limit && i < static_cast<int>(rows.size()); ++i) {
      out += RequestLine(rows[i], 2).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out.push_back('\n');
    }
    next = NextCursor(rows, f.limit);
    return out;
  });
}

nlohmann::json RequestStats(suite::db::Pool& pool, std::optional<std::int64_t> since_us,
                            std::optional<std::int64_t> until_us) {
  static constexpr int kActions = 100;
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    const std::string where =
        " FROM audit.requests WHERE ($1::bigint IS NULL OR timestamp >= timestamptz 'epoch' + $1 * interval '1 microsecond') "
        "AND ($2::bigint IS NULL OR timestamp < timestamptz 'epoch' + $2 * interval '1 microsecond')";
    nlohmann::json by_status = {{"success", 0}, {"failure", 0}};
    long long total = 0;
    for (const auto& r : tx.exec_params("SELECT status, count(*)" + where + " GROUP BY status", since_us, until_us)) {
      by_status[r[0].c_str()] = r[1].as<long long>();
      total += r[1].as<long long>();
    }
    nlohmann::json actions = nlohmann::json::array();
    for (const auto& r : tx.exec_params("SELECT action, count(*), round(avg(duration_ms)::numeric, 3)::float8, "
                                        "count(*) FILTER (WHERE status = 'failure')" +
                                            where + " GROUP BY action ORDER BY count(*) DESC, action LIMIT $3",
                                        since_us, until_us, kActions))
      actions.push_back({{"action", TextOrNull(r[0])}, {"count", r[1].as<long long>()},
                         {"avg_duration_ms", r[2].as<double>()}, {"failures", r[3].as<long long>()}});
    const long long actions_total =
        tx.exec_params1("SELECT count(DISTINCT coalesce(action, ''))" + where, since_us, until_us)[0].as<long long>();
    return nlohmann::json{{"total", total}, {"by_status", by_status}, {"by_action", actions},
                          {"actions_total", actions_total}};
  });
}

nlohmann::json VerifyChains(suite::db::Pool& pool) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    nlohmann::json chains = nlohmann::json::object();
    bool valid = true;
    for (const char* name : {"requests", "security_events", "access_events"}) {
      const auto r = tx.exec_params1(
          "SELECT records, broken_seq, broken_event::text, reason, head_seq, encode(head_hash, 'hex'), from_seq, "
          "broken_lane, lanes FROM audit.verify_chain($1)",
          std::string(name));
      nlohmann::json chain = {{"valid", r[3].is_null()},
                              {"records", r[0].as<long long>()},
                              {"from_seq", r[6].as<long long>()},
                              {"head_seq", r[4].as<long long>()},
                              {"head_hash", r[5].c_str()},
                              {"lanes", r[8].as<long long>()}};
      if (!r[3].is_null()) {
        valid = false;
        chain["broken"] = {{"seq", r[1].as<long long>()}, {"event_id", TextOrNull(r[2])}, {"reason", r[3].c_str()},
                           {"lane", r[7].as<long long>()}};
      }
      chains[name] = std::move(chain);
    }
    return nlohmann::json{{"valid", valid}, {"chains", chains}};
  });
}

nlohmann::json ApplyRetention(suite::db::Pool& pool, int days) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : tx.exec_params("SELECT chain, deleted, through_seq, lane FROM audit.apply_retention($1)", days))
      out.push_back({{"chain", r[0].c_str()}, {"deleted", r[1].as<long long>()}, {"through_seq", r[2].as<long long>()},
                     {"lane", r[3].as<long long>()}});
    tx.commit();
    return out;
  });
}

nlohmann::json QueryAccess(suite::db::Pool& pool, const AccessFilter& f) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT " + kTimestamp + ", request_id, method, route, path, http_status, reason, duration_ms, client, "
        "subject, auth_method, key_id, tier, bytes_in, bytes_out, protocol "
        "FROM audit.access_events "
        "WHERE ($1::text IS NULL OR client = $1) AND ($2::text IS NULL OR request_id = $2) "
        "AND ($3::text IS NULL OR reason = $3) AND ($4::int IS NULL OR http_status = $4) "
        "AND ($5::text IS NULL OR subject = $5) AND ($8::text IS NULL OR protocol = $8) "
        "ORDER BY timestamp DESC, id DESC LIMIT $6 OFFSET $7",
        f.client, f.request_id, f.reason, f.http_status, f.subject, f.limit, f.offset, f.protocol);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& row : rows) {
      items.push_back({{"timestamp", row[0].c_str()},    {"request_id", row[1].c_str()},
                       {"method", row[2].c_str()},       {"route", row[3].c_str()},
                       {"path", row[4].c_str()},         {"http_status", row[5].as<int>()},
                       {"reason", row[6].c_str()},       {"duration_ms", row[7].as<int>()},
                       {"client", TextOrNull(row[8])},   {"subject", TextOrNull(row[9])},
                       {"auth_method", row[10].c_str()}, {"key_id", TextOrNull(row[11])},
                       {"tier", row[12].c_str()},        {"bytes_in", row[13].as<long long>()},
                       {"bytes_out", row[14].as<long long>()}, {"protocol", TextOrNull(row[15])}});
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
                       {"details", JsonOrNull(row[8])},
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
