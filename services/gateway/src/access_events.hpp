#pragma once
/// Every answer the gateway gives, refusals included, as an access event on the audit stream
/// (type "request": method, route, status, identity, key, tier, client, duration, bytes, request
/// id, the reason of a refusal), and counted: gateway_refusals_total{reason}. First in the
/// chain, so that its OnResponse sees every answer last.
#include <prometheus/counter.h>

#include <array>
#include <map>
#include <string>

#include "context.hpp"
#include "suite/audit/publisher.hpp"
#include "suite/observability/metrics.hpp"

namespace gateway {

/// The access event of one exchange (its event_id and timestamp are the publisher's to give).
suite::audit::Event AccessEvent(const RequestContext& ctx, const suite::http::Response& res);

class AccessEventFilter final : public ResponseFilter {
 public:
  /// `publisher` may be null: counted only.
  AccessEventFilter(suite::audit::Publisher* publisher, suite::obs::Metrics& metrics);
  void OnResponse(RequestContext& ctx, suite::http::Response& res) override;

 private:
  suite::audit::Publisher* publisher_;
  prometheus::Family<prometheus::Counter>& refusals_;
  /// gateway_requests_total{tier, status_class}: every series from the start, at zero.
  std::array<std::array<prometheus::Counter*, suite::obs::kStatusClasses.size()>, 5> by_tier_{};
};

}  // namespace gateway
