// gateway: the TLS edge. Authenticates, rate-limits and forwards to the services.
#include <cstring>
#include <iostream>

#include "gateway.hpp"
#include "local_routes.hpp"

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--check-config") == 0) return gateway::CheckConfigFile(argv[2]);
  if (argc != 1) return (std::cerr << "usage: gateway [--check-config FILE]\n", 2);
  suite::core::Env env("gateway");
  const auto config = std::make_shared<const gateway::Config>(gateway::Config::FromEnv(env));
  env.Finish();

  suite::service::Host host(config->Host());
  // The rate limit's Redis: a connection per event loop, so a request never leaves its loop.
  std::vector<suite::redis::Client*> redis;
  for (std::size_t i = 0; i < host.loops().size(); ++i)
    redis.push_back(&host.Own<suite::redis::Client>(*host.loops()[i], config->redis,
                                                    i == 0 ? "ratelimit" : "ratelimit-" + std::to_string(i)));
  host.readiness().Add("redis", gateway::RedisReadiness(*config, redis));
  // Public: /health, /ready, /health/detailed, /protected, /api/status, /docs, /openapi.json.
  // /metrics is served on METRICS_PORT, which the edge does not expose.
  gateway::RegisterLocalRoutes(host.router(), host.workers(), host.readiness(), *config);
  gateway::RegisterDocs(host.router(), config->docs_dir);
  auto& gw = host.Own<gateway::Gateway>(config, host.loops(), host.router(), redis, host.metrics(), host.workers());
  auto& edge = host.Serve(config->Listeners(), config->server, gw.Handler());
  host.ServeAdmin(config->metrics_port);
  // SIGHUP: the file and the certificate again; a bad file is refused (logged), the old one stays.
  host.OnReload([&gw, &edge] {
    if (auto next = gateway::Config::Reread()) gw.Reload(std::move(next));
    edge.ReloadTls();
  });
  for (auto* r : redis) r->Start();
  return host.Run();
}
