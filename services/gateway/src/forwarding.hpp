#pragma once
/// What crosses the gateway, in both directions (pure functions).
#include <string>

#include "suite/http/message.hpp"

namespace gateway {

/// Request headers for the upstream, as header lines (ClientRequest::header_lines): hop-by-hop
/// headers, credentials and every client-sent X-Internal-* / X-Auth-* removed; request id,
/// forwarding headers, traceparent and the signed identity added. Written once, from the
/// received request's fields, with no list of copies in between.
/// `pass_authorization`: the client's Authorization goes on as it came (a route with auth
/// "none" whose upstream authenticates the client itself: OAuth's token endpoint, HTTP Basic).
std::string UpstreamHeaderLines(const suite::http::Request& req, std::string_view identity_token,
                                std::string_view traceparent, bool pass_authorization = false);
/// The client's `traceparent` when well-formed (W3C), else a new one.
std::string Traceparent(const suite::http::Request& req);
/// The target without the `api_key` query parameter (the key stays at the edge).
std::string UpstreamTarget(const suite::http::Request& req);
/// Response headers from the upstream without hop-by-hop ones (filtered in place: nothing copied).
suite::http::Headers DownstreamHeaders(suite::http::Headers upstream);
/// An `Upgrade` field asking for WebSocket (RFC 6455: the token "websocket", any case).
bool IsWebSocket(std::string_view upgrade);

}  // namespace gateway
