#include "suite/http/router.hpp"

#include "suite/http/resume.hpp"
#include "suite/observability/log.hpp"

namespace suite::http {

using core::ApiError;
using core::ErrorCode;

Response ErrorFromException(std::exception_ptr e, const Request& req) {
  try {
    std::rethrow_exception(e);
  } catch (const core::ApiError& err) {
    if (!err.internal().empty())
      obs::Warn("request failed", {{"request_id", req.request_id}, {"reason", err.internal()}});
    return ErrorReply(err, req.request_id);
  } catch (const std::exception& err) {
    obs::Error("unhandled exception", {{"request_id", req.request_id}, {"error", err.what()}});
  } catch (...) {
    obs::Error("unhandled non-standard exception", {{"request_id", req.request_id}});
  }
  return Response::Error(ErrorCode::kInternal, "Internal server error", req.request_id);
}

Response BodyRefusal(BodyStatus why, std::string_view request_id) {
  if (why == BodyStatus::kTooLarge)
    return ErrorReply(ApiError(ErrorCode::kPayloadTooLarge, "Request body too large"), request_id);
  if (why == BodyStatus::kTimedOut)
    return ErrorReply(ApiError(ErrorCode::kRequestTimeout, "Request body timed out"), request_id);
  return ErrorReply(ApiError(ErrorCode::kBadRequest, "Incomplete or malformed request body"), request_id);
}

bool Router::Matches(const std::string& pattern, const std::string& path) {
  if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, "/*") == 0) {
    const std::string_view prefix(pattern.data(), pattern.size() - 2);
    return path == prefix ||
           (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
            path[prefix.size()] == '/');
  }
  return pattern == path;
}

void Router::Inline(std::string method, std::string pattern, SyncFn fn) {
  routes_.push_back({std::move(method), std::move(pattern), std::move(fn), nullptr});
}

void Router::Blocking(std::string method, std::string pattern, Offload& pool, SyncFn fn) {
  routes_.push_back({std::move(method), std::move(pattern), std::move(fn), &pool});
}

const Router::Route* Router::Find(Request& req, Response& refusal) const {
  std::string allow;
  for (const auto& r : routes_) {
    if (!Matches(r.pattern, req.path)) continue;
    if (r.method == req.method || (req.method == "HEAD" && r.method == "GET")) {
      req.route = r.pattern;
      return &r;
    }
    if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
  }
  if (!allow.empty()) {
    req.route = "method_not_allowed";
    refusal = Response::Error(ErrorCode::kMethodNotAllowed, "Method Not Allowed", req.request_id);
    refusal.Set("allow", allow);
  } else {
    req.route = "not_found";
    refusal = Response::Error(ErrorCode::kNotFound, "Not Found", req.request_id);
  }
  return nullptr;
}

namespace {

Response Call(const Router::SyncFn& fn, Request& req) {
  try {
    return fn(req);
  } catch (...) {
    return ErrorFromException(std::current_exception(), req);
  }
}

}  // namespace

// A blocking route's answer is awaited: the request resumes on its own loop whatever thread ran it.
Task<Response> Router::Run(const Route& route, RequestPtr req) {
  if (route.pool == nullptr) co_return Call(route.fn, *req);
  Response res;
  if (co_await RunOn(*route.pool, [&] { res = Call(route.fn, *req); })) co_return res;
  co_return ErrorReply(ApiError(ErrorCode::kOverloaded, "Service is busy, retry shortly").RetryAfter(std::chrono::seconds(1)),
                       req->request_id);
}

Task<Response> Router::Dispatch(RequestPtr req) const {
  Response refusal;
  const Route* route = Find(*req, refusal);
  if (route == nullptr) co_return refusal;
  co_return co_await Run(*route, std::move(req));
}

Task<Response> Router::Handle(RequestPtr req, BodyReader& body, std::size_t body_limit) const {
  Response refusal;
  const Route* route = Find(*req, refusal);
  if (route == nullptr) co_return refusal;
  const auto read = co_await body.Read(body_limit);
  if (read != BodyStatus::kOk) co_return BodyRefusal(read, req->request_id);
  co_return co_await Run(*route, std::move(req));
}

HeadHandler Router::Serve(std::size_t body_limit) const {
  return [this, body_limit](RequestPtr req, BodyReader& body) { return Handle(std::move(req), body, body_limit); };
}

}  // namespace suite::http
