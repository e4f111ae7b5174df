#include "routes.hpp"

#include <charconv>

#include "store.hpp"
#include "suite/http/service.hpp"

namespace audit {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Request;
using suite::http::Response;

namespace {

RequestFilter ParseFilter(const Request& req) {
  if (!suite::http::ParseForm(req.query)) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
  RequestFilter f;
  f.status = req.Query("status");
  f.action = req.Query("action");
  f.dataset_id = req.Query("dataset_id");
  f.request_id = req.Query("request_id");
  if (f.status && *f.status != "success" && *f.status != "failure")
    throw ApiError(ErrorCode::kValidation, "Request validation failed",
                   {{"errors", nlohmann::json::array({{{"field", "status"}, {"message", "must be success or failure"}, {"type", "value_error"}}})}});
  if (auto limit = req.Query("limit")) {
    int n = 0;
    auto [p, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (ec != std::errc{} || p != limit->data() + limit->size() || n < 1 || n > 1000)
      throw ApiError(ErrorCode::kValidation, "Request validation failed",
                     {{"errors", nlohmann::json::array({{{"field", "limit"}, {"message", "must be an integer between 1 and 1000"}, {"type", "value_error"}}})}});
    f.limit = n;
  }
  return f;
}

}  // namespace

void Register(suite::http::Router& router, suite::http::WorkerPool& workers, suite::db::Pool& pool) {
  router.Blocking("GET", "/audit/requests", workers, [&pool](Request& req) {
    if (!suite::http::IdentityOf(req).HasRole("admin"))
      throw ApiError(ErrorCode::kForbidden, "Admin role required");
    return Response::Json(200, QueryRequests(pool, ParseFilter(req)));
  });
}

}  // namespace audit
