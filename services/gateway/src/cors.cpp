#include "cors.hpp"

#include <algorithm>

#include "suite/core/error.hpp"
#include "suite/core/json.hpp"

namespace gateway {

namespace {

constexpr const char* kMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
// What a browser script may read of our answers besides the CORS-safelisted headers.
constexpr const char* kExposed =
    "X-Request-ID, X-Response-Time, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
    "RateLimit, RateLimit-Policy, Retry-After";

// An origin as listed: without surrounding space, and without a trailing '/' (origins have none).
std::string_view Trim(std::string_view s) {
  s = suite::core::TrimSpace(s);
  while (!s.empty() && s.back() == '/') s = suite::core::TrimSpace(s.substr(0, s.size() - 1));
  return s;
}

// scheme://host[:port], nothing else (an origin has no path).
bool IsOrigin(std::string_view o) {
  const auto scheme = o.find("://");
  if (scheme == std::string_view::npos || (o.substr(0, scheme) != "http" && o.substr(0, scheme) != "https"))
    return false;
  const auto rest = o.substr(scheme + 3);
  return !rest.empty() && rest.size() <= 253 && std::all_of(rest.begin(), rest.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == ':' || c == '[' || c == ']';
  });
}

// A request-header list a preflight may echo: tokens and commas only (nothing that could split
// a header).
bool IsHeaderList(std::string_view s) {
  return s.size() <= 1024 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == ',' || c == ' ';
         });
}

}  // namespace

Cors Cors::Parse(std::string_view list, std::string& error) {
  Cors c;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto entry = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") c.any_ = true;
    else if (IsOrigin(entry)) c.origins_.emplace_back(entry);
    else {
      error = "not an origin (scheme://host[:port]): " + std::string(entry);
      return {};
    }
  }
  return c;
}

bool Cors::Allows(std::string_view origin) const {
  if (origin.empty()) return false;
  return any_ || std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

std::optional<suite::http::Response> Cors::Preflight(const suite::http::Request& req) const {
  if (req.method != "OPTIONS" || !req.HasHeader("origin") || !req.HasHeader("access-control-request-method"))
    return std::nullopt;
  const auto origin = req.Header("origin");
  const auto requested = req.Header("access-control-request-headers");
  if (!Allows(origin) || !IsHeaderList(requested))
    return suite::http::Response::Error(suite::core::ErrorCode::kBadRequest, "Disallowed CORS origin",
                                        req.request_id);
  suite::http::Response res;
  res.status = 200;
  res.body = "OK";
  res.Set("content-type", "text/plain; charset=utf-8");
  Decorate(res, origin);
  res.Set("access-control-allow-methods", kMethods);
  if (!requested.empty()) res.Set("access-control-allow-headers", std::string(requested));
  res.Set("access-control-max-age", "600");
  return res;
}

void Cors::Decorate(suite::http::Response& res, std::string_view origin) const {
  if (!Allows(origin)) return;
  if (any_ && std::find(origins_.begin(), origins_.end(), origin) == origins_.end()) {
    res.Set("access-control-allow-origin", "*");
  } else {
    res.Set("access-control-allow-origin", std::string(origin));
    res.Set("access-control-allow-credentials", "true");
    res.Set("vary", "Origin");
  }
  res.Set("access-control-expose-headers", kExposed);
}

FilterStatus CorsFilter::OnRequest(RequestContext& ctx) {
  if (!cors_.enabled()) return FilterStatus::kContinue;
  if (auto preflight = cors_.Preflight(ctx.req())) return ctx.Answer(std::move(*preflight), "cors_preflight");
  return FilterStatus::kContinue;
}

void CorsFilter::OnResponse(RequestContext& ctx, suite::http::Response& res) {
  if (!cors_.enabled()) return;
  const auto origin = ctx.req().Header("origin");
  if (!origin.empty() && cors_.Allows(origin)) cors_.Decorate(res, origin);
}

}  // namespace gateway
