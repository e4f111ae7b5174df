#include "suite/service/host.hpp"

#include <algorithm>
#include <thread>

#include "suite/observability/log.hpp"
#include "suite/service/identity_guard.hpp"

namespace suite::service {

HostConfig HostConfig::FromEnv(core::Env& env, std::string service, std::uint16_t default_port) {
  HostConfig c;
  c.service = std::move(service);
  c.bind = env.Str("BIND_ADDRESS", "0.0.0.0");
  c.port = env.Port("PORT", default_port);
  c.internal_secret = env.Secret("INTERNAL_TOKEN_SECRET", 32);
  c.workers = static_cast<std::size_t>(env.Int("WORKER_THREADS", 4, 1, 256));
  c.loops = EventLoopsFromEnv(env);
  c.drain = env.Millis("DRAIN_TIMEOUT_MS", 10'000, 0, 600'000);
  // Behind the gateway every request comes from one address (its upstream pool): a per-client
  // cap here would refuse the gateway itself under load, so it defaults to the total cap.
  c.server = http::ServerOptionsFromEnv(env, http::ServerOptions{}.max_connections);
  c.body_limit_max = static_cast<std::size_t>(env.Int("BODY_LIMIT_MAX_BYTES", 100LL * 1024 * 1024, 1024, 1LL << 30));
  if (c.body_limit_max < c.server.body_limit) c.body_limit_max = c.server.body_limit;
  c.json.max_bytes = c.body_limit_max;
  c.json.max_depth = static_cast<std::size_t>(env.Int("JSON_MAX_DEPTH", 64, 1, 1000));
  c.json.max_elements = static_cast<std::size_t>(env.Int("JSON_MAX_ELEMENTS", 100'000, 1, 100'000'000));
  return c;
}

std::size_t EventLoopsFromEnv(core::Env& env) {
  if (env.Str("EVENT_LOOPS", "1") == "auto") return std::clamp(std::thread::hardware_concurrency(), 1u, 64u);
  return static_cast<std::size_t>(env.Int("EVENT_LOOPS", 1, 1, 64));
}

Host::Host(HostConfig config)
    : config_(std::move(config)), runtime_(config_.loops), metrics_(config_.service), workers_({.threads = config_.workers}) {
  obs::SetService(config_.service);
  using Kind = obs::Metrics::Kind;
  metrics_.Expose("worker_pool_threads", "Threads for blocking work (database, password hashing)", Kind::kGauge, {},
                  [this] { return static_cast<double>(workers_.threads()); });
  metrics_.Expose("worker_pool_queued", "Blocking work waiting for a thread", Kind::kGauge, {},
                  [this] { return static_cast<double>(workers_.queued()); });
  metrics_.Expose("worker_pool_rejected_total", "Blocking work refused (queue full or waited too long): 503",
                  Kind::kCounter, {}, [this] { return static_cast<double>(workers_.rejected()); });
}

Host::~Host() {
  workers_.Stop();
  StopParts();
}

namespace {
// Binds each listener now; a failure is logged and makes Run() return 1.
http::Server& Listen(http::Server& server, const std::vector<http::Listener>& listeners, bool& failed) {
  for (const auto& l : listeners) {
    try {
      server.Listen(l);
    } catch (const std::exception& e) {
      obs::Error("cannot start", {{"error", e.what()}});
      failed = true;
    }
  }
  return server;
}
}  // namespace

http::Server& Host::Serve(const std::vector<http::Listener>& listeners, http::ServerOptions options,
                          http::HeadHandler handler) {
  return Listen(Own<http::Server>(loops(), std::move(options), metrics_, std::move(handler)), listeners, failed_);
}

void Host::ServeApi() {
  identity_ = std::make_unique<security::IdentitySigner>(config_.internal_secret);
  AddProbes(router_, metrics_, workers_, config_.service, readiness_);
  // The server takes bodies up to the most any request may bring; each is read under its own
  // cap (WithIdentity: what the gateway admitted it for, else BODY_LIMIT_BYTES).
  auto options = config_.server;
  options.body_limit = config_.body_limit_max;
  Serve({{.address = config_.bind, .port = config_.port}}, options,
        WithIdentity(router_, *identity_, config_.server.body_limit, config_.body_limit_max));
}

void Host::ServeAdmin(std::uint16_t port) {
  AddProbes(admin_, metrics_, workers_, config_.service, readiness_);
  const http::ServerOptions options;
  Serve({{.address = config_.bind, .port = port}}, options, admin_.Serve(options.body_limit));
}

int Host::Run() {
  if (failed_) {
    StopParts();
    return 1;
  }
  const int rc = runtime_.Run(config_.drain);
  workers_.Stop();  // what was queued runs (its answers go nowhere: the loop has stopped)
  StopParts();
  return rc;
}

void Host::StopParts() {
  for (auto it = parts_.rbegin(); it != parts_.rend(); ++it)
    if (it->stop) it->stop();
  while (!parts_.empty()) parts_.pop_back();
}

}  // namespace suite::service
