#include "suite/http/host.hpp"

#include "suite/http/service.hpp"
#include "suite/observability/log.hpp"

namespace suite::http {

ServerOptions ServerOptionsFromEnv(core::Env& env, std::size_t default_per_client) {
  ServerOptions o;
  o.body_limit = static_cast<std::size_t>(env.Int("BODY_LIMIT_BYTES", 1024 * 1024, 1024, 1LL << 30));
  o.header_timeout = env.Millis("HEADER_TIMEOUT_MS", 10'000, 100, 600'000);
  o.body_timeout = env.Millis("BODY_TIMEOUT_MS", 30'000, 100, 3'600'000);
  o.idle_timeout = env.Millis("IDLE_TIMEOUT_MS", 75'000, 100, 3'600'000);
  o.write_timeout = env.Millis("WRITE_TIMEOUT_MS", 30'000, 100, 3'600'000);
  o.max_connections = static_cast<std::size_t>(env.Int("MAX_CONNECTIONS", 10'000, 1, 1'000'000));
  o.max_connections_per_client =
      static_cast<std::size_t>(env.Int("MAX_CONNECTIONS_PER_CLIENT", static_cast<std::int64_t>(default_per_client),
                                       1, 1'000'000));
  return o;
}

HostConfig HostConfig::FromEnv(core::Env& env, std::string service, std::uint16_t default_port) {
  HostConfig c;
  c.service = std::move(service);
  c.bind = env.Str("BIND_ADDRESS", "0.0.0.0");
  c.port = env.Port("PORT", default_port);
  c.internal_secret = env.Secret("INTERNAL_TOKEN_SECRET", 32);
  c.workers = static_cast<std::size_t>(env.Int("WORKER_THREADS", 4, 1, 256));
  c.drain = env.Millis("DRAIN_TIMEOUT_MS", 10'000, 0, 600'000);
  // Behind the gateway every request comes from one address (its upstream pool): a per-client
  // cap here would refuse the gateway itself under load, so it defaults to the total cap.
  c.server = ServerOptionsFromEnv(env, ServerOptions{}.max_connections);
  c.json.max_bytes = c.server.body_limit;
  c.json.max_depth = static_cast<std::size_t>(env.Int("JSON_MAX_DEPTH", 64, 1, 1000));
  c.json.max_elements = static_cast<std::size_t>(env.Int("JSON_MAX_ELEMENTS", 100'000, 1, 100'000'000));
  return c;
}

ServiceHost::ServiceHost(HostConfig config)
    : config_(std::move(config)),
      metrics_(config_.service),
      workers_(std::make_unique<WorkerPool>(WorkerPool::Options{.threads = config_.workers})),
      identity_(config_.internal_secret) {
  obs::SetService(config_.service);
}

int ServiceHost::Run(std::function<nlohmann::json()> ready) {
  AddProbes(router_, metrics_, *workers_, config_.service, std::move(ready));
  Server server(runtime_, config_.server, metrics_, WithIdentity(router_, identity_));
  try {
    server.Listen({.address = config_.bind, .port = config_.port});
  } catch (const std::exception& e) {
    obs::Error("cannot start", {{"error", e.what()}});
    return 1;
  }
  const int rc = runtime_.Run(config_.drain);
  workers_->Stop();
  return rc;
}

}  // namespace suite::http
