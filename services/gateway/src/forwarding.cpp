#include "forwarding.hpp"

#include <algorithm>
#include <array>

#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"

namespace gateway {

namespace {

constexpr std::array<std::string_view, 10> kHopByHop = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer",    "transfer-encoding", "upgrade", "host", "content-length"};

bool HopByHop(std::string_view name) {
  return std::find(kHopByHop.begin(), kHopByHop.end(), name) != kHopByHop.end();
}

bool Stripped(std::string_view name) {
  return HopByHop(name) || name.rfind("x-internal-", 0) == 0 || name.rfind("x-auth-", 0) == 0 ||
         name == "authorization" || name == "x-api-key" || name == "x-request-id" ||
         name == "traceparent" || name == "x-forwarded-for" || name == "x-forwarded-proto" || name == "x-forwarded-host" ||
         name == "x-real-ip" || name == "forwarded" || name == "cookie" ||
         name == "expect";  // met here already: the body was read before the request goes on
}


}  // namespace

std::string Traceparent(const suite::http::Request& req) {
  // The client's trace continues (a new parent id: ours); else a new trace. Spelled in one
  // string: 00-<trace id>-<parent id>-<flags>.
  const auto tp = req.Header("traceparent");
  const auto client = suite::core::TraceIdOf(tp);
  std::string out;
  out.reserve(55);
  out += "00-";
  if (client) out += *client;
  else if (!req.trace_id.empty()) out += req.trace_id;
  else out += suite::core::RandomHex(16);
  out += '-';
  out += suite::core::RandomHex(8);
  out += '-';
  if (client) out += tp.substr(53, 2);
  else out += "01";
  return out;
}

std::string UpstreamHeaderLines(const suite::http::Request& req, std::string_view identity_token,
                                std::string_view traceparent, bool pass_authorization) {
  std::string out;
  out.reserve(384 + identity_token.size());
  std::string_view xff;
  for (const auto& [k, v] : req.headers) {
    if (k == "x-forwarded-for") xff = v;  // kept as history, the client address appended
    if (!Stripped(k) || (pass_authorization && k == "authorization"))
      suite::http::AppendHeaderLine(out, k, v);  // a value the parser took: it passes
  }
  suite::http::AppendHeaderLine(out, "x-request-id", req.request_id);
  suite::http::AppendHeaderLine(out, "traceparent", traceparent);
  // The hop we received it from: the connection's peer (a trusted proxy, or the client).
  const std::string& peer = req.peer_ip.empty() ? req.remote_ip : req.peer_ip;
  if (xff.empty()) {
    suite::http::AppendHeaderLine(out, "x-forwarded-for", peer);
  } else {
    std::string chain;
    chain.reserve(xff.size() + 2 + peer.size());
    chain.append(xff).append(", ").append(peer);
    suite::http::AppendHeaderLine(out, "x-forwarded-for", chain);
  }
  suite::http::AppendHeaderLine(out, "x-forwarded-proto", req.secure ? "https" : "http");
  // The name the client asked for (the upstream gets its own address as Host).
  if (const auto host = req.Header("host"); !host.empty()) suite::http::AppendHeaderLine(out, "x-forwarded-host", host);
  suite::http::AppendHeaderLine(out, "x-real-ip", req.remote_ip);
  suite::http::AppendHeaderLine(out, "x-internal-identity", identity_token);
  return out;
}

std::string UpstreamTarget(const suite::http::Request& req) {
  if (req.query.empty()) return req.path;
  std::string kept;
  std::string_view q = req.query;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    // The credential is recognised however it is encoded (api%5Fkey, %61pi_key): the key is
    // compared decoded, as authentication reads it.
    if (part.empty()) continue;
    const auto key = suite::http::PercentDecode(part.substr(0, part.find('=')));
    if (!key || *key == "api_key") continue;
    if (!kept.empty()) kept.push_back('&');
    kept += part;
  }
  return kept.empty() ? req.path : req.path + "?" + kept;
}

bool IsWebSocket(std::string_view upgrade) { return suite::core::AsciiEqualsIgnoreCase(upgrade, "websocket"); }

suite::http::Headers DownstreamHeaders(suite::http::Headers upstream) {
  std::erase_if(upstream, [](const auto& h) { return HopByHop(h.first) || h.first == "x-response-time"; });
  return upstream;
}

}  // namespace gateway
