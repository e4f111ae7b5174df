#pragma once
/// The process frame every service's `main` uses: runtime, metrics, worker pool, probes, the
/// identity guard, the servers, and the lifetimes and stop order of everything the service
/// builds on them. A `main` reads its configuration, builds its parts with Own(), says what it
/// serves, and calls Run().
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "suite/core/config.hpp"
#include "suite/core/json.hpp"
#include "suite/http/router.hpp"
#include "suite/http/server.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/security/identity.hpp"
#include "suite/service/probes.hpp"
#include "suite/service/runtime.hpp"
#include "suite/service/worker_pool.hpp"

namespace suite::service {

/// An internal service's environment: PORT, BIND_ADDRESS, INTERNAL_TOKEN_SECRET, WORKER_THREADS,
/// EVENT_LOOPS, DRAIN_TIMEOUT_MS, JSON_MAX_DEPTH, JSON_MAX_ELEMENTS and the server's limits
/// (http::ServerOptionsFromEnv).
struct HostConfig {
  std::string service;
  std::string bind = "0.0.0.0";
  std::uint16_t port = 0;
  std::string internal_secret;   ///< verifies the gateway's identity tokens (ServeApi)
  std::size_t workers = 4;       ///< blocking work: database, password hashing, /ready
  std::size_t loops = 1;         ///< event loops, one thread each (suite/http/loop.hpp)
  std::chrono::milliseconds drain{10'000};
  http::ServerOptions server;    ///< limits, timeouts and connection caps
  core::JsonLimits json;         ///< request bodies: max_bytes = body_limit_max
  /// The most a request may bring when the gateway admitted it for that much (its tier's cap,
  /// in the identity token): BODY_LIMIT_MAX_BYTES, 100 MiB by default (seed 003's enterprise
  /// tier). A request that says nothing gets server.body_limit (BODY_LIMIT_BYTES, 1 MiB).
  std::size_t body_limit_max = 100 * 1024 * 1024;

  static HostConfig FromEnv(core::Env& env, std::string service, std::uint16_t default_port);
};

/// EVENT_LOOPS: 1 to 64, or "auto" (one per core); 1 when unset.
std::size_t EventLoopsFromEnv(core::Env& env);

class Host {
 public:
  explicit Host(HostConfig config);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  Runtime& runtime() { return runtime_; }
  /// Loop 0: the control plane's, and the only one when there is one.
  boost::asio::io_context& io() { return runtime_.io(); }
  const http::Loops& loops() const { return runtime_.loops(); }
  obs::Metrics& metrics() { return metrics_; }
  WorkerPool& workers() { return workers_; }
  /// The routes ServeApi() serves.
  http::Router& router() { return router_; }
  /// What /ready reports; add each dependency the process cannot serve without.
  Readiness& readiness() { return readiness_; }
  const HostConfig& config() const { return config_; }

  /// Builds a part the host owns until Run() ends. Its lifecycle follows the members it has:
  /// `ExportMetrics(obs::Metrics&)` at once (what it counts appears in /metrics), `Drain()` when
  /// the stop begins (take no new work), `Drained()` awaited before the loop stops (bounded by
  /// the drain timeout), `Stop()` once the loop has stopped. Parts stop, then are destroyed, in
  /// the reverse order of Own(): what was built on another goes first.
  template <class T, class... Args>
  T& Own(Args&&... args) {
    auto part = std::make_shared<T>(std::forward<Args>(args)...);
    T& ref = *part;
    std::function<void()> drain, stop;
    std::function<bool()> drained;
    if constexpr (requires { ref.Drain(); }) drain = [&ref] { ref.Drain(); };
    if constexpr (requires { { ref.Drained() } -> std::convertible_to<bool>; }) drained = [&ref] { return ref.Drained(); };
    if constexpr (requires { ref.Stop(); }) stop = [&ref] { ref.Stop(); };
    if constexpr (requires { ref.ExportMetrics(metrics_); }) ref.ExportMetrics(metrics_);
    if (drain || drained) runtime_.OnStop(std::move(drain), std::move(drained));
    parts_.push_back({std::move(part), std::move(stop)});
    return ref;
  }

  /// Serves `handler` on each listener (bound now: a busy port fails Run() with exit code 1),
  /// on every loop (one SO_REUSEPORT acceptor each).
  http::Server& Serve(const std::vector<http::Listener>& listeners, http::ServerOptions options,
                      http::HeadHandler handler);
  /// An internal service's API: router() behind the identity guard, with the probes, on
  /// config().bind:port.
  void ServeApi();
  /// /health, /ready and /metrics alone, on a port the edge does not expose (the gateway's).
  void ServeAdmin(std::uint16_t port);
  /// `fn` runs on each SIGHUP, on an I/O thread.
  void OnReload(std::function<void()> fn) { runtime_.OnReload(std::move(fn)); }

  /// Runs until SIGTERM/SIGINT: servers stop accepting and finish what is in flight, parts
  /// drain, the loop stops, the worker pool finishes its queue, then the parts stop and go in
  /// reverse order. Returns the exit code.
  int Run();

 private:
  struct Part {
    std::shared_ptr<void> object;
    std::function<void()> stop;
  };
  void StopParts();

  HostConfig config_;
  Runtime runtime_;
  obs::Metrics metrics_;
  WorkerPool workers_;
  http::Router router_, admin_;
  Readiness readiness_;
  std::unique_ptr<security::IdentitySigner> identity_;  ///< ServeApi only
  std::vector<Part> parts_;
  bool failed_ = false;  ///< a listener could not start
};

}  // namespace suite::service
