// Heap allocations of the gateway's own loop for one proxied POST /process through every filter
// (API key + HS256 JWT + Redis rate limit + headers + request id + access event), on a warm
// keep-alive connection: a counting operator new, counting only on the gateway's loop thread
// (the upstream, the client and Redis are elsewhere). The bound is a ratchet: lower it when the
// path allocates less, never raise it without saying why.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "alloc_counter.hpp"
#include "gateway.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/server.hpp"
#include "suite/service/runtime.hpp"
#include "suite/service/worker_pool.hpp"
#include "suite/testing/env.hpp"
#include "suite/testing/loop.hpp"

namespace {

// A loop on its own thread, stopped and joined before what runs on it is destroyed.
struct Loop {
  suite::service::Runtime runtime;
  std::thread thread{[this] { runtime.Run(std::chrono::milliseconds(100)); }};
  void Stop() {
    if (!thread.joinable()) return;
    runtime.RequestStop();
    thread.join();
  }
  ~Loop() { Stop(); }
};

// A blocking HTTP/1.1 client on one keep-alive connection.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() { ::close(fd_); }
  // Sends `request`, returns the status of the answer (its body read by Content-Length).
  int Exchange(const std::string& request) {
    REQUIRE(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
    std::string in;
    char buf[8192];
    for (;;) {
      const auto head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::string head = in.substr(0, head_end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto cl = head.find("\r\ncontent-length: ");
        REQUIRE(cl != std::string::npos);
        const auto length = std::stoul(head.substr(cl + 18));
        if (in.size() >= head_end + 4 + length) return std::stoi(in.substr(9, 3));
      }
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      REQUIRE(n > 0);
      in.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace

TEST_CASE("heap allocations per proxied POST /process through every filter, warm connection") {
  auto redis_url = suite::testing::ServerUrl("REDIS_URL");
  if (!redis_url) return;
  // The upstream: seed 000's small JSON answer, on a loop of its own (not counted).
  Loop upstream_loop;
  suite::obs::Metrics upstream_metrics("processing");
  suite::http::Router answer;
  answer.Inline("POST", "/process", [](suite::http::Request&) {
    return suite::http::Response::Json(200, {{"status", "ok"}, {"result", {{"rows", 3}}}});
  });
  suite::http::Server upstream(upstream_loop.runtime.io(), {}, upstream_metrics, answer.Serve(1 << 20));
  const auto upstream_port = upstream.Listen({.address = "127.0.0.1", .port = 0});

  const std::string key = "sk-alloc-" + suite::core::RandomHex(8);
  const std::string jwt_secret = suite::core::RandomHex(32);
  const auto spool = std::filesystem::temp_directory_path() / ("alloc-spool-" + suite::core::RandomHex(6));
  ::setenv("API_KEYS", ("[{\"key\":\"" + key + "\",\"name\":\"alloc\",\"tier\":\"enterprise\"}]").c_str(), 1);
  ::setenv("JWT_SECRET", jwt_secret.c_str(), 1);
  ::setenv("INTERNAL_TOKEN_SECRET", suite::core::RandomHex(32).c_str(), 1);
  ::setenv("REDIS_URL", redis_url->c_str(), 1);
  ::setenv("PROCESSING_URL", ("http://127.0.0.1:" + std::to_string(upstream_port)).c_str(), 1);
  ::setenv("RATE_LIMIT_REQUESTS", "1000000", 1);
  ::setenv("AUDIT_SPOOL_DIR", spool.c_str(), 1);
  ::setenv("TLS_CERT_FILE", "/dev/null", 1);
  ::setenv("TLS_KEY_FILE", "/dev/null", 1);
  suite::core::Env env("gateway");
  const auto config = std::make_shared<const gateway::Config>(gateway::Config::FromEnv(env));
  env.Finish();
  REQUIRE(config->access_events);

  Loop loop;
  suite::obs::Metrics metrics("gateway");
  suite::redis::Client redis(loop.runtime.io(), config->redis, "ratelimit");
  suite::http::Router local;
  suite::service::WorkerPool workers({.threads = 1});
  auto gw = std::make_unique<gateway::Gateway>(config, loop.runtime.loops(), local,
                                               std::vector<suite::redis::Client*>{&redis}, metrics, workers);
  auto edge = std::make_unique<suite::http::Server>(loop.runtime.loops(), config->server, metrics, gw->Handler());
  const auto port = edge->Listen({.address = "127.0.0.1", .port = 0});
  redis.Start();
  REQUIRE(suite::testing::WaitConnected(redis));

  const std::string body = R"({"dataset_id":"sales_2025_q3","action":"summarize","payload":{"rows":[1,2,3]}})";
  const std::string token = suite::security::Hs256(jwt_secret).Sign(
      {{"sub", "alloc"}, {"exp", std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch()).count() + 3600}});
  const std::string request = "POST /process HTTP/1.1\r\nHost: localhost\r\nX-API-Key: " + key +
                              "\r\nAuthorization: Bearer " + token +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body;
  Client client(port);
  // Warm: the pooled upstream connection, the rate limit's lease, the caches, the buffers.
  for (int i = 0; i < 300; ++i) REQUIRE(client.Exchange(request) == 200);
  auto counting = [&](bool on) {
    std::promise<void> done;
    boost::asio::post(loop.runtime.io(), [&] {
      alloc_counter::CountThisThread(on);
      done.set_value();
    });
    done.get_future().wait();
  };
  constexpr int kRequests = 200;
  counting(true);
  alloc_counter::Reset();
  for (int i = 0; i < kRequests; ++i) REQUIRE(client.Exchange(request) == 200);
  counting(false);
  const double per_request = static_cast<double>(alloc_counter::Count()) / kRequests;
  WARN("heap allocations per request on the gateway's loop: " << per_request);
  CHECK(per_request > 0);  // the counter counts (a test that cannot fail proves nothing)
  // 103 at the start of issue 24; 49 with the access events sent from a thread of their own;
  // 55 once their sender ran on this loop (its XADDs' allocations count here: one request at a
  // time is its worst case, a batch carrying a millisecond's events, a loop turn's under load);
  // 46 with our own parser, which keeps a request's fields in one block of the request's; 42
  // with the rate limit's headers written without temporaries and set without a lowercase copy;
  // 39 with the connections' own streams (no timer wait per operation) and the heads' strings
  // from per-loop spares. The count moves with the timing (how many events an XADD batch
  // carries): 42.6 was seen under TSan, hence the margin. +3 since the XADD runs in a script
  // that checks the stream's cap (EVALSHA: its command line, kept for a NOSCRIPT retry): 47.7
  // under ASan.
  CHECK(per_request <= 50);

  loop.Stop();
  edge.reset();
  gw.reset();
  upstream_loop.Stop();
  std::filesystem::remove_all(spool);
}
