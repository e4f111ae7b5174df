#pragma once
// gRPC callers read the outcome of a call from `grpc-status` and `grpc-message`, never from the
// HTTP status (grpc/doc/PROTOCOL-HTTP2.md): an answer the gateway makes to one (a refusal, an
// upstream that failed) is turned into gRPC's Trailers-Only form, as Envoy does. Plain code.
#include <string>
#include <string_view>

#include "suite/http/message.hpp"

namespace gateway {

/// The gRPC status code for an HTTP status: 401 UNAUTHENTICATED (16), 403 PERMISSION_DENIED
/// (7), 429 and 413/431 RESOURCE_EXHAUSTED (8), 502/503/504 UNAVAILABLE (14), 400
/// INVALID_ARGUMENT (3), 404/405 UNIMPLEMENTED (12), 408 DEADLINE_EXCEEDED (4), 500 INTERNAL
/// (13), any other UNKNOWN (2); 0 (OK) for a 2xx.
int GrpcStatusFor(int http_status);

/// gRPC's percent-encoding of grpc-message: every byte outside printable ASCII, and '%'.
std::string GrpcPercentEncode(std::string_view text);

/// `res` (not a 200) as a Trailers-Only answer: HTTP 200, `content-type: application/grpc`,
/// `grpc-status`, `grpc-message` (our envelope's message, else the reason), no body; its other
/// fields (request id, rate-limit headers, WWW-Authenticate, Retry-After) kept.
void ToGrpcStatus(suite::http::Response& res);

}  // namespace gateway
