#include "local_routes.hpp"

#include "suite/core/ids.hpp"
#include "suite/http/service.hpp"

namespace gateway {

using suite::http::Request;
using suite::http::Response;

void RegisterLocalRoutes(suite::http::Router& router, const Config& config) {
  const auto& rl = config.rate_limit;
  const std::string per = " requests per " + std::to_string(rl.period.count()) + "s";
  const std::string limit = rl.single ? std::to_string(rl.anonymous) + per : "by tier" + per;
  const nlohmann::json tiers = {{"anonymous", rl.anonymous}, {"free", rl.free}, {"pro", rl.pro}, {"enterprise", rl.enterprise}};
  const nlohmann::json origins = config.cors.origins();
  router.Inline("GET", "/health/detailed", [&rl, origins](Request&) {
    return Response::Json(200, {{"status", "healthy"}, {"timestamp", suite::core::NowIso()}, {"version", "0.1.0"},
                                {"environment", "production"}, {"rate_limiting", rl.enabled ? "enabled" : "disabled"},
                                {"cors_origins", origins}});
  });
  router.Inline("GET", "/protected", [](Request& req) {
    const auto id = suite::http::IdentityOf(req);
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
