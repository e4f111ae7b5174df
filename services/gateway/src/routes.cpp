#include "routes.hpp"

#include <algorithm>
#include <cctype>

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
  if (ctx.deferred) return FilterStatus::kContinue;
  const auto& route = *ctx.route;
  const auto& id = ctx.identity;
  if (!route.role.empty() && !id.HasRole(route.role))
    return ctx.Refuse(ApiError(ErrorCode::kForbidden, "Role '" + route.role + "' required"), "forbidden");
  if (route.require.empty()) return FilterStatus::kContinue;
  const auto& need = route.require;
  const auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  };
  std::vector<std::string> roles, scopes;
  for (const auto& r : need.roles)
    if (!id.HasRole(r)) roles.push_back(r);
  for (const auto& s : need.scopes)
    if (std::find(id.scopes.begin(), id.scopes.end(), s) == id.scopes.end()) scopes.push_back(s);
  const bool issuer_ok =
      need.issuers.empty() || std::find(need.issuers.begin(), need.issuers.end(), id.issuer) != need.issuers.end();
  if (roles.empty() && scopes.empty() && issuer_ok) return FilterStatus::kContinue;
  std::string why;
  if (!issuer_ok) why = "a token from " + join(need.issuers) + " required";
  if (!roles.empty()) why += (why.empty() ? "" : "; ") + std::string("roles required: ") + join(roles);
  if (!scopes.empty()) why += (why.empty() ? "" : "; ") + std::string("scopes required: ") + join(scopes);
  why[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(why[0])));
  ApiError e(ErrorCode::kForbidden, why);
  if (!scopes.empty()) {
    std::string list;
    for (const auto& s : scopes) list += (list.empty() ? "" : " ") + s;
    e.Challenge("Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"" + list + "\"");
  }
  return ctx.Refuse(e, scopes.empty() ? "forbidden" : "insufficient_scope");
}

}  // namespace gateway
