#include "access_events.hpp"

#include "routes.hpp"

namespace gateway {

namespace {
std::string Clip(std::string_view s, std::size_t n) { return std::string(s.substr(0, n)); }
nlohmann::json OrNull(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }
}  // namespace

nlohmann::json AccessEvent(const RequestContext& ctx, const suite::http::Response& res) {
  const auto& req = ctx.req();
  const auto& id = ctx.identity;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - req.start).count();
  return {{"type", "request"},
          {"service", "gateway"},
          {"request_id", req.request_id},
          {"method", Clip(req.method, 16)},
          {"route", ctx.route != nullptr ? ctx.route->prefix : "-"},
          {"path", Clip(req.path, 256)},  // never the query: it may carry an api_key
          {"http_status", res.status},
          {"status", res.status < 400 ? "success" : "failure"},
          {"reason", std::string(ctx.reason)},
          {"duration_ms", ms},
          {"client", OrNull(req.remote_ip)},
          {"subject", OrNull(id.method == "none" ? std::string() : id.subject)},
          {"auth_method", id.method.empty() ? "none" : id.method},
          {"key_id", OrNull(id.api_key_id)},
          {"tier", id.tier.empty() ? "anonymous" : id.tier},
          {"bytes_in", req.body.size()},
          {"bytes_out", res.body.size()},
          {"user_agent", OrNull(Clip(req.Header("user-agent"), 256))}};
}

AccessEventFilter::AccessEventFilter(suite::audit::Publisher* publisher, suite::obs::Metrics& metrics)
    : publisher_(publisher),
      refusals_(prometheus::BuildCounter()
                    .Name("gateway_refusals_total")
                    .Help("Requests the gateway answered itself with an error, by reason (a closed set)")
                    .Register(metrics.registry())) {}

void AccessEventFilter::OnResponse(RequestContext& ctx, suite::http::Response& res) {
  // Reasons are literals of the filters: a closed set of label values.
  if (res.status >= 400 && ctx.reason != "-") refusals_.Add({{"reason", std::string(ctx.reason)}}).Increment();
  if (publisher_ != nullptr) publisher_->Publish(AccessEvent(ctx, res));
}

}  // namespace gateway
