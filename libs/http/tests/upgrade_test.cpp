// Upgraded connections end to end on sockets: a relay (a head handler forwarding through an
// UpstreamPool, as the gateway does) in front of an upstream that answers 101 and echoes. The
// bytes a client sends right behind its upgrade request, a megabyte each way, the idle limit,
// and a 101 that nobody asked for.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <thread>

#include "suite/http/client.hpp"
#include "suite/http/server.hpp"
#include "suite/http/upgrade.hpp"
#include "suite/service/runtime.hpp"

using namespace suite::http;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

// The upstream's side of the tunnel: every byte back.
class Echo final : public Upgraded {
 public:
  Task<void> Run(Duplex& client) override {
    std::string piece(8192, '\0');
    for (;;) {
      const auto n = co_await client.ReadSome(piece.data(), piece.size());
      if (n == 0 || !co_await client.Write(std::string_view(piece.data(), n))) break;
    }
  }
};

struct Stack {
  suite::service::Runtime runtime;
  suite::obs::Metrics upstream_metrics{"up"};
  suite::obs::Metrics relay_metrics{"relay"};
  std::unique_ptr<Server> upstream;
  std::unique_ptr<Server> relay;
  std::unique_ptr<UpstreamPool> pool;
  std::thread thread;
  std::uint16_t relay_port = 0;

  explicit Stack(RelayLimits limits) {
    upstream = std::make_unique<Server>(runtime.io(), ServerOptions{}, upstream_metrics,
                                        HeadHandler([](RequestPtr req, BodyReader&) -> Task<Response> {
                                          Response res;
                                          // /rude answers 101 whatever was asked.
                                          if (req->upgrade || req->path == "/rude") {
                                            res.status = 101;
                                            res.Set("upgrade", "echo");
                                            res.upgraded = std::make_shared<Echo>();
                                          }
                                          co_return res;
                                        }));
    const auto up_port = upstream->Listen({.address = "127.0.0.1", .port = 0});
    pool = std::make_unique<UpstreamPool>(runtime.io(), UpstreamOptions{.host = "127.0.0.1", .port = up_port});
    relay = std::make_unique<Server>(runtime.io(), ServerOptions{}, relay_metrics,
                                     HeadHandler([this, limits](RequestPtr req, BodyReader&) -> Task<Response> {
                                       ClientRequest out{.method = req->method, .target = req->target};
                                       if (req->upgrade) out.upgrade = std::string(req->Header("upgrade"));
                                       out.relay = limits;
                                       auto r = co_await pool->Call(std::move(out));
                                       if (r.status != ClientResult::Status::kOk) co_return Response::Json(502, {{"error", r.error}});
                                       co_return std::move(r.response);
                                     }));
    relay_port = relay->Listen({.address = "127.0.0.1", .port = 0});
    thread = std::thread([this] { runtime.Run(2000ms); });
  }
  ~Stack() {
    runtime.RequestStop();
    thread.join();
  }
};

// Reads until `out` holds `want` bytes, or the peer closes; false on the close.
bool ReadExactly(net::ip::tcp::socket& s, std::string& out, std::size_t want) {
  char buf[65536];
  boost::system::error_code ec;
  while (out.size() < want) {
    const auto n = s.read_some(net::buffer(buf, std::min(sizeof buf, want - out.size())), ec);
    if (ec) return false;
    out.append(buf, n);
  }
  return true;
}

// The answer's head, read a byte at a time (what follows it stays unread).
std::string ReadHead(net::ip::tcp::socket& s) {
  std::string got;
  char c;
  boost::system::error_code ec;
  while (got.find("\r\n\r\n") == std::string::npos) {
    if (s.read_some(net::buffer(&c, 1), ec) != 1 || ec) break;
    got += c;
  }
  return got;
}

constexpr std::string_view kUpgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";

// Connects `s` to the relay, sends `request` and `after` in one write: the answer's head.
std::string Ask(net::ip::tcp::socket& s, const Stack& stack, std::string_view request, std::string_view after = "") {
  s.connect({net::ip::make_address("127.0.0.1"), stack.relay_port});
  net::write(s, net::buffer(std::string(request) + std::string(after)));
  return ReadHead(s);
}

}  // namespace

