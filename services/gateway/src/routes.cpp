#include "routes.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::core::ErrorCode;

bool Route::Matches(std::string_view path) const {
  if (prefix.back() != '/') return path == prefix;
  return path.substr(0, prefix.size()) == prefix || path == std::string_view(prefix).substr(0, prefix.size() - 1);
}

bool Route::Allows(std::string_view method) const {
  if (method == "HEAD") method = "GET";
  std::string_view list = methods;
  while (!list.empty()) {
    const auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item == method) return true;
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return false;
}

RouteFilter::RouteFilter(std::vector<Route> routes) : routes_(std::move(routes)) {
  not_found_.prefix = "not_found";
  not_found_.auth = AuthPolicy::kNone;
  not_found_.not_found = true;
}

const Route* RouteFilter::Find(std::string_view path) const {
  for (const auto& r : routes_)
    if (r.Matches(path)) return &r;
  return nullptr;
}

FilterStatus RouteFilter::OnRequest(RequestContext& ctx) {
  auto& req = ctx.req();
  const Route* route = Find(req.path);
  ctx.route = route != nullptr ? route : &not_found_;
  req.route = ctx.route->prefix;  // the metrics label: a closed set
  if (route == nullptr) return FilterStatus::kContinue;
  // Before any credential check or forwarding: TRACE and CONNECT are served nowhere (a TRACE
  // would echo the forwarded credentials).
  if (!route->Allows(req.method)) {
    ctx.Refuse(ApiError(ErrorCode::kMethodNotAllowed, "Method Not Allowed"), "method_not_allowed");
    ctx.reply->Set("allow", route->methods);
    return FilterStatus::kStop;
  }
  // What is not decoded can be neither checked nor stripped.
  if (!req.query.empty() && !suite::http::ParseForm(req.query))
    return ctx.Refuse(ApiError(ErrorCode::kBadRequest, "Malformed query string"), "bad_query");
  return FilterStatus::kContinue;
}

FilterStatus AuthorizationFilter::OnRequest(RequestContext& ctx) {
  if (ctx.deferred || ctx.route->role.empty() || ctx.identity.HasRole(ctx.route->role)) return FilterStatus::kContinue;
  return ctx.Refuse(ApiError(ErrorCode::kForbidden, "Role '" + ctx.route->role + "' required"), "forbidden");
}

}  // namespace gateway
