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

/// Inserts each event once (by event_id); returns the events that were new.
std::vector<nlohmann::json> WriteEvents(suite::db::Pool& pool, const std::vector<StreamEvent>& events);
/// Newest first.
nlohmann::json QueryRequests(suite::db::Pool& pool, const RequestFilter& filter);

}  // namespace audit
