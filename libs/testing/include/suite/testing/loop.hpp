#pragma once
/// An I/O loop on its own thread and synchronous wrappers around the async Redis client, for
/// tests that talk to real servers.
#include <chrono>
#include <exception>
#include <future>
#include <thread>

#include "suite/service/runtime.hpp"
#include "suite/redis/client.hpp"

namespace suite::testing {

struct IoLoop {
  service::Runtime runtime;
  std::thread thread;
  IoLoop() { thread = std::thread([this] { runtime.Run(std::chrono::milliseconds(100)); }); }
  ~IoLoop() {
    runtime.RequestStop();
    thread.join();
  }
};

inline redis::Reply Call(redis::Client& c, std::vector<std::string> args) {
  std::promise<redis::Reply> p;
  c.Command(std::move(args), [&](redis::Reply r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

/// Polls `done` every 50 ms until it holds or `limit` passed (real time: for what a server does
/// in its own time, a replica catching up or a failover). An exception (a table not replicated
/// yet) counts as not yet.
template <class F>
bool Eventually(F done, std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    try {
      if (done()) return true;
    } catch (const std::exception&) {
    }
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

inline bool WaitConnected(redis::Client& c) {
  for (int i = 0; i < 200 && !c.connected(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return c.connected();
}

}  // namespace suite::testing
