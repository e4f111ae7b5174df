// The HTTP/2 frame path, whole: the preface, then the input as the client's bytes, into a real
// server (libnghttp2 and our glue: flood budgets, streams, bodies, answers, the window kept)
// on a loop in this thread, over a loopback connection; the client then closes its side and
// reads until the server closes. A crash, a sanitizer report, a leak or a connection that never
// ends (a timeout) is a finding.
#include <boost/asio.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "suite/http/router.hpp"
#include "suite/http/server.hpp"
#include "suite/observability/log.hpp"

namespace net = boost::asio;
using namespace suite::http;

namespace {

struct Fixture {
  net::io_context io;
  suite::obs::Metrics metrics{"fuzz"};
  Router router;
  std::unique_ptr<Server> server;
  std::uint16_t port = 0;

  Fixture() {
    suite::obs::SetMinLevel(suite::obs::Level::kError);
    router.Inline("GET", "/hello", [](Request&) { return Response::Json(200, {{"ok", true}}); });
    router.Inline("POST", "/echo", [](Request& r) {
      Response res;
      res.body = r.body;
      return res;
    });
    router.Inline("GET", "/big", [](Request&) {
      Response res;
      res.body.assign(100 * 1024, 'b');
      return res;
    });
    ServerOptions o;
    o.body_limit = 64 * 1024;
    o.header_timeout = o.body_timeout = o.write_timeout = std::chrono::milliseconds(200);
    o.http2.control_burst = 64;
    o.http2.reset_burst = 32;
    server = std::make_unique<Server>(io, o, metrics, router.Serve(o.body_limit));
    port = server->Listen({.address = "127.0.0.1", .port = 0});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture f;
  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bytes.append(reinterpret_cast<const char*>(data), size);
  net::ip::tcp::socket client(f.io);
  bool done = false;
  std::array<char, 16 * 1024> sink;
  std::function<void()> read_all = [&] {
    client.async_read_some(net::buffer(sink), [&](boost::system::error_code ec, std::size_t) {
      if (ec) {
        done = true;
        return;
      }
      read_all();
    });
  };
  client.async_connect({net::ip::make_address("127.0.0.1"), f.port}, [&](boost::system::error_code ec) {
    if (ec) {
      done = true;
      return;
    }
    read_all();
    net::async_write(client, net::buffer(bytes), [&](boost::system::error_code, std::size_t) {
      boost::system::error_code ignored;
      client.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    });
  });
  while (!done) f.io.run_one();
  // What the server still has to finish for this connection (its coroutines end).
  f.io.poll();
  return 0;
}
