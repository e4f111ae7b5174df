// The gateway's copy of auth-user's signing keys (JwksCache) against a real server: the first
// fetch at start, a refetch asked for by many requests at once made once and held off until
// min_refetch has passed since the last success, and answers at once after Stop.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "jwks.hpp"
#include "suite/http/server.hpp"
#include "suite/security/es256.hpp"
#include "suite/service/runtime.hpp"

using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {
struct AuthUser {
  suite::service::Runtime runtime;
  suite::obs::Metrics metrics{"auth-user"};
  std::unique_ptr<suite::http::Server> server;
  std::unique_ptr<suite::http::UpstreamPool> pool;
  std::mutex mu;
  std::string jwks;
  std::atomic<int> fetches{0};
  std::thread thread;

  AuthUser() {
    server = std::make_unique<suite::http::Server>(
        runtime.io(), suite::http::ServerOptions{}, metrics,
        suite::http::HeadHandler([this](suite::http::RequestPtr, suite::http::BodyReader&) -> suite::http::Task<suite::http::Response> {
          ++fetches;
          suite::http::Response res;
          std::lock_guard lock(mu);
          res.body = jwks;
          co_return res;
        }));
    const auto port = server->Listen({.address = "127.0.0.1", .port = 0});
    pool = std::make_unique<suite::http::UpstreamPool>(runtime.io(), suite::http::UpstreamOptions{.host = "127.0.0.1", .port = port});
    thread = std::thread([this] { runtime.Run(1000ms); });
  }
  ~AuthUser() {
    runtime.RequestStop();
    thread.join();
  }
  void Serve(const std::vector<std::string>& kids) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& kid : kids) keys.push_back(suite::security::EcKey::Generate().PublicJwk(kid));
    std::lock_guard lock(mu);
    jwks = nlohmann::json{{"keys", keys}}.dump();
  }
};

// Refetch awaited from a coroutine on the server's loop, `n` times at once; blocks until all end.
void RefetchAll(AuthUser& a, gateway::JwksCache& cache, int n) {
  std::atomic<int> done{0};
  for (int i = 0; i < n; ++i)
    net::co_spawn(a.runtime.io(), [&]() -> suite::http::Task<void> {
      co_await cache.Refetch();
      ++done;
    }, net::detached);
  for (int i = 0; i < 1000 && done < n; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(done == n);
}
}  // namespace

TEST_CASE("jwks: fetched at start, refetched once for many askers, not before min_refetch") {
  AuthUser a;
  a.Serve({"k1"});
  const suite::security::IdentitySigner signer(std::string(32, 's'));
  auto cache = std::make_shared<gateway::JwksCache>(a.runtime.io(), *a.pool, signer,
                                                    gateway::JwksOptions{.refresh = 300s, .retry = 1s, .min_refetch = 1s});
  const auto started = std::chrono::steady_clock::now();  // the first success comes later
  cache->Start();
  for (int i = 0; i < 500 && !cache->Keys()->Contains("k1"); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(cache->Keys()->Contains("k1"));
  CHECK(a.fetches == 1);
  // A rotation: fifty requests meet a token with the new kid at once. One fetch serves them,
  // and it waits out min_refetch from the first success.
  a.Serve({"k1", "k2"});
  RefetchAll(a, *cache, 50);
  CHECK(a.fetches == 2);
  CHECK(cache->Keys()->Contains("k2"));
  CHECK(std::chrono::steady_clock::now() - started >= 1s);
  // Stopped: asking is answered at once, and nothing more is fetched.
  cache->Stop();
  RefetchAll(a, *cache, 3);
  CHECK(a.fetches == 2);
}
