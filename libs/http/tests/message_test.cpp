#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <deque>
#include <future>
#include <thread>

#include "suite/http/client.hpp"
#include "suite/http/router.hpp"

using namespace suite::http;

namespace {
// A worker pool of one thread, or of none (every task refused, as a full pool's would be).
class OneThread : public Offload {
 public:
  explicit OneThread(bool refuse = false) : refuse_(refuse) {}
  ~OneThread() override { Join(); }
  void Submit(std::function<void()> task, std::function<void()> rejected) override {
    if (refuse_) return rejected();
    Join();
    thread_ = std::thread(std::move(task));
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool refuse_;
  std::thread thread_;
};

// Runs one routed request to its answer on a loop of its own; the pool's thread is done before
// the loop goes (as a service stops its workers before its loops).
Response Run(const Router& router, std::string method, std::string path, OneThread* pool = nullptr) {
  boost::asio::io_context io;
  auto req = std::make_shared<Request>();
  req->method = std::move(method);
  req->path = std::move(path);
  req->request_id = "rid";
  Response out;
  boost::asio::co_spawn(io, router.Dispatch(req), [&](std::exception_ptr e, Response r) {
    REQUIRE_FALSE(e);
    out = std::move(r);
  });
  io.run();
  if (pool != nullptr) pool->Join();
  return out;
}
}  // namespace

TEST_CASE("percent decoding and forms") {
  CHECK(PercentDecode("a%20b+c") == "a b c");
  CHECK_FALSE(PercentDecode("%4"));
  CHECK_FALSE(PercentDecode("%zz"));
  CHECK(PercentEncode("a b/c&d=é~_.-") == "a%20b%2Fc%26d%3D%C3%A9~_.-");
  CHECK(PercentDecode(PercentEncode("2025-10-26T12:00:00+02:00")) == "2025-10-26T12:00:00+02:00");
  auto form = ParseForm("username=john%40x.io&password=S3c%21&&flag");
  REQUIRE(form);
  REQUIRE(form->size() == 3);
  CHECK((*form)[0] == std::pair<std::string, std::string>{"username", "john@x.io"});
  CHECK((*form)[1].second == "S3c!");
  CHECK((*form)[2] == std::pair<std::string, std::string>{"flag", ""});
  Request r;
  r.query = "api_key=k%2B1&x=2";
  CHECK(r.Query("api_key") == "k+1");
  CHECK_FALSE(r.Query("nope"));
}

TEST_CASE("router: exact, prefix, 404 and 405 with Allow") {
  Router router;
  router.Inline("GET", "/health", [](Request&) { return Response::Json(200, {{"ok", true}}); });
  router.Inline("POST", "/health", [](Request&) -> Response {
    throw suite::core::ApiError(suite::core::ErrorCode::kConflict, "taken");
  });
  router.Inline("GET", "/audit/*", [](Request& r) { return Response::Json(200, {{"p", r.path}}); });
  auto run = [&](std::string method, std::string path) { return Run(router, std::move(method), std::move(path)); };
  CHECK(run("GET", "/health").status == 200);
  auto conflict = run("POST", "/health");
  CHECK(conflict.status == 409);
  CHECK(nlohmann::json::parse(conflict.body)["error"]["message"] == "taken");
  CHECK(run("GET", "/audit/requests").body == R"({"p":"/audit/requests"})");
  CHECK(run("GET", "/audit").status == 200);
  CHECK(run("GET", "/auditx").status == 404);
  auto not_allowed = run("DELETE", "/health");
  CHECK(not_allowed.status == 405);
  CHECK(not_allowed.Header("allow") == "GET, POST");
  auto missing = nlohmann::json::parse(run("GET", "/nope").body);
  CHECK(missing["error"]["code"] == "NOT_FOUND");
  CHECK(missing["error"]["request_id"] == "rid");
}

TEST_CASE("router: a blocking route runs on the pool and its answer resumes on the loop") {
  OneThread pool;
  Router router;
  std::thread::id ran_on;
  router.Blocking("GET", "/slow", pool, [&](Request&) {
    ran_on = std::this_thread::get_id();
    return Response::Json(200, {{"ok", true}});
  });
  router.Blocking("GET", "/throws", pool, [](Request&) -> Response { throw std::runtime_error("boom"); });
  const auto ok = Run(router, "GET", "/slow", &pool);
  CHECK(ok.status == 200);
  CHECK(ran_on != std::this_thread::get_id());
  const auto failed = Run(router, "GET", "/throws", &pool);
  CHECK(failed.status == 500);
  CHECK(failed.body.find("boom") == std::string::npos);  // never the exception's text

  OneThread full(true);
  Router busy;
  busy.Blocking("GET", "/slow", full, [](Request&) { return Response::Json(200, {}); });
  const auto refused = Run(busy, "GET", "/slow");
  CHECK(refused.status == 503);
  CHECK(refused.Header("retry-after") == "1");
}

TEST_CASE("upstream URLs") {
  auto u = ParseUpstreamUrl("http://auth-user:8081/");
  REQUIRE(u);
  CHECK(u->host == "auth-user");
  CHECK(u->port == 8081);
  CHECK(ParseUpstreamUrl("https://x:1")->tls);  // (an HTTP/2 upstream's; UpstreamPool refuses it)
  CHECK_FALSE(ParseUpstreamUrl("http://x:1")->tls);
  CHECK_FALSE(ParseUpstreamUrl("http://a:1,https://b:2"));  // one scheme for all the endpoints
  CHECK_FALSE(ParseUpstreamUrl("http://x"));
  CHECK_FALSE(ParseUpstreamUrl("http://x:99999"));
  CHECK_FALSE(ParseUpstreamUrl("http://x:80/path"));
}

TEST_CASE("upstream URLs: an IPv6 host, and nothing but scheme, host and port") {
  auto v6 = ParseUpstreamUrl("http://[::1]:8081");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 8081);
  CHECK(ParseUpstreamUrl("HTTP://Auth-User:8081")->host == "Auth-User");
  CHECK_FALSE(ParseUpstreamUrl("http://user:pw@x:1"));
  CHECK_FALSE(ParseUpstreamUrl("http://x:1?q"));
  CHECK_FALSE(ParseUpstreamUrl("http://x:0"));
  CHECK_FALSE(ParseUpstreamUrl("http://:80"));
}

TEST_CASE("upstream URLs: several endpoints of one upstream, comma separated") {
  auto u = ParseUpstreamUrl("http://p1:8082, http://[::1]:8083,http://p3:8084/");
  REQUIRE(u);
  const auto all = u->Endpoints();
  REQUIRE(all.size() == 3);
  CHECK(all[0].host == "p1");
  CHECK(all[1].host == "::1");
  CHECK(all[1].port == 8083);
  CHECK(all[2].port == 8084);
  CHECK_FALSE(ParseUpstreamUrl("http://p1:8082,"));
  CHECK_FALSE(ParseUpstreamUrl("http://p1:8082,https://p2:1"));
  std::string many = "http://h:1";
  for (int i = 0; i < 16; ++i) many += ",http://h:1";
  CHECK_FALSE(ParseUpstreamUrl(many));  // 17: past the cap
}
