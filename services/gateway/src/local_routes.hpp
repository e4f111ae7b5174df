#pragma once
#include "config.hpp"
#include "suite/http/router.hpp"

namespace gateway {
/// Seed 001's GET /health/detailed, /protected and /api/status (the pipeline authenticates first).
void RegisterLocalRoutes(suite::http::Router& router, const Config& config);
}  // namespace gateway
