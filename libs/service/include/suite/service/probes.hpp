#pragma once
/// What every process serves for its orchestrator and its scraper: GET /health, /ready and
/// /metrics.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "suite/http/router.hpp"
#include "suite/observability/metrics.hpp"

namespace suite::service {

/// The dependencies /ready reports. Each probe names its dependency's state: "ok", "degraded"
/// (the process serves without it: still ready) or anything else (not ready).
class Readiness {
 public:
  void Add(std::string dependency, std::function<std::string()> probe);
  /// A dependency the process cannot serve without: "ok" or "unavailable".
  void Required(std::string dependency, std::function<bool()> up);
  /// One it serves without (the work waits, as audit events in a publisher's buffer, or is
  /// done later): "ok" or "degraded". A blip of it must not take every replica out of service.
  void Optional(std::string dependency, std::function<bool()> up);
  /// {"database": "ok", "redis": "degraded"}; the probes may block (they ping).
  nlohmann::json Check() const;
  static bool Ready(const nlohmann::json& checks);

 private:
  std::vector<std::pair<std::string, std::function<std::string()>>> probes_;
};

/// GET /health (always 200) and GET /ready (200 or 503 with each dependency's state). The
/// readiness probes may block: they run on `pool`.
void AddHealth(http::Router& router, http::Offload& pool, std::string service, const Readiness& ready);
/// GET /metrics (Prometheus text format).
void AddMetrics(http::Router& router, obs::Metrics& metrics);
/// Both of the above.
void AddProbes(http::Router& router, obs::Metrics& metrics, http::Offload& pool, std::string service,
               const Readiness& ready);

}  // namespace suite::service
