#include "suite/http/host.hpp"

#include "suite/http/service.hpp"
#include "suite/observability/log.hpp"

namespace suite::http {

HostConfig HostConfig::FromEnv(core::Env& env, std::string service, std::uint16_t default_port) {
  HostConfig c;
  c.service = std::move(service);
  c.bind = env.Str("BIND_ADDRESS", "0.0.0.0");
  c.port = env.Port("PORT", default_port);
  c.internal_secret = env.Secret("INTERNAL_TOKEN_SECRET", 32);
  c.workers = static_cast<std::size_t>(env.Int("WORKER_THREADS", 4, 1, 256));
  c.drain = env.Millis("DRAIN_TIMEOUT_MS", 10'000, 0, 600'000);
  c.body_limit = static_cast<std::size_t>(env.Int("BODY_LIMIT_BYTES", 1024 * 1024, 1024, 1LL << 30));
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
  Server server(runtime_, {.body_limit = config_.body_limit}, metrics_, WithIdentity(router_, identity_));
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
