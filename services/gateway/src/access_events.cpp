#include "access_events.hpp"

#include "routes.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/body_stream.hpp"
#include "suite/http/loop.hpp"

namespace gateway {

suite::audit::Event AccessEvent(const RequestContext& ctx, const suite::http::Response& res) {
  const auto& req = ctx.req();
  const auto& id = ctx.identity;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - req.start).count();
  const auto text = [](std::string_view s) {
    return s.empty() ? std::nullopt : std::optional<std::string>(std::in_place, s);
  };
  return {.service = "gateway",
          .request_id = req.request_id,
          .record = suite::audit::AccessRecord{
              .method = req.method,
              .route = ctx.route != nullptr ? ctx.route->prefix : "-",
              .path = req.path,  // never the query: it may carry an api_key
              .http_status = res.status,
              .reason = std::string(ctx.reason),
              .duration_ms = ms,
              .client = text(req.remote_ip),
              .subject = id.method == "none" ? std::nullopt : text(id.subject),
              .auth_method = id.method.empty() ? "none" : id.method,
              .key_id = text(id.api_key_id),
              .tier = id.tier.empty() ? "anonymous" : id.tier,
              // Streamed bodies: what passed upstream; an answer's declared length (a chunked
              // one's is not known when the event is made: 0).
              .bytes_in = static_cast<std::int64_t>(req.body_stream != nullptr ? req.body_stream->consumed()
                                                                               : req.body.size()),
              .bytes_out = static_cast<std::int64_t>(res.body_stream != nullptr ? res.body_stream->length().value_or(0)
                                                                                : res.body.size()),
              .user_agent = text(req.Header("user-agent")),
              .protocol = std::string(suite::obs::ProtocolLabel(suite::http::ProtocolOf(req, res.status)))}};
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
  // With the rest of this loop turn's events: one spool record and one stream entry.
  if (publisher_ != nullptr) publisher_->PublishOnLoop(AccessEvent(ctx, res), suite::http::ThisLoop());
}

}  // namespace gateway
