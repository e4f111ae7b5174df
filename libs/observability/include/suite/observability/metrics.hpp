#pragma once
/// The process's Prometheus registry plus the request and connection metrics every service
/// exposes. Every label value comes from a closed set: a client can add requests, never series.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

namespace suite::obs {

/// Why a connection was refused before any byte of it was read.
enum class Refusal { kMaxConnections, kPerClient, kFdExhausted };

/// The method label: one of the standard methods, else "other".
std::string_view MethodLabel(std::string_view method);
/// The status label: "100".."599", else "other".
std::string StatusLabel(int status);

class Metrics {
 public:
  explicit Metrics(const std::string& service);
  prometheus::Registry& registry() { return *registry_; }
  /// `route` is a route pattern declared in code (or "unmatched"), never the raw path; the
  /// method and the status are folded into closed sets here.
  void ObserveRequest(std::string_view method, const std::string& route, int status, double seconds);
  prometheus::Gauge& in_flight() { return *in_flight_; }
  prometheus::Gauge& connections() { return *connections_; }
  void ConnectionRefused(Refusal why) { refused_[static_cast<std::size_t>(why)]->Increment(); }
  /// Text exposition format 0.0.4.
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Gauge* in_flight_;
  prometheus::Gauge* connections_;
  std::array<prometheus::Counter*, 3> refused_{};
  std::string service_;
};

}  // namespace suite::obs
