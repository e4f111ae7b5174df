#pragma once
/// An I/O loop on its own thread and synchronous wrappers around the async Redis client, for
/// tests that talk to real servers.
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

inline bool WaitConnected(redis::Client& c) {
  for (int i = 0; i < 200 && !c.connected(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return c.connected();
}

}  // namespace suite::testing
