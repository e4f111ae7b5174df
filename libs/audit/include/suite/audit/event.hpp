#pragma once
/// The audit event: the one C++ spelling of proto/schemas/audit-event.json and of the three
/// schemas it joins (process-event, access-event, security-event). Producers build an Event and
/// hand it to the Publisher, which writes it with ToLine(); the audit service reads it back with
/// Parse() and stores it by its typed fields. Nothing else writes or reads the stream's field.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace suite::audit {

/// The Redis Stream every producer appends to and the audit service consumes.
inline constexpr const char* kStream = "audit.events";

enum class Outcome { kSuccess, kFailure };
enum class Severity { kInfo, kWarning, kError, kCritical };
std::string_view Name(Outcome o);   ///< success | failure
std::string_view Name(Severity s);  ///< INFO | WARNING | ERROR | CRITICAL

/// type "process": one outcome of processing's POST /process or of a job (seed 000's record).
struct ProcessRecord {
  std::optional<std::string> dataset_id, action;
  Outcome status = Outcome::kFailure;
  std::int64_t duration_ms = 0;
  nlohmann::json output;  ///< the answer's data on success, the error message on failure
  int http_status = 0;
  std::optional<std::string> client, subject;
};

/// type "request": the gateway's access record of one answer, its refusals included.
struct AccessRecord {
  std::string method;
  std::string route = "-";  ///< the matched route's prefix
  std::string path;         ///< never the query string: it may carry an api_key
  int http_status = 0;
  std::string reason = "-";  ///< why the gateway refused it; "-" when it did not
  std::int64_t duration_ms = 0;
  std::optional<std::string> client, subject;
  std::string auth_method = "none";
  std::optional<std::string> key_id;  ///< the key's name or prefix, never the key
  std::string tier = "anonymous";
  std::int64_t bytes_in = 0, bytes_out = 0;
  std::optional<std::string> user_agent;
  /// How it came: h1, h2, grpc, ws (null in events of gateways older than the field).
  std::optional<std::string> protocol;
};

/// type "security": seed 002's security event (logins, lockouts, key and role changes).
struct SecurityRecord {
  std::string event_type;  ///< login_failure, account_locked, ...
  Severity severity = Severity::kInfo;
  std::optional<std::int64_t> user_id;
  std::optional<std::string> username, client, user_agent;
  nlohmann::json details;  ///< the event's specifics, never a secret
};

struct Event {
  std::string event_id;    ///< a UUID; the publisher gives an empty one a fresh one
  std::string timestamp;   ///< RFC 3339, UTC; the publisher stamps an empty one with now
  std::string service;     ///< the producer
  std::string request_id;  ///< empty: none (a security event outside any request)
  std::variant<ProcessRecord, AccessRecord, SecurityRecord> record;

  std::string_view type() const;  ///< process | request | security

  /// The stream's `event` field: one JSON object, the schema's fields in its order. Text is
  /// clipped to the schema's maxLength and made valid UTF-8 (a client's bytes that are not are
  /// replaced), so that every line this writes, Parse() takes back.
  std::string ToLine() const;

  /// An event as a producer wrote it: bounded JSON, every field of its type with its type and
  /// range (event_id a UUID, timestamp RFC 3339: what PostgreSQL will take, so one bad event
  /// can never stall a batch). nullopt otherwise, with the reason in `why`.
  static std::optional<Event> Parse(std::string_view text, std::string& why);
};

}  // namespace suite::audit
