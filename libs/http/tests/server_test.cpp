#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <future>
#include <thread>

#include "suite/http/client.hpp"
#include "suite/http/router.hpp"
#include "suite/http/server.hpp"
#include "suite/service/runtime.hpp"
#include "suite/service/worker_pool.hpp"

using namespace suite::http;

namespace {
struct Harness {
  suite::service::Runtime runtime;
  suite::obs::Metrics metrics{"test"};
  suite::service::WorkerPool pool{{.threads = 2}};
  Router router;
  std::unique_ptr<Server> server;
  std::unique_ptr<UpstreamPool> client;
  std::thread thread;
  std::atomic<int> connections{0};
  unsigned short port = 0;

  explicit Harness(ServerOptions opts = {}) {
    router.Inline("GET", "/hello", [](Request& r) {
      return Response::Json(200, {{"rid", r.request_id}, {"q", r.Query("x").value_or("")}});
    });
    router.Inline("POST", "/echo", [](Request& r) {
      Response res;
      res.body = r.body;
      return res;
    });
    // The names of the fields the handler sees, in order, one a line; then the body.
    router.Inline("POST", "/fields", [](Request& r) {
      Response res;
      for (const auto& [k, v] : r.headers) res.body.append(k).append("\n");
      res.body += "body:" + r.body;
      return res;
    });
    router.Blocking("GET", "/slow", pool, [](Request&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return Response::Json(200, {{"slow", true}});
    });
    opts.extra_headers = {{"x-frame-options", "DENY"}};
    server = std::make_unique<Server>(runtime.io(), opts, metrics, router.Serve(opts.body_limit));
    // The host's stop order, by hand: stop accepting, then wait for what is in flight.
    runtime.OnStop([this] { server->Drain(); }, [this] { return server->Drained(); });
    port = server->Listen({.address = "127.0.0.1", .port = 0});
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

TEST_CASE("blocking routes run on the pool, stop drains in-flight requests") {
  auto h = std::make_unique<Harness>();
  std::promise<ClientResult> p;
  h->client->Send({.method = "GET", .target = "/slow"}, [&](ClientResult r) { p.set_value(std::move(r)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  h.reset();  // RequestStop while /slow is in flight
  auto r = p.get_future().get();
  REQUIRE(r.status == ClientResult::Status::kOk);
  CHECK(r.response.status == 200);
}

namespace {
// One request on a blocking socket; the whole answer (head and Content-Length body), or "" at EOF.
std::string RawGet(boost::asio::ip::tcp::socket& s) {
  const std::string req = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
  boost::system::error_code ec;
  boost::asio::write(s, boost::asio::buffer(req), ec);
  if (ec) return "";
  boost::asio::streambuf buf;
  const auto head_len = boost::asio::read_until(s, buf, "\r\n\r\n", ec);
  if (ec) return "";
  std::string all(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
  const auto cl = all.find("Content-Length: ");
  const std::size_t body = cl == std::string::npos ? 0 : std::stoul(all.substr(cl + 16));
  if (all.size() < head_len + body) boost::asio::read(s, buf, boost::asio::transfer_exactly(head_len + body - all.size()), ec);
  return std::string(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
}
bool ClosedByPeer(boost::asio::ip::tcp::socket& s) {
  char c;
  boost::system::error_code ec;
  s.read_some(boost::asio::buffer(&c, 1), ec);
  return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
}
}  // namespace

TEST_CASE("stop: an idle keep-alive connection is answered during the grace, with Connection: close, then idle ones close") {
  using namespace std::chrono;
  Harness h({.drain_idle_grace = milliseconds(800)});
  boost::asio::io_context io;
  const boost::asio::ip::tcp::endpoint at(boost::asio::ip::make_address("127.0.0.1"), h.port);
  boost::asio::ip::tcp::socket busy(io), quiet(io);
  busy.connect(at);
  quiet.connect(at);
  CHECK(RawGet(busy).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(RawGet(quiet).rfind("HTTP/1.1 200", 0) == 0);
  const auto stop = steady_clock::now();
  h.runtime.RequestStop();
  std::this_thread::sleep_for(milliseconds(200));
  // The next request on a kept-alive connection, sent after the drain began: answered whole.
  const auto answer = RawGet(busy);
  INFO(answer);
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(answer.find("Connection: close") != std::string::npos);
  CHECK(ClosedByPeer(busy));
  // The connection that stayed idle is closed when the grace ends, not before.
  CHECK(ClosedByPeer(quiet));
  CHECK(steady_clock::now() - stop >= milliseconds(700));
}

TEST_CASE("client reports a refused connection") {
  suite::service::Runtime rt;
  UpstreamPool pool(rt.io(), {.host = "127.0.0.1", .port = 1});
  std::promise<ClientResult> p;
  pool.Send({.method = "GET", .target = "/"}, [&](ClientResult r) {
    p.set_value(std::move(r));
    rt.RequestStop();
  });
  rt.Run(std::chrono::milliseconds(100));
  CHECK(p.get_future().get().status == ClientResult::Status::kConnectFailed);
}

namespace {
// A raw upstream on a blocking socket: answers the first request on a connection with
// keep-alive, then reads the next one and closes without a byte (an upstream dying mid-request).
struct DyingUpstream {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor{io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  std::atomic<int> requests{0};
  std::thread thread;
  DyingUpstream() {
    thread = std::thread([this] {
      boost::system::error_code ec;
      for (int conn = 0; conn < 3; ++conn) {
        boost::asio::ip::tcp::socket s(io);
        acceptor.accept(s, ec);
        if (ec) return;
        for (int n = 0;; ++n) {
          std::string buf;
          boost::asio::read_until(s, boost::asio::dynamic_buffer(buf), "\r\n\r\n", ec);
          if (ec) break;
          ++requests;
          if (n > 0) break;  // second request on this connection: close without answering
          boost::asio::write(s, boost::asio::buffer(std::string(
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")), ec);
        }
      }
    });
  }
  ~DyingUpstream() {
    boost::system::error_code ec;
    acceptor.close(ec);
    thread.join();
  }
};
}  // namespace

TEST_CASE("a written POST is never sent twice, an idempotent GET may be") {
  DyingUpstream up;
  suite::service::Runtime rt;
  UpstreamPool pool(rt.io(), {.host = "127.0.0.1", .port = up.acceptor.local_endpoint().port()});
  std::thread t([&] { rt.Run(std::chrono::milliseconds(100)); });
  auto send = [&](ClientRequest r) {
    std::promise<ClientResult> p;
    pool.Send(std::move(r), [&](ClientResult res) { p.set_value(std::move(res)); });
    return p.get_future().get();
  };
  REQUIRE(send({.method = "GET", .target = "/a"}).status == ClientResult::Status::kOk);  // pooled now
  auto post = send({.method = "POST", .target = "/pay", .body = "{}"});
  CHECK(post.status == ClientResult::Status::kFailed);
  CHECK(up.requests == 2);  // the POST reached the upstream once and was not resent
  REQUIRE(send({.method = "GET", .target = "/b"}).status == ClientResult::Status::kOk);  // new connection
  auto get = send({.method = "GET", .target = "/c"});  // reused, dies, resent on a fresh one
  CHECK(get.status == ClientResult::Status::kOk);
  CHECK(up.requests == 5);
  rt.RequestStop();
  t.join();
}

TEST_CASE("a pooled connection the upstream closed while idle is not used for a POST") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor{io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  std::atomic<int> requests{0};
  std::thread upstream([&] {  // answers one request per connection with keep-alive, then closes
    for (int conn = 0; conn < 2; ++conn) {
      boost::asio::ip::tcp::socket s(io);
      boost::system::error_code ec;
      acceptor.accept(s, ec);
      std::string buf;
      boost::asio::read_until(s, boost::asio::dynamic_buffer(buf), "\r\n\r\n", ec);
      ++requests;
      boost::asio::write(s, boost::asio::buffer(std::string(
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")), ec);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  suite::service::Runtime rt;
  UpstreamPool pool(rt.io(), {.host = "127.0.0.1", .port = acceptor.local_endpoint().port()});
  std::thread t([&] { rt.Run(std::chrono::milliseconds(100)); });
  auto send = [&](ClientRequest r) {
    std::promise<ClientResult> p;
    pool.Send(std::move(r), [&](ClientResult res) { p.set_value(std::move(res)); });
    return p.get_future().get();
  };
  REQUIRE(send({.method = "GET", .target = "/a"}).status == ClientResult::Status::kOk);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the upstream closed it meanwhile
  auto post = send({.method = "POST", .target = "/pay", .body = "{}"});
  CHECK(post.status == ClientResult::Status::kOk);  // sent once, on a fresh connection
  CHECK(requests == 2);
  if (requests < 2) {  // the POST failed: unblock the upstream's second accept
    boost::asio::io_context poke_io;
    boost::asio::ip::tcp::socket poke(poke_io);
    poke.connect(acceptor.local_endpoint());
  }
  upstream.join();
  rt.RequestStop();
  t.join();
}

TEST_CASE("a request Beast cannot frame fails cleanly instead of being lost") {
  Harness h;
  auto r = h.Send({.method = "TRACE", .target = "/hello", .body = "x"});
  CHECK(r.status == ClientResult::Status::kFailed);
  CHECK(r.error.rfind("request:", 0) == 0);
}

TEST_CASE("HEAD through the client: headers only, no wait for a body") {
  Harness h;
  auto r = h.Send({.method = "HEAD", .target = "/hello"});
  REQUIRE(r.status == ClientResult::Status::kOk);
  CHECK(r.response.status == 200);
  CHECK(r.response.body.empty());
  CHECK(std::stoi(std::string(r.response.Header("content-length"))) > 0);
}

TEST_CASE("framing the server refuses: TE other than chunked, TE with CL, Host missing or twice") {
  Harness h;
  const auto port = h.client->options().port;
  auto raw = [&](const std::string& text) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::asio::write(s, boost::asio::buffer(text));
    std::string out;
    boost::system::error_code ec;
    boost::asio::read(s, boost::asio::dynamic_buffer(out), ec);  // until the server closes
    return out;
  };
  const std::string smuggled = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const std::string te : {"xchunked", "chunked, identity", "identity", "chunked\r\nTransfer-Encoding: chunked"}) {
    INFO(te);
    auto out = raw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + "\r\n\r\n" + smuggled);
    CHECK(out.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(out.find("HTTP/1.1 200") == std::string::npos);  // the smuggled request never runs
  }
  auto both = raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled);
  CHECK(both.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(both.find("HTTP/1.1 200") == std::string::npos);
  CHECK(raw("GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(raw("GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  auto ok = raw("GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  CHECK(ok.rfind("HTTP/1.1 200", 0) == 0);
  auto chunked = raw("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  CHECK(chunked.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(chunked.find("\r\n\r\nhi") != std::string::npos);
  // A chunked body's trailer fields never join the head the handler checked: in the wire's
  // order (a repeated name where it came), names lowercased, and nothing after the body.
  auto trailed = raw("POST /fields HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nTransfer-Encoding: chunked\r\nX-One: 2\r\n"
                     "Connection: close\r\n\r\n2\r\nhi\r\n0\r\nX-Api-Key: smuggled\r\nHost: evil\r\n\r\n");
  CHECK(trailed.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(trailed.find("\r\n\r\nhost\nx-one\ntransfer-encoding\nx-one\nconnection\nbody:hi") != std::string::npos);
  CHECK(trailed.find("x-api-key") == std::string::npos);
}

TEST_CASE("a trickled head is cut at the header timeout, idle keep-alive waits longer") {
  Harness h({.header_timeout = std::chrono::milliseconds(300), .idle_timeout = std::chrono::milliseconds(5000)});
  const auto port = h.client->options().port;
  boost::asio::io_context io;
  auto closed_after = [&](bool first_request_complete) {
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::system::error_code ec;
    if (first_request_complete) {
      boost::asio::write(s, boost::asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")));
      std::string buf;
      boost::asio::read_until(s, boost::asio::dynamic_buffer(buf), "}", ec);
      std::this_thread::sleep_for(std::chrono::milliseconds(600));  // idle longer than the header timeout
    }
    const auto start = std::chrono::steady_clock::now();
    const std::string head = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    for (char c : head) {
      boost::asio::write(s, boost::asio::buffer(&c, 1), ec);
      if (ec) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::chrono::steady_clock::now() - start;
  };
  // ~70 bytes at 50 ms each would take 3.5 s; the server must cut it near 300 ms.
  CHECK(closed_after(false) < std::chrono::milliseconds(2000));
  CHECK(closed_after(true) < std::chrono::milliseconds(2000));
}

TEST_CASE("connections past the per-client cap are refused and counted") {
  Harness h({.max_connections_per_client = 3});
  const auto port = h.client->options().port;
  boost::asio::io_context io;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<boost::asio::ip::tcp::socket>(io));
    held.back()->connect({boost::asio::ip::make_address("127.0.0.1"), port});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  boost::asio::ip::tcp::socket extra(io);
  extra.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  boost::asio::write(extra, boost::asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")), ec);
  std::string out;
  boost::asio::read(extra, boost::asio::dynamic_buffer(out), ec);
  CHECK(out.empty());  // reset, not served
  CHECK(h.metrics.Render().find("http_connections_refused_total{reason=\"per_client\"} 1") != std::string::npos);
  held.clear();  // the slots come back
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto r = h.Send({.method = "GET", .target = "/hello"});
  CHECK(r.status == ClientResult::Status::kOk);
}

TEST_CASE("client: a request's own deadline overrides the pool's") {
  Harness h;
  auto r = h.Send({.method = "GET", .target = "/slow", .timeout = std::chrono::milliseconds(50)});
  CHECK(r.status == ClientResult::Status::kTimeout);
  auto ok = h.Send({.method = "GET", .target = "/slow"});
  CHECK(ok.status == ClientResult::Status::kOk);
}

namespace {
ClientResult SendOn(UpstreamPool& pool, ClientRequest req) {
  std::promise<ClientResult> p;
  pool.Send(std::move(req), [&](ClientResult r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}
}  // namespace

TEST_CASE("a pool with a dead endpoint and a live one answers every request and ejects the dead one") {
  Harness h;
  UpstreamOptions o{.host = "127.0.0.1", .port = 1};  // refused
  o.more = {{"127.0.0.1", h.port}};
  o.health = {.eject_after = 3, .eject_for = std::chrono::seconds(30)};
  UpstreamPool pool(h.runtime.io(), o);
  for (int i = 0; i < 12; ++i) {
    auto r = SendOn(pool, {.method = "GET", .target = "/hello"});
    REQUIRE(r.status == ClientResult::Status::kOk);  // a refused connect goes to the other endpoint
    CHECK(r.response.status == 200);
  }
  CHECK(pool.ejections() == 1);
}

TEST_CASE("every endpoint ejected: the circuit is open, requests are refused at once with a retry delay") {
  suite::service::Runtime rt;
  UpstreamPool pool(rt.io(), UpstreamOptions{.host = "127.0.0.1", .port = 1,
                                             .health = {.eject_after = 2, .eject_for = std::chrono::seconds(30)}});
  std::thread t([&] { rt.Run(std::chrono::milliseconds(100)); });
  CHECK(SendOn(pool, {.method = "GET", .target = "/"}).status == ClientResult::Status::kConnectFailed);
  CHECK(SendOn(pool, {.method = "GET", .target = "/"}).status == ClientResult::Status::kConnectFailed);
  const auto open = SendOn(pool, {.method = "POST", .target = "/", .body = "{}"});
  CHECK(open.status == ClientResult::Status::kUnavailable);
  CHECK(open.retry_after >= std::chrono::seconds(25));
  CHECK(open.retry_after <= std::chrono::seconds(30));
  CHECK(pool.ejections() == 1);
  rt.RequestStop();
  t.join();
}

TEST_CASE("a pooled connection carries at most max_requests_per_connection requests") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor{io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  const auto where = acceptor.local_endpoint();
  std::atomic<int> accepted{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> conns;
  std::thread upstream([&] {  // keep-alive answers until the client closes
    while (!done) {
      boost::asio::ip::tcp::socket s(io);
      boost::system::error_code ec;
      acceptor.accept(s, ec);
      if (ec || done) return;
      ++accepted;
      conns.emplace_back([s = std::move(s)]() mutable {
        boost::system::error_code ec;
        std::string buf;
        for (;;) {
          const auto n = boost::asio::read_until(s, boost::asio::dynamic_buffer(buf), "\r\n\r\n", ec);
          if (ec) return;
          buf.erase(0, n);
          boost::asio::write(s, boost::asio::buffer(std::string(
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")), ec);
        }
      });
    }
  });
  {
    suite::service::Runtime rt;
    UpstreamPool pool(rt.io(), UpstreamOptions{.host = "127.0.0.1", .port = where.port(), .max_requests_per_connection = 2});
    std::thread t([&] { rt.Run(std::chrono::milliseconds(100)); });
    for (int i = 0; i < 5; ++i) CHECK(SendOn(pool, {.method = "GET", .target = "/"}).status == ClientResult::Status::kOk);
    CHECK(accepted == 3);  // 2 + 2 + 1
    rt.RequestStop();
    t.join();
  }  // the pool closes its connections: their threads end
  done = true;
  {  // wake the blocking accept
    boost::asio::io_context poke_io;
    boost::asio::ip::tcp::socket poke(poke_io);
    boost::system::error_code ec;
    poke.connect(where, ec);
  }
  upstream.join();
  for (auto& c : conns) c.join();
}

TEST_CASE("answer heads: repeated fields kept, the answer's own field over a common one, no injected line") {
  Harness h;
  h.router.Inline("GET", "/cookies", [](Request&) {
    Response res = Response::Json(200, {{"ok", true}});
    res.headers.emplace_back("set-cookie", "a=1");
    res.headers.emplace_back("set-cookie", "b=2");
    res.headers.emplace_back("x-frame-options", "SAMEORIGIN");         // over the server's DENY
    res.headers.emplace_back("x-evil", "v\r\nx-injected: yes");        // dropped whole
    res.headers.emplace_back("bad name", "v");                         // not a token: dropped
    res.headers.emplace_back("content-length", "999");                 // framing is the server's
    return res;
  });
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), h.port});
  boost::asio::write(s, boost::asio::buffer(std::string("GET /cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
  std::string out;
  boost::system::error_code ec;
  boost::asio::read(s, boost::asio::dynamic_buffer(out), ec);
  INFO(out);
  CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(out.find("set-cookie: a=1\r\n") != std::string::npos);
  CHECK(out.find("set-cookie: b=2\r\n") != std::string::npos);
  CHECK(out.find("x-frame-options: SAMEORIGIN\r\n") != std::string::npos);
  CHECK(out.find("DENY") == std::string::npos);
  CHECK(out.find("injected") == std::string::npos);
  CHECK(out.find("bad name") == std::string::npos);
  CHECK(out.find("999") == std::string::npos);
  CHECK(out.find("Content-Length: 11\r\n") != std::string::npos);
  CHECK(out.find("Connection: close\r\n") != std::string::npos);
  CHECK(out.substr(out.size() - 11) == "{\"ok\":true}");
}

TEST_CASE("client heads: a header value with a line break is not sent, a bad method is refused") {
  Harness h;
  h.router.Inline("GET", "/headers", [](Request& r) {
    return Response::Json(200, {{"x_ok", std::string(r.Header("x-ok"))}, {"injected", r.HasHeader("x-injected")}});
  });
  auto r = h.Send({.method = "GET", .target = "/headers",
                   .headers = {{"x-ok", "fine"}, {"x-evil", "v\r\nx-injected: yes"}}});
  REQUIRE(r.status == ClientResult::Status::kOk);
  const auto body = nlohmann::json::parse(r.response.body);
  CHECK(body["x_ok"] == "fine");
  CHECK(body["injected"] == false);
  auto bad = h.Send({.method = "GE T", .target = "/headers"});
  CHECK(bad.status == ClientResult::Status::kFailed);
  auto split = h.Send({.method = "GET", .target = "/a b"});
  CHECK(split.status == ClientResult::Status::kFailed);
}

TEST_CASE("client: an interim 100 Continue from the upstream is read past, the final answer returned") {
  Harness h;  // its server answers Expect: 100-continue with 100 before reading the body
  auto r = h.Send({.method = "POST", .target = "/echo", .headers = {{"expect", "100-continue"}}, .body = "payload"});
  REQUIRE(r.status == ClientResult::Status::kOk);
  CHECK(r.response.status == 200);
  CHECK(r.response.body == "payload");
  auto again = h.Send({.method = "GET", .target = "/hello"});  // the connection is still in step
  REQUIRE(again.status == ClientResult::Status::kOk);
  CHECK(again.response.status == 200);
}

TEST_CASE("passive health: 502s in a row eject an endpoint, 503s (load shedding) never do") {
  Harness h;
  h.router.Inline("GET", "/shed", [](Request&) { return Response::Json(503, {{"busy", true}}); });
  h.router.Inline("GET", "/broken", [](Request&) { return Response::Json(502, {{"down", true}}); });
  UpstreamOptions o{.host = "127.0.0.1", .port = h.port};
  o.health = {.eject_after = 3, .eject_for = std::chrono::seconds(30)};
  UpstreamPool pool(h.runtime.io(), o);
  for (int i = 0; i < 10; ++i) REQUIRE(SendOn(pool, {.method = "GET", .target = "/shed"}).response.status == 503);
  CHECK(pool.ejections() == 0);
  CHECK(SendOn(pool, {.method = "GET", .target = "/hello"}).status == ClientResult::Status::kOk);
  for (int i = 0; i < 3; ++i) REQUIRE(SendOn(pool, {.method = "GET", .target = "/broken"}).response.status == 502);
  CHECK(pool.ejections() == 1);
  CHECK(SendOn(pool, {.method = "GET", .target = "/hello"}).status == ClientResult::Status::kUnavailable);
}
