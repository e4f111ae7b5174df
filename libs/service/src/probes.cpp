#include "suite/service/probes.hpp"

#include "suite/core/ids.hpp"
#include "suite/core/version.hpp"

namespace suite::service {

using http::Request;
using http::Response;
using http::Router;

void Readiness::Add(std::string dependency, std::function<std::string()> probe) {
  probes_.emplace_back(std::move(dependency), std::move(probe));
}

void Readiness::Required(std::string dependency, std::function<bool()> up) {
  Add(std::move(dependency), [up = std::move(up)]() -> std::string { return up() ? "ok" : "unavailable"; });
}

void Readiness::Optional(std::string dependency, std::function<bool()> up) {
  Add(std::move(dependency), [up = std::move(up)]() -> std::string { return up() ? "ok" : "degraded"; });
}

nlohmann::json Readiness::Check() const {
  auto checks = nlohmann::json::object();
  for (const auto& [name, probe] : probes_) checks[name] = probe();
  return checks;
}

bool Readiness::Ready(const nlohmann::json& checks) {
  // "degraded": the process still serves without it (the gateway's local limits).
  for (const auto& [name, state] : checks.items())
    if (state != "ok" && state != "degraded") return false;
  return true;
}

void AddHealth(Router& router, http::Offload& pool, std::string service, const Readiness& ready) {
  router.Inline("GET", "/health", [service](Request&) {
    return Response::Json(200, {{"status", "healthy"}, {"service", service},
                                {"timestamp", core::NowIso()}, {"version", core::kVersion}});
  });
  router.Blocking("GET", "/ready", pool, [&ready](Request&) {
    auto checks = ready.Check();
    const bool ok = Readiness::Ready(checks);
    return Response::Json(ok ? 200 : 503, {{"status", ok ? "ready" : "not_ready"}, {"checks", checks}});
  });
}

void AddMetrics(Router& router, obs::Metrics& metrics) {
  router.Inline("GET", "/metrics", [&metrics](Request&) {
    Response r;
    r.body = metrics.Render();
    r.Set("content-type", "text/plain; version=0.0.4");
    return r;
  });
}

void AddProbes(Router& router, obs::Metrics& metrics, http::Offload& pool, std::string service,
               const Readiness& ready) {
  AddHealth(router, pool, std::move(service), ready);
  AddMetrics(router, metrics);
}

}  // namespace suite::service
