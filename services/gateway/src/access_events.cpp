#include "access_events.hpp"

#include <cstdio>

#include "routes.hpp"
#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"

namespace gateway {

namespace {

// A JSON string of `s`, clipped to `max` bytes: client-supplied text (path, user agent) that is
// not UTF-8 has its non-ASCII bytes replaced, so the consumer's strict parser accepts the event.
void Str(std::string& out, std::string_view s, std::size_t max = 1024) {
  s = s.substr(0, max);
  const bool utf8 = suite::core::IsValidUtf8(s);
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c >= 0x80 && !utf8) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void StrOrNull(std::string& out, std::string_view s, std::size_t max = 1024) {
  if (s.empty()) out += "null";
  else Str(out, s, max);
}

void Field(std::string& out, const char* name) {
  if (out.size() > 1) out += ',';
  out += '"';
  out += name;
  out += "\":";
}

}  // namespace

std::string AccessEventLine(const RequestContext& ctx, const suite::http::Response& res) {
  const auto& req = ctx.req();
  const auto& id = ctx.identity;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - req.start).count();
  std::string out;
  out.reserve(640);
  out += '{';
  Field(out, "event_id"), Str(out, suite::core::NewUuid());
  Field(out, "timestamp"), Str(out, suite::core::NowIso());
  Field(out, "type"), out += "\"request\"";
  Field(out, "service"), out += "\"gateway\"";
  Field(out, "request_id"), Str(out, req.request_id, 128);
  Field(out, "method"), Str(out, req.method, 16);
  Field(out, "route"), Str(out, ctx.route != nullptr ? std::string_view(ctx.route->prefix) : std::string_view("-"));
  Field(out, "path"), Str(out, req.path, 256);  // never the query: it may carry an api_key
  Field(out, "http_status"), out += std::to_string(res.status);
  Field(out, "status"), out += res.status < 400 ? "\"success\"" : "\"failure\"";
  Field(out, "reason"), Str(out, ctx.reason);
  Field(out, "duration_ms"), out += std::to_string(ms);
  Field(out, "client"), StrOrNull(out, req.remote_ip);
  Field(out, "subject"), StrOrNull(out, id.method == "none" ? std::string_view() : std::string_view(id.subject), 256);
  Field(out, "auth_method"), Str(out, id.method.empty() ? std::string_view("none") : std::string_view(id.method));
  Field(out, "key_id"), StrOrNull(out, id.api_key_id, 128);
  Field(out, "tier"), Str(out, id.tier.empty() ? std::string_view("anonymous") : std::string_view(id.tier));
  Field(out, "bytes_in"), out += std::to_string(req.body.size());
  Field(out, "bytes_out"), out += std::to_string(res.body.size());
  Field(out, "user_agent"), StrOrNull(out, req.Header("user-agent"), 256);
  out += '}';
  return out;
}

namespace {
constexpr std::array<std::string_view, 5> kTiers = {"anonymous", "free", "pro", "enterprise", "other"};
}  // namespace

AccessEventFilter::AccessEventFilter(suite::audit::Publisher* publisher, suite::obs::Metrics& metrics)
    : publisher_(publisher),
      refusals_(prometheus::BuildCounter()
                    .Name("gateway_refusals_total")
                    .Help("Requests the gateway answered itself with an error, by reason (a closed set)")
                    .Register(metrics.registry())) {
  auto& family = prometheus::BuildCounter()
                     .Name("gateway_requests_total")
                     .Help("Requests answered, by the caller's tier (anonymous, free, pro, enterprise, other) and status class")
                     .Register(metrics.registry());
  for (std::size_t t = 0; t < kTiers.size(); ++t)
    for (std::size_t c = 0; c < suite::obs::kStatusClasses.size(); ++c)
      by_tier_[t][c] = &family.Add(
          {{"tier", std::string(kTiers[t])}, {"status_class", std::string(suite::obs::kStatusClasses[c])}});
}

void AccessEventFilter::OnResponse(RequestContext& ctx, suite::http::Response& res) {
  std::size_t tier = kTiers.size() - 1;
  for (std::size_t t = 0; t + 1 < kTiers.size(); ++t)
    if (ctx.identity.tier == kTiers[t]) tier = t;
  by_tier_[tier][suite::obs::StatusClassIndex(res.status)]->Increment();
  // Reasons are literals of the filters: a closed set of label values.
  if (res.status >= 400 && ctx.reason != "-") refusals_.Add({{"reason", std::string(ctx.reason)}}).Increment();
  if (publisher_ != nullptr) publisher_->PublishLine(AccessEventLine(ctx, res));
}

}  // namespace gateway
