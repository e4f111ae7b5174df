#include "routes.hpp"

#include "store.hpp"
#include "suite/core/config.hpp"
#include "suite/core/ids.hpp"
#include "suite/service/identity_guard.hpp"

namespace audit {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Request;
using suite::http::Response;

namespace {

// An integer query parameter in [min, max], or a 422 naming it.
long long Integer(std::string_view text, long long min, long long max, const char* field, const char* message) {
  const auto v = suite::core::ParseInt(text);
  if (!v || *v < min || *v > max) throw suite::core::ValidationError(field, message);
  return *v;
}

RequestFilter ParseFilter(const Request& req) {
  if (!suite::http::ParseForm(req.query)) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
  RequestFilter f;
  f.status = req.Query("status");
  f.action = req.Query("action");
  f.dataset_id = req.Query("dataset_id");
  f.request_id = req.Query("request_id");
  if (f.status && *f.status != "success" && *f.status != "failure")
    throw suite::core::ValidationError("status", "must be success or failure");
  if (auto limit = req.Query("limit"))
    f.limit = static_cast<int>(Integer(*limit, 1, 1000, "limit", "must be an integer between 1 and 1000"));
  return f;
}

SecurityFilter ParseSecurityFilter(const Request& req) {
  auto form = suite::http::ParseForm(req.query);
  if (!form) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
  SecurityFilter f;
  for (auto& [k, v] : *form) {
    if (k == "hours") f.hours = static_cast<int>(Integer(v, 1, 720, "hours", "must be an integer between 1 and 720"));
    else if (k == "limit") f.limit = static_cast<int>(Integer(v, 1, 1000, "limit", "must be an integer between 1 and 1000"));
    else if (k == "offset") f.offset = Integer(v, 0, 1'000'000'000, "offset", "must be a non-negative integer");
    else if (k == "severity") {
      if (v != "INFO" && v != "WARNING" && v != "ERROR" && v != "CRITICAL")
        throw suite::core::ValidationError("severity", "must be INFO, WARNING, ERROR or CRITICAL");
      f.severity = v;
    } else if (k == "event_type") {
      if (v.empty() || v.size() > 64) throw suite::core::ValidationError("event_type", "must be 1 to 64 characters");
      f.event_type = v;
    }
  }
  return f;
}

AccessFilter ParseAccessFilter(const Request& req) {
  auto form = suite::http::ParseForm(req.query);
  if (!form) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
  AccessFilter f;
  auto text = [](const std::string& v, const char* field) {
    if (v.empty() || v.size() > 256) throw suite::core::ValidationError(field, "must be 1 to 256 characters");
    return v;
  };
  for (auto& [k, v] : *form) {
    if (k == "limit") f.limit = static_cast<int>(Integer(v, 1, 1000, "limit", "must be an integer between 1 and 1000"));
    else if (k == "offset") f.offset = Integer(v, 0, 1'000'000'000, "offset", "must be a non-negative integer");
    else if (k == "status") f.http_status = static_cast<int>(Integer(v, 100, 599, "status", "must be an HTTP status"));
    else if (k == "client") f.client = text(v, "client");
    else if (k == "request_id") f.request_id = text(v, "request_id");
    else if (k == "reason") f.reason = text(v, "reason");
    else if (k == "subject") f.subject = text(v, "subject");
  }
  return f;
}

}  // namespace

void Register(suite::http::Router& router, suite::service::WorkerPool& workers, suite::db::Pool& pool) {
  router.Blocking("GET", "/audit/requests", workers, [&pool](Request& req) {
    if (!suite::service::IdentityOf(req).HasRole("admin"))
      throw ApiError(ErrorCode::kForbidden, "Admin role required");
    return Response::Json(200, QueryRequests(pool, ParseFilter(req)));
  });
  // The gateway's access log: every answer, refusals with their reason.
  router.Blocking("GET", "/audit/access", workers, [&pool](Request& req) {
    if (!suite::service::IdentityOf(req).HasRole("admin"))
      throw ApiError(ErrorCode::kForbidden, "Admin role required");
    return Response::Json(200, QueryAccess(pool, ParseAccessFilter(req)));
  });
  // Seed 002's security monitoring: the events for administrators, a summary for any user.
  router.Blocking("GET", "/security/events", workers, [&pool](Request& req) {
    if (!suite::service::IdentityOf(req).HasRole("admin"))
      throw ApiError(ErrorCode::kForbidden, "Admin role required");
    return Response::Json(200, QuerySecurityEvents(pool, ParseSecurityFilter(req)));
  });
  router.Blocking("GET", "/security/health", workers, [&pool](Request& req) {
    const auto id = suite::service::IdentityOf(req);
    if (id.method == "none" || id.method.empty()) throw ApiError(ErrorCode::kUnauthenticated, "Authentication required");
    auto out = SecurityHealth(pool);
    out["timestamp"] = suite::core::NowIso();
    return Response::Json(200, out);
  });
}

}  // namespace audit
