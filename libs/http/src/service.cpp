#include "suite/http/service.hpp"

#include "suite/core/ids.hpp"
#include "suite/observability/log.hpp"

namespace suite::http {

void AddHealth(Router& router, WorkerPool& pool, std::string service, std::function<nlohmann::json()> ready) {
  router.Inline("GET", "/health", [service](Request&) {
    return Response::Json(200, {{"status", "healthy"}, {"service", service},
                                {"timestamp", core::NowIso()}, {"version", "0.1.0"}});
  });
  router.Blocking("GET", "/ready", pool, [ready](Request&) {
    auto checks = ready();
    bool ok = true;
    // "degraded": the service still serves without it (the gateway's local limits).
    for (auto& [k, v] : checks.items()) ok = ok && (v == "ok" || v == "degraded");
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

void AddProbes(Router& router, obs::Metrics& metrics, WorkerPool& pool, std::string service,
               std::function<nlohmann::json()> ready) {
  AddHealth(router, pool, std::move(service), std::move(ready));
  AddMetrics(router, metrics);
}

Handler WithIdentity(const Router& router, const security::IdentitySigner& verifier) {
  return [&router, &verifier](RequestPtr req, Reply reply) {
    if (req->path != "/health" && req->path != "/ready" && req->path != "/metrics") {
      try {
        req->identity = verifier
                            .Verify(req->Header(security::kIdentityHeader),
                                    {req->request_id, req->method, req->path})
                            .ToJson();
      } catch (const security::JwtError& e) {
        obs::Warn("request without a valid internal identity",
                  {{"request_id", req->request_id}, {"reason", e.what()}, {"client", req->remote_ip}});
        req->route = "unauthenticated";
        reply(Response::Error(core::ErrorCode::kUnauthenticated,
                              "Requests must come through the gateway", req->request_id));
        return;
      }
    }
    router.Dispatch(std::move(req), std::move(reply));
  };
}

security::Identity IdentityOf(const Request& req) { return security::Identity::FromJson(req.identity); }

}  // namespace suite::http
