#include "suite/observability/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace suite::obs {

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                "PATCH",   "OPTIONS", "TRACE", "CONNECT"};
  for (auto m : kKnown)
    if (m == method) return m;
  return "other";
}

std::string StatusLabel(int status) {
  return status >= 100 && status <= 599 ? std::to_string(status) : std::string("other");
}

Metrics::Metrics(const std::string& service)
    : registry_(std::make_shared<prometheus::Registry>()), service_(service) {
  requests_ = &prometheus::BuildCounter()
                   .Name("http_requests_total")
                   .Help("HTTP requests served, by method, route and status")
                   .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("http_request_duration_seconds")
                   .Help("HTTP request latency, by method and route")
                   .Register(*registry_);
  in_flight_ = &prometheus::BuildGauge()
                    .Name("http_requests_in_progress")
                    .Help("HTTP requests being served")
                    .Register(*registry_)
                    .Add({{"service", service_}});
  connections_ = &prometheus::BuildGauge()
                      .Name("http_connections_open")
                      .Help("Client connections accepted and not yet closed (TLS handshakes included)")
                      .Register(*registry_)
                      .Add({{"service", service_}});
  auto& refused = prometheus::BuildCounter()
                      .Name("http_connections_refused_total")
                      .Help("Connections closed at accept: max_connections, per_client cap, fd_exhausted")
                      .Register(*registry_);
  refused_[static_cast<std::size_t>(Refusal::kMaxConnections)] =
      &refused.Add({{"service", service_}, {"reason", "max_connections"}});
  refused_[static_cast<std::size_t>(Refusal::kPerClient)] =
      &refused.Add({{"service", service_}, {"reason", "per_client"}});
  refused_[static_cast<std::size_t>(Refusal::kFdExhausted)] =
      &refused.Add({{"service", service_}, {"reason", "fd_exhausted"}});
}

void Metrics::ObserveRequest(std::string_view method, const std::string& route, int status,
                             double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  const std::string m(MethodLabel(method));
  const std::string& r = route.empty() ? std::string("unmatched") : route;
  requests_->Add({{"service", service_}, {"method", m}, {"route", r}, {"status_code", StatusLabel(status)}})
      .Increment();
  duration_->Add({{"service", service_}, {"method", m}, {"route", r}}, kBuckets).Observe(seconds);
}

std::string Metrics::Render() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

}  // namespace suite::obs
