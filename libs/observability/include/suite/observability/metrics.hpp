#pragma once
/// The process's Prometheus registry plus the request metrics every service exposes.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace suite::obs {

class Metrics {
 public:
  explicit Metrics(const std::string& service);
  prometheus::Registry& registry() { return *registry_; }
  /// `route` is the matched route pattern, never the raw path (bounded label values).
  void ObserveRequest(const std::string& method, const std::string& route, int status,
                      double seconds);
  prometheus::Gauge& in_flight() { return *in_flight_; }
  /// Text exposition format 0.0.4.
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Gauge* in_flight_;
  std::string service_;
};

}  // namespace suite::obs
