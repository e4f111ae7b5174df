#include "exchange.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include "head_writer.hpp"
#include "suite/core/ids.hpp"
#include "suite/observability/log.hpp"

namespace suite::http::detail {

namespace {

// `value / unit` with `digits` decimals (unit = 10^digits' multiple: 1000 with 2 digits keeps
// tens of µs), then `suffix`, in `buf`: "1.25ms", "0.001250".
std::string_view FixedPoint(char (&buf)[32], long long value, long long unit, int digits, std::string_view suffix) {
  if (value < 0) value = 0;
  long long scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  const long long whole = value / unit;
  long long frac = (value % unit) * scale / unit;
  auto r = std::to_chars(buf, buf + 20, whole);
  char* p = r.ptr;
  *p++ = '.';
  for (int i = digits - 1; i >= 0; --i, frac /= 10) p[i] = static_cast<char>('0' + frac % 10);
  p += digits;
  for (char c : suffix) *p++ = c;
  return {buf, static_cast<std::size_t>(p - buf)};
}

}  // namespace

void CompleteRequest(Request& req, const std::string& remote_ip, bool secure, bool keep_alive, bool upgrade) {
  const auto q = req.target.find('?');
  req.path.assign(req.target, 0, q);
  if (q != std::string::npos) req.query.assign(req.target, q + 1);
  req.remote_ip = remote_ip;
  req.secure = secure;
  req.keep_alive = keep_alive;
  req.upgrade = upgrade;
  auto client_id = core::ClientRequestId(req.Header("x-request-id"), req.Header("x-cloud-trace-context"));
  req.request_id = client_id ? std::move(*client_id) : core::NewUuid();
  auto trace = core::TraceIdOf(req.Header("traceparent"));
  req.trace_id = trace ? std::move(*trace) : core::RandomHex(16);
}

bool HasField(const Headers& fields, std::string_view name) {
  return std::any_of(fields.begin(), fields.end(), [name](const auto& f) { return NameEquals(f.first, name); });
}

bool IsTimingField(std::string_view name) {
  return NameEquals(name, "x-request-id") || NameEquals(name, "x-response-time") || NameEquals(name, "x-process-time");
}

void Timing(const Request& req, TimingValues& out) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - req.start).count();
  out.response_time = FixedPoint(out.response_buf, us, 1000, 2, "ms");
  out.process_time = FixedPoint(out.process_buf, us, 1'000'000, 6, "");
}

void ObserveExchange(obs::Metrics& metrics, const Request& req, const Response& res) {
  const auto protocol = ProtocolOf(req, res.status);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - req.start).count();
  metrics.ObserveRequest(req.method, req.route, res.status, secs, protocol);
  // Written per request: built without a JSON document.
  obs::LogFields(obs::Level::kInfo, "request",
                 {{"client", req.remote_ip},
                  {"duration_ms", std::round(secs * 1e5) / 100.0},
                  {"method", req.method},
                  {"path", req.path},
                  {"protocol", obs::ProtocolLabel(protocol)},
                  {"request_id", req.request_id},
                  {"status_code", res.status},
                  {"trace_id", req.trace_id}});
}

}  // namespace suite::http::detail
