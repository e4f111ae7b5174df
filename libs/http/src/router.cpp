#include "suite/http/router.hpp"

#include "suite/observability/log.hpp"

namespace suite::http {

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

bool Router::Matches(const std::string& pattern, const std::string& path) {
  if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, "/*") == 0) {
    const std::string_view prefix(pattern.data(), pattern.size() - 2);
    return path == prefix ||
           (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
            path[prefix.size()] == '/');
  }
  return pattern == path;
}

void Router::Add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), std::move(pattern), std::move(handler)});
}

void Router::Inline(std::string method, std::string pattern, SyncFn fn) {
  Add(std::move(method), std::move(pattern), [fn = std::move(fn)](RequestPtr req, Reply reply) {
    try {
      reply(fn(*req));
    } catch (...) {
      reply(ErrorFromException(std::current_exception(), *req));
    }
  });
}

void Router::Blocking(std::string method, std::string pattern, Offload& pool, SyncFn fn) {
  Add(std::move(method), std::move(pattern),
      [&pool, fn = std::move(fn)](RequestPtr req, Reply reply) {
        pool.Submit(
            [fn, req, reply] {
              try {
                reply(fn(*req));
              } catch (...) {
                reply(ErrorFromException(std::current_exception(), *req));
              }
            },
            [req, reply] {
              reply(ErrorReply(core::ApiError(ErrorCode::kOverloaded, "Service is busy, retry shortly")
                                   .RetryAfter(std::chrono::seconds(1)),
                               req->request_id));
            });
      });
}

void Router::Dispatch(RequestPtr req, Reply reply) const {
  std::string allow;
  for (const auto& r : routes_) {
    if (!Matches(r.pattern, req->path)) continue;
    if (r.method == req->method || (req->method == "HEAD" && r.method == "GET")) {
      req->route = r.pattern;
      r.handler(req, reply);
      return;
    }
    if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
  }
  if (!allow.empty()) {
    req->route = "method_not_allowed";
    auto res = Response::Error(ErrorCode::kMethodNotAllowed, "Method Not Allowed", req->request_id);
    res.Set("allow", allow);
    reply(std::move(res));
    return;
  }
  req->route = "not_found";
  reply(Response::Error(ErrorCode::kNotFound, "Not Found", req->request_id));
}

}  // namespace suite::http
