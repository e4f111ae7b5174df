#pragma once
// Internal to libs/http: what every exchange shares whatever the protocol it came by (an
// HTTP/1.1 request in session.cpp, an HTTP/2 stream in h2_session.cpp): the server's additions
// to a parsed request, the timing fields of its answer, and its log line and metrics. Plain
// code, no Asio.
#include <string>
#include <string_view>

#include "suite/http/message.hpp"
#include "suite/observability/metrics.hpp"

namespace suite::http::detail {

/// What the server adds to a parsed head: path and query (from `target`), the connection's
/// facts, the request and trace ids (the client's when well formed, else new).
void CompleteRequest(Request& req, const std::string& remote_ip, bool secure, bool keep_alive, bool upgrade);

/// Whether `fields` holds one named `name` (ASCII case-insensitively): an answer's own field
/// overrides the server's common one of that name.
bool HasField(const Headers& fields, std::string_view name);

/// x-request-id, x-response-time, x-process-time: the server's on every answer to a request,
/// never copied from a handler's answer.
bool IsTimingField(std::string_view name);

/// The timing fields' values for `req` now: x-response-time ("1.25ms", seed 003) and
/// x-process-time (seconds, "0.001250", seed 001), written into the buffers (no
/// floating-point formatting per answer).
struct TimingValues {
  char response_buf[32];
  char process_buf[32];
  std::string_view response_time;
  std::string_view process_time;
};
void Timing(const Request& req, TimingValues& out);

/// One request's metrics and its log line, once its answer is written.
void ObserveExchange(obs::Metrics& metrics, const Request& req, const Response& res);

}  // namespace suite::http::detail
