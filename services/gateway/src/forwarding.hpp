#pragma once
/// What crosses the gateway, in both directions (pure functions).
#include <string>

#include "suite/http/message.hpp"

namespace gateway {

/// Request headers for the upstream: hop-by-hop headers, credentials and every client-sent
/// X-Internal-* / X-Auth-* removed; request id, forwarding headers, traceparent and the signed
/// identity added.
suite::http::Headers UpstreamHeaders(const suite::http::Request& req, const std::string& identity_token,
                                     const std::string& traceparent);
/// The client's `traceparent` when well-formed (W3C), else a new one.
std::string Traceparent(const suite::http::Request& req);
/// The target without the `api_key` query parameter (the key stays at the edge).
std::string UpstreamTarget(const suite::http::Request& req);
/// Response headers from the upstream without hop-by-hop ones.
suite::http::Headers DownstreamHeaders(const suite::http::Headers& upstream);

}  // namespace gateway
