#pragma once
#include <functional>
#include <string>

#include "config.hpp"
#include "suite/http/router.hpp"
#include "suite/redis/client.hpp"
#include "suite/service/probes.hpp"

namespace gateway {
/// GET /health (open) and seed 001's GET /health/detailed, /protected and /api/status (the
/// chain authenticates those first).
void RegisterLocalRoutes(suite::http::Router& router, suite::http::Offload& workers,
                         const suite::service::Readiness& readiness, const Config& config);

/// GET /docs (Swagger UI), its files under /docs/, and GET /openapi.json, read from `dir` at
/// start (deploy/docs/build.mjs makes them), each with the docs page's own CSP. Nothing when
/// `dir` is empty, or (logged) when a file cannot be read.
void RegisterDocs(suite::http::Router& router, const std::string& dir);

/// Redis as /ready sees it. Without Redis the gateway still serves (limits by the failure mode):
/// "degraded", not a reason to leave the load balancer, unless the mode is to refuse.
/// "ok" while every one of the rate limit's connections (one per loop) is up.
std::function<std::string()> RedisReadiness(const Config& config, std::vector<suite::redis::Client*> redis);
}  // namespace gateway
