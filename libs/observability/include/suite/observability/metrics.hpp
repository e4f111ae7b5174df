#pragma once
/// The process's Prometheus registry plus the metrics every service exposes: requests and their
/// latency, connections, the process itself (process_*, read from /proc at scrape time) and
/// suite_build_info. No series carries the service's name: the scrape's `job` does. Every label
/// value comes from a closed set: a client can add requests, never series.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace suite::obs {

/// Why a connection was refused before any byte of it was read.
enum class Refusal { kMaxConnections, kPerClient, kFdExhausted };

/// How a request came (the `protocol` label, a closed set): HTTP/1.x, HTTP/2, gRPC, or a
/// WebSocket upgrade (counted once, by its 101).
enum class Protocol { kH1, kH2, kGrpc, kWs };
std::string_view ProtocolLabel(Protocol p);

/// Why the HTTP/2 server refused a stream or ended a connection (the `reason` label of
/// http2_refusals_total, a closed set): what an attacker tries, each bounded by a limit.
enum class H2Refusal {
  kRapidReset,         ///< streams reset by the client faster than the reset budget
  kSettingsFlood,      ///< SETTINGS frames past the control-frame budget
  kPingFlood,          ///< PING frames past it
  kControlFlood,       ///< PRIORITY, WINDOW_UPDATE and unknown frames past it
  kEmptyFrames,        ///< frames with nothing in them, in a row
  kContinuationFlood,  ///< a header block in more CONTINUATION frames than allowed
  kHeaderListTooLarge, ///< a header list past the limit (an HPACK bomb): 431
  kTooManyStreams,     ///< a stream past max_concurrent_streams (counting handlers still running)
  kStreamIdle,         ///< a header block left open past the header timeout
  kSlowRead,           ///< an answer held by a window at zero (or a socket not read) past the write timeout
  kProtocolError,      ///< the connection broke the protocol (nghttp2 ended it)
  kCount
};
std::string_view H2RefusalLabel(H2Refusal r);

/// The method label: one of the standard methods, else "other".
std::string_view MethodLabel(std::string_view method);
/// The status label: "100".."599", else "other".
std::string StatusLabel(int status);
/// The status class labels, and a status's index among them ("1xx".."5xx", else "other").
inline constexpr std::array<std::string_view, 6> kStatusClasses = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
inline std::size_t StatusClassIndex(int status) {
  return status >= 100 && status <= 599 ? static_cast<std::size_t>(status / 100 - 1) : kStatusClasses.size() - 1;
}
inline std::string_view StatusClass(int status) { return kStatusClasses[StatusClassIndex(status)]; }

class Metrics {
 public:
  explicit Metrics(const std::string& service);
  prometheus::Registry& registry() { return *registry_; }
  /// `route` is a route pattern declared in code (or "unmatched"), never the raw path; the
  /// method and the status are folded into closed sets here.
  void ObserveRequest(std::string_view method, const std::string& route, int status, double seconds,
                      Protocol protocol = Protocol::kH1);
  prometheus::Gauge& in_flight() { return *in_flight_; }
  prometheus::Gauge& connections() { return *connections_; }
  void ConnectionRefused(Refusal why) { refused_[static_cast<std::size_t>(why)]->Increment(); }
  void H2Refused(H2Refusal why) { h2_refused_[static_cast<std::size_t>(why)]->Increment(); }

  enum class Kind { kCounter, kGauge };
  using Labels = std::map<std::string, std::string>;
  /// A series whose value a component already keeps (a counter it increments, a state it
  /// knows): `read` runs at each scrape, so the hot path pays nothing. Series of one name share
  /// its help and kind; `read` must stay valid as long as this object (the host owns both).
  void Expose(const std::string& name, const std::string& help, Kind kind, Labels labels,
              std::function<double()> read);

  /// Text exposition format 0.0.4.
  std::string Render() const;

 private:
  struct Exposed {
    std::string help;
    Kind kind;
    std::vector<std::pair<Labels, std::function<double()>>> series;
  };
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Gauge* in_flight_;
  prometheus::Gauge* connections_;
  std::array<prometheus::Counter*, 3> refused_{};
  std::array<prometheus::Counter*, static_cast<std::size_t>(H2Refusal::kCount)> h2_refused_{};
  // The series of each (method, route, status) seen, found again without building label maps:
  // the label sets are closed, so this stays small.
  struct RequestSeries {
    std::string method, route;
    int status;
    Protocol protocol;
    prometheus::Counter* count;
    prometheus::Histogram* duration;
  };
  std::mutex series_mu_;
  std::unordered_map<std::size_t, std::vector<RequestSeries>> series_;  ///< by a hash of the three
  /// Names this instance in each thread's cache of series (metrics.cpp): the lock above is
  /// taken once per series and thread, not per request.
  const std::uint64_t id_;
  mutable std::mutex exposed_mu_;
  std::map<std::string, Exposed> exposed_;
};

}  // namespace suite::obs
