#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "suite/service/host.hpp"
#include "suite/testing/loop.hpp"

using namespace suite;
using namespace std::chrono_literals;

namespace {

// A part that writes down what the host does to it, in order.
struct Recorder {
  Recorder(std::vector<std::string>& log, std::string name, bool busy = false)
      : log(log), name(std::move(name)), busy(busy) {}
  ~Recorder() { log.push_back(name + ".destroyed"); }
  void Drain() { log.push_back(name + ".drain"); }
  bool Drained() const { return !busy; }
  void Stop() { log.push_back(name + ".stop"); }
  std::vector<std::string>& log;
  std::string name;
  std::atomic<bool> busy;
};

// Only a destructor: the host has nothing else to call.
struct Plain {
  explicit Plain(std::vector<std::string>& log) : log(log) {}
  ~Plain() { log.push_back("plain.destroyed"); }
  std::vector<std::string>& log;
};

service::HostConfig Config(std::chrono::milliseconds drain = 2000ms) {
  service::HostConfig c;
  c.service = "test";
  c.bind = "127.0.0.1";
  c.workers = 1;
  c.drain = drain;
  return c;
}

}  // namespace

TEST_CASE("the host drains its parts, then stops and destroys them in reverse order of Own") {
  std::vector<std::string> log;
  {
    service::Host host(Config());
    host.Own<Recorder>(log, "redis");
    host.Own<Plain>(log);
    auto& consumer = host.Own<Recorder>(log, "consumer", true);
    // The consumer finishes its batch 100 ms into the drain; the loop stops only after that.
    host.runtime().OnStop([&] {
      std::thread([&] {
        std::this_thread::sleep_for(100ms);
        log.push_back("consumer.idle");
        consumer.busy = false;
      }).detach();
    });
    host.runtime().RequestStop();
    CHECK(host.Run() == 0);
    log.push_back("run.returned");
  }
  const std::vector<std::string> expected = {
      "redis.drain", "consumer.drain", "consumer.idle",  // drains begin in the order of Own
      "consumer.stop", "redis.stop",                     // then every stop, newest first
      "consumer.destroyed", "plain.destroyed", "redis.destroyed", "run.returned"};
  CHECK(log == expected);
}

TEST_CASE("the drain is bounded: a part that never drains does not hold the stop") {
  std::vector<std::string> log;
  service::Host host(Config(200ms));
  host.Own<Recorder>(log, "stuck", true);
  host.runtime().RequestStop();
  const auto start = std::chrono::steady_clock::now();
  CHECK(host.Run() == 0);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(log.back() == "stuck.destroyed");
}

TEST_CASE("a listener that cannot bind fails Run with exit code 1, and the parts still stop") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  std::vector<std::string> log;
  auto config = Config();
  config.port = taken.local_endpoint().port();
  config.internal_secret = std::string(32, 's');
  service::Host host(config);
  host.Own<Recorder>(log, "part");
  host.ServeApi();
  CHECK(host.Run() == 1);
  CHECK(log == std::vector<std::string>{"part.stop", "part.destroyed"});
}

TEST_CASE("readiness: ok and degraded are ready, anything else is not") {
  service::Readiness ready;
  std::string redis = "ok";
  ready.Add("database", [] { return "ok"; });
  ready.Add("redis", [&] { return redis; });
  CHECK(service::Readiness::Ready(ready.Check()));
  redis = "degraded";
  CHECK(service::Readiness::Ready(ready.Check()));
  CHECK(ready.Check() == nlohmann::json{{"database", "ok"}, {"redis", "degraded"}});
  redis = "unavailable";
  CHECK_FALSE(service::Readiness::Ready(ready.Check()));

  service::Readiness typed;
  bool db = true, cache = false;
  typed.Required("database", [&] { return db; });
  typed.Optional("redis", [&] { return cache; });
  CHECK(typed.Check() == nlohmann::json{{"database", "ok"}, {"redis", "degraded"}});
  CHECK(service::Readiness::Ready(typed.Check()));  // an optional dependency down: still ready
  db = false;
  CHECK(typed.Check()["database"] == "unavailable");
  CHECK_FALSE(service::Readiness::Ready(typed.Check()));
}

TEST_CASE("worker pool refuses work beyond its queue") {
  service::WorkerPool pool({.threads = 1, .max_queue = 1, .max_wait = std::chrono::milliseconds(1000)});
  std::atomic<int> ran{0}, rejected{0};
  std::promise<void> gate;
  auto blocker = gate.get_future().share();
  pool.Submit([&, blocker] { blocker.wait(); ++ran; }, [&] { ++rejected; });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the worker holds the blocker
  pool.Submit([&] { ++ran; }, [&] { ++rejected; });            // queued
  pool.Submit([&] { ++ran; }, [&] { ++rejected; });            // over max_queue
  CHECK(rejected == 1);
  gate.set_value();
  pool.Stop();
  CHECK(ran == 2);
}

