#pragma once
/// The parts every internal service shares: its environment (PORT, BIND_ADDRESS,
/// INTERNAL_TOKEN_SECRET, WORKER_THREADS, DRAIN_TIMEOUT_MS, JSON_MAX_DEPTH, JSON_MAX_ELEMENTS and
/// the server's limits, see ServerOptionsFromEnv), runtime,
/// metrics, worker pool, router, probes and identity guard.
#include <memory>
#include <string>

#include "suite/core/config.hpp"
#include "suite/core/json.hpp"
#include "suite/http/router.hpp"
#include "suite/http/server.hpp"
#include "suite/security/identity.hpp"

namespace suite::http {

struct HostConfig {
  std::string service;
  std::string bind = "0.0.0.0";
  std::uint16_t port = 0;
  std::string internal_secret;
  std::size_t workers = 4;
  std::chrono::milliseconds drain{10'000};
  ServerOptions server;          ///< limits, timeouts and connection caps
  core::JsonLimits json;         ///< request bodies: max_bytes = the body limit

  static HostConfig FromEnv(core::Env& env, std::string service, std::uint16_t default_port);
};

class ServiceHost {
 public:
  explicit ServiceHost(HostConfig config);
  Runtime& runtime() { return runtime_; }
  obs::Metrics& metrics() { return metrics_; }
  WorkerPool& workers() { return *workers_; }
  Router& router() { return router_; }
  const HostConfig& config() const { return config_; }
  /// Adds the probes, listens, runs until SIGTERM and the drain; returns the exit code.
  int Run(std::function<nlohmann::json()> ready);

 private:
  HostConfig config_;
  Runtime runtime_;
  obs::Metrics metrics_;
  std::unique_ptr<WorkerPool> workers_;
  Router router_;
  security::IdentitySigner identity_;
};

}  // namespace suite::http
