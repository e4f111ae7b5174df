#include "local_routes.hpp"

#include "suite/core/ids.hpp"
#include "suite/core/version.hpp"
#include "suite/service/identity_guard.hpp"

namespace gateway {

using suite::http::Request;
using suite::http::Response;

std::function<std::string()> RedisReadiness(const Config& config, const suite::redis::Client& redis) {
  const bool needs_redis = config.rate_limit.enabled && config.rate_limit_fallback.mode == FailureMode::kClosed;
  return [&redis, needs_redis] { return redis.connected() ? "ok" : needs_redis ? "unavailable" : "degraded"; };
}

void RegisterLocalRoutes(suite::http::Router& router, suite::http::Offload& workers,
                         const suite::service::Readiness& readiness, const Config& config) {
  suite::service::AddHealth(router, workers, "gateway", readiness);
  const auto& rl = config.rate_limit;
  const std::string per = " requests per " + std::to_string(rl.period.count()) + "s";
  const std::string limit = rl.single ? std::to_string(rl.anonymous) + per : "by tier" + per;
  const nlohmann::json tiers = {{"anonymous", rl.anonymous}, {"free", rl.free}, {"pro", rl.pro}, {"enterprise", rl.enterprise}};
  const nlohmann::json origins = config.cors.origins();
  router.Inline("GET", "/health/detailed", [&rl, origins](Request&) {
    return Response::Json(200, {{"status", "healthy"}, {"timestamp", suite::core::NowIso()}, {"version", suite::core::kVersion},
                                {"environment", "production"}, {"rate_limiting", rl.enabled ? "enabled" : "disabled"},
                                {"cors_origins", origins}});
  });
  router.Inline("GET", "/protected", [](Request& req) {
    const auto id = suite::service::IdentityOf(req);
    // The key's name, never the key: seed 001 echoed a prefix of the secret itself.
    return Response::Json(200, {{"message", "Access granted to protected resource"},
                                {"api_key", id.api_key_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(id.api_key_id)},
                                {"subject", id.subject},
                                {"timestamp", suite::core::NowIso()}});
  });
  router.Inline("GET", "/api/status", [&rl, limit, tiers, origins](Request&) {
    return Response::Json(200, {{"api_status", "running"}, {"authentication", "enabled"},
                                {"rate_limiting", {{"enabled", rl.enabled}, {"limit", limit}, {"tiers", tiers}}},
                                {"cors", {{"allowed_origins", origins}}},
                                {"timestamp", suite::core::NowIso()}});
  });
}

}  // namespace gateway
