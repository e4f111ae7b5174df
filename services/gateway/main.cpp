// gateway: the TLS edge. Authenticates, rate-limits and forwards to the services.
#include "gateway.hpp"
#include "local_routes.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/server.hpp"
#include "suite/http/service.hpp"
#include "suite/observability/log.hpp"

#include <cstring>
#include <iostream>

namespace {
// gateway --check-config FILE: validates the file alone (no secrets needed), lists every error
// with its JSON path, exits 2 on any.
int CheckConfig(const char* path) {
  std::vector<std::string> errors;
  gateway::FileConfig::Load(path, errors);
  for (const auto& e : errors) std::cerr << e << "\n";
  if (!errors.empty()) return 2;
  std::cout << path << ": ok\n";
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--check-config") == 0) return CheckConfig(argv[2]);
  if (argc != 1) {
    std::cerr << "usage: gateway [--check-config FILE]\n";
    return 2;
  }
  suite::core::Env env("gateway");
  const auto shared_config = std::make_shared<const gateway::Config>(gateway::Config::FromEnv(env));
  const gateway::Config& config = *shared_config;
  env.Finish();
  suite::obs::SetService("gateway");

  suite::http::Runtime runtime;
  suite::obs::Metrics metrics("gateway");
  suite::http::WorkerPool probes({.threads = 1});
  suite::redis::Client redis(runtime.io(), config.redis, "ratelimit");
  redis.Start();
  // Without Redis the gateway still serves (limits by the failure mode): not a reason to leave
  // the load balancer, unless the mode is to refuse.
  const bool needs_redis = config.rate_limit.enabled && config.rate_limit_fallback.mode == gateway::FailureMode::kClosed;
  auto ready = [&] {
    const char* redis_state = redis.connected() ? "ok" : needs_redis ? "unavailable" : "degraded";
    return nlohmann::json{{"redis", redis_state}};
  };
  // Public: health and readiness only. Metrics (routes, counts, upstream errors) are served on
  // METRICS_PORT, which the edge does not expose.
  suite::http::Router local, admin;
  suite::http::AddHealth(local, probes, "gateway", ready);
  suite::http::AddProbes(admin, metrics, probes, "gateway", ready);
  gateway::RegisterLocalRoutes(local, config);
  gateway::Gateway gw(shared_config, runtime.io(), local, redis, metrics);
  suite::http::ServerOptions options = config.server;
  // Seed 001's security headers, on every response.
  options.extra_headers = {
      {"x-content-type-options", "nosniff"},
      {"x-frame-options", "DENY"},
      {"x-xss-protection", "1; mode=block"},
      {"strict-transport-security", "max-age=31536000; includeSubDomains"},
      {"referrer-policy", "strict-origin-when-cross-origin"},
      {"permissions-policy", "geolocation=(), microphone=(), camera=()"},
      {"cache-control", "no-store"},
      // The API answers JSON: nothing in it may load, run or be framed. (The docs page of the
      // deployment issue gets a policy of its own.)
      {"content-security-policy", "default-src 'none'; frame-ancestors 'none'"},
  };
  suite::http::Server server(runtime, options, metrics, gw.Handler());
  suite::http::Server admin_server(runtime, {}, metrics,
                                   [&](suite::http::RequestPtr req, suite::http::Reply reply) { admin.Dispatch(req, reply); });
  try {
    server.Listen({.address = config.bind, .port = config.https_port,
                   .tls = suite::http::TlsFiles{config.tls_cert_file, config.tls_key_file}});
    if (config.http_port != 0) server.Listen({.address = config.bind, .port = config.http_port});
    admin_server.Listen({.address = config.bind, .port = config.metrics_port});
  } catch (const std::exception& e) {
    suite::obs::Error("cannot start", {{"error", e.what()}});
    return 1;
  }
  // SIGHUP: the file and the certificate again; a bad file is refused (logged), the old one stays.
  runtime.OnReload([&] {
    suite::core::Env again("gateway");
    auto next = std::make_shared<const gateway::Config>(gateway::Config::FromEnv(again));
    if (!again.errors().empty()) {
      for (const auto& e : again.errors()) suite::obs::Error("configuration not reloaded", {{"error", e}});
    } else {
      gw.Reload(std::move(next));
    }
    server.ReloadTls();
  });
  const int rc = runtime.Run(config.drain);
  redis.Stop();  // answers what is pending while the pipeline still exists
  probes.Stop();
  return rc;
}
