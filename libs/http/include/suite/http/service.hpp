#pragma once
/// What every service serves and checks: GET /health, /ready, /metrics, and the internal
/// identity on everything else.
#include <functional>
#include <string>

#include "suite/http/router.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/security/identity.hpp"

namespace suite::http {

/// GET /health and GET /ready. `ready` may block (it pings dependencies): it runs on the pool.
/// It names each dependency's state: "ok", "degraded" (served without it: still ready) or
/// anything else (503 not_ready).
void AddHealth(Router& router, WorkerPool& pool, std::string service, std::function<nlohmann::json()> ready);
/// GET /metrics (Prometheus text format).
void AddMetrics(Router& router, obs::Metrics& metrics);
/// Both of the above.
void AddProbes(Router& router, obs::Metrics& metrics, WorkerPool& pool, std::string service,
               std::function<nlohmann::json()> ready);

/// Routes a request after verifying X-Internal-Identity (except the probes); stores the
/// identity in `req->identity`. Without a valid one: 401 in the envelope.
Handler WithIdentity(const Router& router, const security::IdentitySigner& verifier);

/// The identity a guarded handler runs as.
security::Identity IdentityOf(const Request& req);

}  // namespace suite::http
