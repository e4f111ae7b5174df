#include "local_routes.hpp"

#include <algorithm>

#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "suite/core/ids.hpp"
#include "suite/observability/log.hpp"
#include "suite/core/version.hpp"

namespace gateway {

using suite::http::Request;
using suite::http::Response;

std::function<std::string()> RedisReadiness(const Config& config, std::vector<suite::redis::Client*> redis) {
  const bool needs_redis = config.rate_limit.enabled && config.rate_limit_fallback.mode == FailureMode::kClosed;
  return [redis = std::move(redis), needs_redis] {
    const bool up = std::all_of(redis.begin(), redis.end(), [](const auto* c) { return c->connected(); });
    return up ? "ok" : needs_redis ? "unavailable" : "degraded";
  };
}

void RegisterLocalRoutes(suite::http::Router& router, suite::http::Offload& workers,
                         const suite::service::Readiness& readiness, const Config& config) {
  suite::service::AddHealth(router, workers, "gateway", readiness);
  const auto& rl = config.rate_limit;
  const std::string per = " requests per " + std::to_string(rl.period.count()) + "s";
  const nlohmann::json tiers = {{"anonymous", rl.anonymous}, {"free", rl.free}, {"pro", rl.pro}, {"enterprise", rl.enterprise}};
  const nlohmann::json origins = config.cors.origins();
  router.Inline("GET", "/health/detailed", [&rl, origins](Request&) {
    return Response::Json(200, {{"status", "healthy"}, {"timestamp", suite::core::NowIso()}, {"version", suite::core::kVersion},
                                {"environment", "production"}, {"rate_limiting", rl.enabled ? "enabled" : "disabled"},
                                {"cors_origins", origins}});
  });
  router.Inline("GET", "/protected", [](Request& req) {
    const auto& id = req.identity;
    // The key's name, never the key: seed 001 echoed a prefix of the secret itself.
    return Response::Json(200, {{"message", "Access granted to protected resource"},
                                {"api_key", id.api_key_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(id.api_key_id)},
                                {"subject", id.subject},
                                {"timestamp", suite::core::NowIso()}});
  });
  // Seed 001's "limit" is the one that applies to the caller: its own tier's, in seed 001's words.
  router.Inline("GET", "/api/status", [&rl, per, tiers, origins](Request& req) {
    const std::string limit = std::to_string(rl.LimitFor(req.identity.tier)) + per;
    return Response::Json(200, {{"api_status", "running"}, {"authentication", "enabled"},
                                {"rate_limiting", {{"enabled", rl.enabled}, {"limit", limit}, {"tier", req.identity.tier},
                                                   {"tiers", tiers}}},
                                {"cors", {{"allowed_origins", origins}}},
                                {"timestamp", suite::core::NowIso()}});
  });
}

namespace {

// The docs page may run only what the gateway itself serves: its scripts and stylesheet, the
// description it fetches, the images Swagger UI draws as data: URIs. No inline script, no
// other origin, no framing, no form posts.
constexpr const char* kDocsPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

struct DocFile {
  const char* name;
  const char* type;
};
// A closed set, served by name: a path never reaches the filesystem.
constexpr DocFile kDocFiles[] = {{"index.html", "text/html; charset=utf-8"},
                                 {"docs.js", "text/javascript; charset=utf-8"},
                                 {"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
                                 {"swagger-ui.css", "text/css; charset=utf-8"},
                                 {"openapi.json", "application/json"}};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > 8u << 20) throw std::runtime_error(path + " is over 8 MiB");
  return data;
}

}  // namespace

void RegisterDocs(suite::http::Router& router, const std::string& dir) {
  if (dir.empty()) return;
  auto files = std::make_shared<std::map<std::string, Response>>();
  for (const auto& f : kDocFiles) {
    Response r;
    try {
      r.body = ReadFile(dir + "/" + f.name);
    } catch (const std::exception& e) {
      // Not a reason to refuse traffic: the API is served, the docs are not (and the log says why).
      suite::obs::Error("docs not served", {{"error", e.what()}});
      return;
    }
    r.Set("content-type", f.type);
    r.Set("content-security-policy", kDocsPolicy);
    r.Set("cache-control", "public, max-age=300");
    files->emplace(f.name, std::move(r));
  }
  router.Inline("GET", "/docs", [files](Request&) { return files->at("index.html"); });
  router.Inline("GET", "/docs/*", [files](Request& req) {
    const auto it = files->find(req.path.substr(std::string_view("/docs/").size()));
    if (it == files->end() || it->first == "openapi.json")
      throw suite::core::ApiError(suite::core::ErrorCode::kNotFound, "Not found");
    return it->second;
  });
  router.Inline("GET", "/openapi.json", [files](Request&) { return files->at("openapi.json"); });
}

}  // namespace gateway
