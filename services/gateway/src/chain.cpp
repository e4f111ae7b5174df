#include "chain.hpp"

#include "grpc.hpp"
#include "routes.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::BodyReader;
using suite::http::Response;
using suite::http::Task;

FilterStatus RequestContext::RefuseBody(suite::http::BodyStatus why) {
  using suite::http::BodyStatus;
  if (why == BodyStatus::kTooLarge)
    return Refuse(ApiError(ErrorCode::kPayloadTooLarge, "Request body too large",
                           {{"limit_bytes", body_limit}, {"tier", identity.tier}}),
                  "body_too_large");
  if (why == BodyStatus::kTimedOut)
    return Refuse(ApiError(ErrorCode::kRequestTimeout, "Request body timed out"), "body_timeout");
  return Refuse(ApiError(ErrorCode::kBadRequest, "Incomplete or malformed request body"), "body_incomplete");
}

Task<Response> Chain::Run(suite::http::RequestPtr req, BodyReader& body) const {
  RequestContext ctx{.request = std::move(req)};
  co_return co_await Run(ctx, body);
}

Task<Response> Chain::Run(RequestContext& ctx, BodyReader& body) const {
  ctx.content_length = body.content_length();
  ctx.body_limit = max_body_;
  ctx.response_headers.reserve(8);  // the rate limit's five, CORS's: one allocation, not four
  std::size_t seen = 0;
  while (seen < steps_.size()) {
    const Step& step = steps_[seen++];
    FilterStatus status = FilterStatus::kContinue;
    if (step.async != nullptr) status = co_await step.async->OnRequest(ctx);
    else status = step.sync->OnRequest(ctx);
    if (status == FilterStatus::kStop) break;
  }
  if (!ctx.reply && ctx.deferred) ctx.RefuseDeferred();
  Response res;
  if (ctx.reply) {
    res = std::move(*ctx.reply);
  } else {
    // Admitted: only now is the body read (and a client waiting on 100-continue told to send it).
    // On its way upstream a long body streams; the gateway's own routes get it whole.
    BodyReader::Status read = BodyReader::Status::kOk;
    if (ctx.route != nullptr && ctx.route->upstream != nullptr) read = co_await body.Open(ctx.body_limit);
    else read = co_await body.Read(ctx.body_limit);
    if (read == BodyReader::Status::kOk) {
      res = co_await proxy_.Forward(ctx);
    } else {
      ctx.RefuseBody(read);
      res = std::move(*ctx.reply);
    }
  }
  while (seen > 0) steps_[--seen].filter->OnResponse(ctx, res);
  for (auto& [name, value] : ctx.response_headers) res.Put(std::move(name), std::move(value));  // names lowercase
  // A gRPC caller reads grpc-status, not the HTTP status (the access event above keeps ours).
  if (res.status != 200 && suite::http::IsGrpc(ctx.req())) ToGrpcStatus(res);
  co_return res;
}

}  // namespace gateway
