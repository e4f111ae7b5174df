#pragma once
// Internal to libs/http: what both upstream pools (client.cpp, HTTP/1.1; h2_client.cpp, HTTP/2)
// share: an endpoint's name, what counts against its health and how its ejection is told, what
// a request must be to be sent. Plain code, no Asio.
#include <atomic>
#include <cstdint>
#include <string>

#include "head_writer.hpp"
#include "suite/http/client.hpp"
#include "suite/http/endpoints.hpp"
#include "suite/observability/log.hpp"

namespace suite::http::detail {

// "host:port" ("[v6]:port"): the Host (or :authority) an endpoint is asked as, and its name in logs.
inline std::string Authority(const Endpoint& ep) {
  const auto port = std::to_string(ep.port);
  return ep.host.find(':') != std::string::npos ? "[" + ep.host + "]:" + port : ep.host + ":" + port;
}

// What passive health counts against an endpoint: no connection, no (whole) answer, or a 502
// or 504 (it could not reach what it needs). Not a 503: our services shed load with it (a full
// worker pool, with Retry-After), and a flood of expensive requests must not get a healthy
// service cut off for everyone.
inline bool Healthy(const ClientResult& r) {
  if (r.status == ClientResult::Status::kBodyFailed) return true;  // the client's failure, not the endpoint's
  if (r.status != ClientResult::Status::kOk) return false;
  const int s = r.response.status;
  return s != 502 && s != 504;
}

// The request on endpoint `index` is over: its health counted, an ejection or a return logged.
inline void ReportOutcome(EndpointSet& endpoints, std::size_t index, const ClientResult& r, const std::string& upstream,
                          const std::string& authority, std::atomic<std::uint64_t>& ejections) {
  switch (endpoints.Finished(index, Healthy(r), std::chrono::steady_clock::now())) {
    case EndpointSet::Change::kEjected:
      ++ejections;
      obs::Warn("upstream endpoint ejected", {{"upstream", upstream}, {"endpoint", authority},
                                              {"for_ms", endpoints.ejected_for(index).count()},
                                              {"error", r.error}, {"status", r.response.status}});
      break;
    case EndpointSet::Change::kRestored:
      obs::Info("upstream endpoint restored", {{"upstream", upstream}, {"endpoint", authority}});
      break;
    case EndpointSet::Change::kNone:
      break;
  }
}

// What a request written by hand must not carry: a method or target that would break the
// request line (or an HTTP/2 pseudo-field), a TRACE with content (RFC 9110 9.3.8).
inline bool Frameable(const ClientRequest& req) {
  return IsToken(req.method) && !req.target.empty() && IsSafeFieldValue(req.target) &&
         req.target.find(' ') == std::string::npos && !(req.method == "TRACE" && !req.body.empty());
}

}  // namespace suite::http::detail