TEST_CASE("upgrade: bytes relayed both ways after a 101, including those sent behind the request") {
  Stack stack({.idle = 5000ms, .lifetime = 60'000ms});
  net::io_context io;
  net::ip::tcp::socket s(io);
  const auto head = Ask(s, stack, kUpgrade, "hello");
  REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(head.find("Connection: upgrade\r\n") != std::string::npos);
  CHECK(head.find("upgrade: echo\r\n") != std::string::npos);
  CHECK(head.find("Content-Length") == std::string::npos);
  std::string echoed;
  REQUIRE(ReadExactly(s, echoed, 5));
  CHECK(echoed == "hello");
  // A megabyte each way, written while it comes back (a relay that held it all would stall).
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  std::thread writer([&] { net::write(s, net::buffer(big)); });
  std::string back;
  const bool whole = ReadExactly(s, back, big.size());
  writer.join();
  REQUIRE(whole);
  CHECK(back == big);
  // The client closes: so does the relay (a read finds the end).
  s.shutdown(net::socket_base::shutdown_send);
  std::string after;
  CHECK_FALSE(ReadExactly(s, after, 1));
}

TEST_CASE("upgrade: a relay with nothing either way for its idle limit is closed") {
  Stack stack({.idle = 300ms, .lifetime = 60'000ms});
  net::io_context io;
  net::ip::tcp::socket s(io);
  REQUIRE(Ask(s, stack, kUpgrade).rfind("HTTP/1.1 101", 0) == 0);
  // Traffic keeps it open past the limit...
  const auto opened = std::chrono::steady_clock::now();
  auto last_sent = opened;
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(150ms);
    last_sent = std::chrono::steady_clock::now();  // the relay's last byte is later than this
    net::write(s, net::buffer(std::string("ping")));
    std::string got;
    REQUIRE(ReadExactly(s, got, 4));
  }
  CHECK(std::chrono::steady_clock::now() - opened >= 600ms);
  // ...silence ends it: the close comes no sooner than the limit after the last byte.
  std::string none;
  CHECK_FALSE(ReadExactly(s, none, 1));
  CHECK(std::chrono::steady_clock::now() - last_sent >= 300ms);
}

TEST_CASE("upgrade: a 101 to a request that did not ask for it is refused") {
  Stack stack({});
  net::io_context io;
  net::ip::tcp::socket s(io);
  // The upstream answers 101 to a request without Upgrade: refused, not relayed.
  CHECK(Ask(s, stack, "GET /rude HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 502", 0) == 0);
}

TEST_CASE("upgrade: a relay busy past its lifetime is closed") {
  Stack stack({.idle = 5000ms, .lifetime = 500ms});
  net::io_context io;
  net::ip::tcp::socket s(io);
  const auto asked = std::chrono::steady_clock::now();  // the relay starts later than this
  REQUIRE(Ask(s, stack, kUpgrade).rfind("HTTP/1.1 101", 0) == 0);
  // Never idle: a message every 50 ms until the relay ends it.
  bool closed = false;
  for (int i = 0; i < 200 && !closed; ++i) {
    boost::system::error_code ec;
    net::write(s, net::buffer(std::string("ping")), ec);
    std::string got;
    closed = ec || !ReadExactly(s, got, 4);
    if (!closed) std::this_thread::sleep_for(50ms);
  }
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - asked >= 500ms);
}

TEST_CASE("upgrade: a drain closes an open relay at its grace") {
  Stack stack({.idle = 60'000ms, .lifetime = 600'000ms});
  net::io_context io;
  net::ip::tcp::socket s(io);
  REQUIRE(Ask(s, stack, kUpgrade, "ping").rfind("HTTP/1.1 101", 0) == 0);
  std::string got;
  REQUIRE(ReadExactly(s, got, 4));
  stack.relay->Drain();  // grace: 1 s by default
  const auto drained = std::chrono::steady_clock::now();
  std::string none;
  CHECK_FALSE(ReadExactly(s, none, 1));
  CHECK(std::chrono::steady_clock::now() - drained < 30s);  // the grace, not the relay's limits
  CHECK(stack.relay->Drained());
}
