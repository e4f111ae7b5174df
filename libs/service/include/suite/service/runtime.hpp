#pragma once
/// The process's event loops (suite/http/loop.hpp: one io_context and one thread each; loop 0
/// also runs signals and the control plane) and the stop sequence (SIGTERM/SIGINT -> every
/// `begin` hook -> wait until every `drained` hook holds, or the drain timeout -> every loop
/// stops). SIGHUP runs the reload hook. Free of Asio templates.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "suite/http/loop.hpp"

namespace boost::asio {
class io_context;
}

namespace suite::service {

class Runtime {
 public:
  explicit Runtime(std::size_t loops = 1);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Loop 0.
  boost::asio::io_context& io();
  /// Every loop, loop 0 first.
  const http::Loops& loops() const;
  /// `begin` runs when the stop starts; Run() then waits until every `drained` returns true.
  void OnStop(std::function<void()> begin, std::function<bool()> drained = nullptr);
  /// Blocks until SIGTERM/SIGINT (or RequestStop) and the drain; returns the exit code.
  int Run(std::chrono::milliseconds drain_timeout);
  void RequestStop();
  bool stopping() const { return stopping_; }
  /// `fn` runs on each SIGHUP (on an I/O thread): reload configuration and certificates.
  void OnReload(std::function<void()> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stopping_{false};
};

}  // namespace suite::service
