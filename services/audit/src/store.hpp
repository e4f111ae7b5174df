#pragma once
/// The audit store: idempotent writes of process records, and the query behind
/// GET /audit/requests. Blocking (libpqxx): call from worker threads.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/row>

#include "suite/audit/event.hpp"
#include "suite/db/pool.hpp"

namespace audit {

struct StreamEvent {
  std::string stream_id;  ///< Redis entry id
  suite::audit::Event event;
};

/// A place in the newest-first order of process records: after the record (timestamp, id).
struct Cursor {
  std::int64_t timestamp_us = 0;
  long long id = 0;
};
/// Opaque to clients ("<µs>.<id>" today); nullopt for anything this code did not make.
std::string EncodeCursor(const Cursor& c);
std::optional<Cursor> DecodeCursor(std::string_view text);

struct RequestFilter {
  std::optional<std::string> status, action, dataset_id, request_id, subject;
  std::optional<std::int64_t> since_us, until_us;  ///< timestamp >= since, < until
  std::optional<Cursor> after;
  int limit = 50;
};

struct AccessFilter {
  std::optional<std::string> client, request_id, reason, subject, protocol;
  std::optional<int> http_status;
  int limit = 100;
  long long offset = 0;
};

struct SecurityFilter {
  int hours = 24;
  std::optional<std::string> severity, event_type;
  int limit = 100;
  long long offset = 0;
};

/// Inserts each event once (by event_id): process records into audit.requests (each new one
/// with a row in `writer`'s NDJSON outbox, same transaction), security events into
/// audit.security_events, access events into audit.access_events. Returns how many process
/// records were new.
/// `lane`: the hash chains this writer links its records into (audit.lane, 0 to 1023): writers
/// on different lanes store in parallel.
std::size_t WriteEvents(suite::db::Pool& pool, const std::vector<StreamEvent>& events, const std::string& writer,
                        int lane = 0);
/// The gateway's access events, newest first.
nlohmann::json QueryAccess(suite::db::Pool& pool, const AccessFilter& f);
/// The columns RequestLine reads, from `audit.requests r`.
extern const std::string kRequestColumns;
/// A process record as seed 000's log line (its fields in its order), with its event id and
/// its place in the chain: the NDJSON file's line, the export's and the query's item.
nlohmann::ordered_json RequestLine(const pqxx::row& row, int first = 0);

/// Newest first: {"items","count","limit","next_cursor"} (next_cursor null on the last page).
nlohmann::json QueryRequests(suite::db::Pool& pool, const RequestFilter& filter);
/// The same records as NDJSON lines (the export); `next` is the cursor after the last one when
/// more remain.
std::string ExportRequests(suite::db::Pool& pool, const RequestFilter& filter, std::optional<std::string>& next);
/// Seed 000's SQLite queries as one answer: counts by status, average duration by action (the
/// 100 most frequent actions; actions_total counts them all), in [since, until).
nlohmann::json RequestStats(suite::db::Pool& pool, std::optional<std::int64_t> since_us,
                            std::optional<std::int64_t> until_us);
/// Walks each chain (requests, security_events, access_events): {"valid", "chains": {name:
/// {"valid","records","from_seq","head_seq","head_hash","broken"?: {"seq","event_id","reason"}}}}.
nlohmann::json VerifyChains(suite::db::Pool& pool);
/// Deletes, through the privileged function, the records stored more than `days` days ago,
/// leaving a checkpoint per chain: [{"chain","deleted","through_seq"}].
nlohmann::json ApplyRetention(suite::db::Pool& pool, int days);
/// Newest first: {"items","count","hours","limit","offset"}.
nlohmann::json QuerySecurityEvents(suite::db::Pool& pool, const SecurityFilter& filter);
/// Counts of the last 24 hours and a status (healthy | warning | alert).
nlohmann::json SecurityHealth(suite::db::Pool& pool);

}  // namespace audit
