#include "proxy.hpp"

#include "forwarding.hpp"
#include "routes.hpp"
#include "suite/observability/log.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Response;
using suite::http::Task;

Proxy::Proxy(const suite::security::IdentitySigner& signer, const suite::http::Router& local,
             suite::obs::Metrics& metrics, std::chrono::milliseconds max_timeout)
    : max_timeout_(max_timeout),
      signer_(signer),
      local_(local),
      errors_(prometheus::BuildCounter()
                  .Name("gateway_upstream_errors_total")
                  .Help("Upstream failures by upstream and kind")
                  .Register(metrics.registry())) {}

Task<Response> Proxy::Forward(RequestContext& ctx) const {
  auto& req = ctx.req();
  if (ctx.route->not_found) {
    ctx.reason = "not_found";
    co_return suite::http::ErrorReply(ApiError(ErrorCode::kNotFound, "Not Found"), req.request_id);
  }
  if (ctx.route->upstream == nullptr) co_return co_await Local(ctx);
  suite::http::ClientRequest out;
  out.method = req.method;
  out.target = UpstreamTarget(req);
  out.header_lines = UpstreamHeaderLines(req, signer_.Sign(ctx.identity, {req.request_id, req.method, req.path}),
                                         Traceparent(req), ctx.route->pass_authorization);
  out.body = std::move(req.body);
  out.body_stream = req.body_stream;  // a long upload passes through in pieces
  out.body_owner = req.body_owner;    // (over HTTP/2 both ways at once: a gRPC stream)
  out.stream_response = true;         // and so does a long answer
  // A route's own deadline; never past the identity token's life (the upstream timeout).
  if (ctx.route->timeout) out.timeout = std::min(*ctx.route->timeout, max_timeout_);
  // WebSocket, where the route allows it: the upgrade goes on, and a 101 comes back with the
  // upstream's connection to relay. Elsewhere Upgrade is stripped like any hop-by-hop field.
  const bool websocket = ctx.route->websocket && req.upgrade && req.method == "GET" && IsWebSocket(req.Header("upgrade"));
  if (websocket) {
    out.upgrade = "websocket";
    out.relay = ctx.route->relay;
  }
  auto& upstream = *ctx.route->upstream;
  auto r = co_await upstream.Call(std::move(out));
  if (r.status != suite::http::ClientResult::Status::kOk) co_return Failed(ctx, upstream, r);
  Response res;
  res.status = r.response.status;
  // A HEAD answer carries the length of the body a GET would get (read before the list moves).
  std::string head_length;
  if (req.method == "HEAD") head_length = r.response.Header("content-length");
  res.headers = DownstreamHeaders(std::move(r.response.headers));
  if (!head_length.empty()) res.Set("content-length", std::move(head_length));
  res.body = std::move(r.response.body);
  res.body_stream = std::move(r.response.body_stream);
  res.trailers = std::move(r.response.trailers);  // an HTTP/2 upstream's (gRPC's grpc-status)
  if (res.status == 101 && r.response.upgraded) {
    res.Set("upgrade", "websocket");
    res.upgraded = std::move(r.response.upgraded);
  }
  co_return res;
}

// The gateway's own endpoints (/health, /protected, ...): they read the identity from the request.
Task<Response> Proxy::Local(RequestContext& ctx) const {
  ctx.request->identity = ctx.identity;
  return local_.Dispatch(ctx.request);
}

Response Proxy::Failed(RequestContext& ctx, const suite::http::Upstream& upstream,
                       const suite::http::ClientResult& r) const {
  using Status = suite::http::ClientResult::Status;
  if (r.status == Status::kBodyFailed) {  // the client's upload failed midway: its fault, not the upstream's
    ctx.RefuseBody(r.body_status);
    return std::move(*ctx.reply);
  }
  const char* kind = r.status == Status::kTimeout         ? "timeout"
                     : r.status == Status::kConnectFailed ? "connect"
                     : r.status == Status::kUnavailable   ? "circuit_open"
                                                          : "protocol";
  errors_.Add({{"upstream", upstream.name()}, {"kind", kind}}).Increment();
  suite::obs::Warn("upstream failed", {{"request_id", ctx.req().request_id}, {"upstream", upstream.name()}, {"error", r.error}});
  ctx.reason = kind;
  if (r.status == Status::kTimeout)
    return suite::http::ErrorReply(ApiError(ErrorCode::kUpstreamTimeout, "Upstream service timed out"), ctx.req().request_id);
  if (r.status == Status::kUnavailable)  // every endpoint ejected: refused without trying
    return suite::http::ErrorReply(
        ApiError(ErrorCode::kServiceUnavailable, "Upstream service unavailable").RetryAfter(r.retry_after),
        ctx.req().request_id);
  if (r.status == Status::kConnectFailed)
    return suite::http::ErrorReply(
        ApiError(ErrorCode::kServiceUnavailable, "Upstream service unavailable").RetryAfter(std::chrono::seconds(1)),
        ctx.req().request_id);
  return suite::http::ErrorReply(ApiError(ErrorCode::kUpstreamUnavailable, "Upstream service failed"), ctx.req().request_id);
}

}  // namespace gateway
