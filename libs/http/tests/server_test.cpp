#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "suite/http/client.hpp"
#include "suite/http/router.hpp"
#include "suite/http/server.hpp"

using namespace suite::http;

namespace {
struct Harness {
  Runtime runtime;
  suite::obs::Metrics metrics{"test"};
  WorkerPool pool{{.threads = 2}};
  Router router;
  std::unique_ptr<Server> server;
  std::unique_ptr<UpstreamPool> client;
  std::thread thread;
  std::atomic<int> connections{0};

  explicit Harness(ServerOptions opts = {}) {
    router.Inline("GET", "/hello", [](Request& r) {
      return Response::Json(200, {{"rid", r.request_id}, {"q", r.Query("x").value_or("")}});
    });
    router.Inline("POST", "/echo", [](Request& r) {
      Response res;
      res.body = r.body;
      return res;
    });
    router.Blocking("GET", "/slow", pool, [](Request&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return Response::Json(200, {{"slow", true}});
    });
    opts.extra_headers = {{"x-frame-options", "DENY"}};
    server = std::make_unique<Server>(runtime, opts, metrics,
                                      [this](RequestPtr req, Reply reply) { router.Dispatch(req, reply); });
    const auto port = server->Listen({.address = "127.0.0.1", .port = 0});
    client = std::make_unique<UpstreamPool>(runtime.io(), UpstreamOptions{.host = "127.0.0.1", .port = port});
    thread = std::thread([this] { runtime.Run(std::chrono::milliseconds(3000)); });
  }
  ClientResult Send(ClientRequest req) {
    std::promise<ClientResult> p;
    client->Send(std::move(req), [&](ClientResult r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  ~Harness() {
    runtime.RequestStop();
    thread.join();
  }
};
}  // namespace

TEST_CASE("server answers over keep-alive with request ids and extra headers") {
  Harness h;
  auto r1 = h.Send({.method = "GET", .target = "/hello?x=a%20b", .headers = {{"x-request-id", "abc-1"}}});
  REQUIRE(r1.status == ClientResult::Status::kOk);
  CHECK(r1.response.status == 200);
  auto body = nlohmann::json::parse(r1.response.body);
  CHECK(body["rid"] == "abc-1");
  CHECK(body["q"] == "a b");
  CHECK(r1.response.Header("x-request-id") == "abc-1");
  CHECK(r1.response.Header("x-frame-options") == "DENY");
  CHECK_FALSE(r1.response.Header("x-response-time").empty());
  // An unsafe client id is replaced by a fresh UUID.
  auto r2 = h.Send({.method = "GET", .target = "/hello", .headers = {{"x-request-id", "a b"}}});
  INFO(r2.error);
  REQUIRE(r2.status == ClientResult::Status::kOk);
  CHECK(r2.response.Header("x-request-id").size() == 36);
  auto r3 = h.Send({.method = "POST", .target = "/echo", .body = "payload"});
  CHECK(r3.response.body == "payload");
  CHECK(h.Send({.method = "GET", .target = "/missing"}).response.status == 404);
  CHECK(h.metrics.Render().find("route=\"/hello\"") != std::string::npos);
}

TEST_CASE("body limit answers 413 in the envelope") {
  Harness h({.body_limit = 16});
  auto r = h.Send({.method = "POST", .target = "/echo", .body = std::string(100, 'x')});
  REQUIRE(r.status == ClientResult::Status::kOk);
  CHECK(r.response.status == 413);
  CHECK(nlohmann::json::parse(r.response.body)["error"]["code"] == "PAYLOAD_TOO_LARGE");
}

TEST_CASE("blocking routes run on the pool; stop drains in-flight requests") {
  auto h = std::make_unique<Harness>();
  std::promise<ClientResult> p;
  h->client->Send({.method = "GET", .target = "/slow"}, [&](ClientResult r) { p.set_value(std::move(r)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  h.reset();  // RequestStop while /slow is in flight
  auto r = p.get_future().get();
  REQUIRE(r.status == ClientResult::Status::kOk);
  CHECK(r.response.status == 200);
}

TEST_CASE("client reports a refused connection") {
  Runtime rt;
  UpstreamPool pool(rt.io(), {.host = "127.0.0.1", .port = 1});
  std::promise<ClientResult> p;
  pool.Send({.method = "GET", .target = "/"}, [&](ClientResult r) {
    p.set_value(std::move(r));
    rt.RequestStop();
  });
  rt.Run(std::chrono::milliseconds(100));
  CHECK(p.get_future().get().status == ClientResult::Status::kConnectFailed);
}
