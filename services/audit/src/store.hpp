#pragma once
/// The audit store: idempotent writes of process records, and the query behind
/// GET /audit/requests. Blocking (libpqxx): call from worker threads.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "suite/db/pool.hpp"

namespace audit {

struct StreamEvent {
  std::string stream_id;  ///< Redis entry id
  nlohmann::json event;
};

struct RequestFilter {
  std::optional<std::string> status, action, dataset_id, request_id;
  int limit = 50;
};

struct AccessFilter {
  std::optional<std::string> client, request_id, reason, subject;
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
std::size_t WriteEvents(suite::db::Pool& pool, const std::vector<StreamEvent>& events, const std::string& writer);
/// The gateway's access events, newest first.
nlohmann::json QueryAccess(suite::db::Pool& pool, const AccessFilter& f);
/// Newest first.
nlohmann::json QueryRequests(suite::db::Pool& pool, const RequestFilter& filter);
/// Newest first: {"items","count","hours","limit","offset"}.
nlohmann::json QuerySecurityEvents(suite::db::Pool& pool, const SecurityFilter& filter);
/// Counts of the last 24 hours and a status (healthy | warning | alert).
nlohmann::json SecurityHealth(suite::db::Pool& pool);

}  // namespace audit
