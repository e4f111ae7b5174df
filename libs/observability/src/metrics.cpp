#include "suite/observability/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace suite::obs {

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
}

void Metrics::ObserveRequest(const std::string& method, const std::string& route, int status,
                             double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  requests_
      ->Add({{"service", service_},
             {"method", method},
             {"route", route},
             {"status_code", std::to_string(status)}})
      .Increment();
  duration_->Add({{"service", service_}, {"method", method}, {"route", route}}, kBuckets)
      .Observe(seconds);
}

std::string Metrics::Render() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

}  // namespace suite::obs
