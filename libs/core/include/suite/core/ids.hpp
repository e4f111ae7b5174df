#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace suite::core {

/// Random (CSPRNG) UUIDv4, lowercase, hyphenated.
std::string NewUuid();
/// Accepts a client-supplied request id: 1..128 chars of [A-Za-z0-9._:-]. Anything else would
/// let a client forge log lines or headers.
bool IsValidRequestId(std::string_view id);
/// The request id a request keeps: its X-Request-ID when well formed, else the trace id of
/// seed 003's X-Cloud-Trace-Context ("TRACE_ID/SPAN_ID;o=1", 32 hex), else nullopt (make one).
std::optional<std::string> ClientRequestId(std::string_view x_request_id, std::string_view x_cloud_trace_context);
/// The trace id (32 lowercase hex) of a well-formed W3C `traceparent`
/// (version-traceid-parentid-flags; version ff and all-zero ids are invalid), else nullopt.
std::optional<std::string> TraceIdOf(std::string_view traceparent);
/// RFC 3339 UTC with microseconds: 2025-10-26T12:34:56.789123+00:00 (seed 000's format).
std::string IsoTimestamp(std::chrono::system_clock::time_point tp);
/// Microseconds since the epoch of an RFC 3339 timestamp a client sends (a query's since/until):
/// YYYY-MM-DD, optionally followed by THH:MM[:SS[.fraction of 1-9 digits]] and Z or ±HH:MM
/// (no offset: UTC), years 1970-9999, every field in range; nullopt otherwise.
std::optional<std::int64_t> ParseIsoTimestamp(std::string_view text);
inline std::string NowIso() { return IsoTimestamp(std::chrono::system_clock::now()); }
/// Hex of `n` random bytes.
std::string RandomHex(std::size_t n);
/// `n` bytes from the CSPRNG.
std::string RandomBytes(std::size_t n);

}  // namespace suite::core
