// A head-first handler (the gateway's chain) against a real server on a socket: refusals never
// read the body nor invite it with 100 Continue; an admitted body is read under the handler's
// cap; a body left unread closes the connection after a complete answer.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <thread>

#include "suite/http/client.hpp"
#include "suite/http/server.hpp"
#include "suite/service/runtime.hpp"
#include "suite/service/worker_pool.hpp"

using namespace suite::http;
namespace net = boost::asio;

namespace {

Task<Response> Handle(RequestPtr req, BodyReader& body) {
  if (req->path == "/refuse")
    co_return ErrorReply(suite::core::ApiError(suite::core::ErrorCode::kUnauthenticated, "no"), req->request_id);
  const auto status = co_await body.Read(10);
  Response res;
  if (status == BodyReader::Status::kTooLarge) {
    res = ErrorReply(suite::core::ApiError(suite::core::ErrorCode::kPayloadTooLarge, "too large"), req->request_id);
  } else {
    res.body = req->body;
    res.Set("x-declared", body.content_length() ? std::to_string(*body.content_length()) : "none");
  }
  co_return res;
}

struct HeadServer {
  suite::service::Runtime runtime;
  suite::obs::Metrics metrics{"test"};
  std::unique_ptr<Server> server;
  std::thread thread;
  std::uint16_t port = 0;
  HeadServer() {
    server = std::make_unique<Server>(runtime.io(), ServerOptions{.body_limit = 1000, .header_limit = 2048, .target_limit = 256},
                                      metrics, HeadHandler(Handle));
    port = server->Listen({.address = "127.0.0.1", .port = 0});
    thread = std::thread([this] { runtime.Run(std::chrono::milliseconds(2000)); });
  }
  ~HeadServer() {
    runtime.RequestStop();
    thread.join();
  }
  // Sends raw bytes; returns what arrives until the server closes or `wait` passes in silence.
  std::string Exchange(const std::string& bytes, std::chrono::milliseconds wait = std::chrono::milliseconds(1500)) {
    net::io_context io;
    net::ip::tcp::socket s(io);
    s.connect({net::ip::make_address("127.0.0.1"), port});
    net::write(s, net::buffer(bytes));
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    s.non_blocking(true);
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      const auto n = s.read_some(net::buffer(buf), ec);
      if (ec == net::error::would_block) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("head handler: a refusal comes first, without 100 Continue, and closes the connection") {
  HeadServer h;
  const auto out = h.Exchange("POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(out.find("100 Continue") == std::string::npos);
  CHECK(out.find("Connection: close") != std::string::npos);
}

TEST_CASE("head handler: an admitted body is read after 100 Continue, and keep-alive goes on") {
  HeadServer h;
  const auto out = h.Exchange(
      "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(out.find("hello") != std::string::npos);
  CHECK(out.find("x-declared: 5") != std::string::npos);
  CHECK(out.find("x-declared: none") != std::string::npos);  // the second answer, same connection
  CHECK(out.find("\r\n\r\nabc") != std::string::npos);
  // With Expect: 100-continue, the 100 comes when the handler asks for the body.
  net::io_context io;
  net::ip::tcp::socket s(io);
  s.connect({net::ip::make_address("127.0.0.1"), h.port});
  net::write(s, net::buffer(std::string("POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")));
  char buf[256];
  const auto n = s.read_some(net::buffer(buf));
  CHECK(std::string(buf, n).rfind("HTTP/1.1 100 Continue", 0) == 0);
  net::write(s, net::buffer(std::string("ok")));
  std::string rest;
  while (rest.find("\r\n\r\nok") == std::string::npos) {
    boost::system::error_code ec;
    const auto m = s.read_some(net::buffer(buf), ec);
    if (ec) break;
    rest.append(buf, m);
  }
  CHECK(rest.rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("head handler: the handler's cap refuses by Content-Length and while reading chunks") {
  HeadServer h;
  auto out = h.Exchange("POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
  CHECK(out.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(out.find("Connection: close") != std::string::npos);
  out = h.Exchange("POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(out.find("PAYLOAD_TOO_LARGE") != std::string::npos);
  // Past the server's own cap the head is refused before the handler sees it.
  out = h.Exchange("POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 413", 0) == 0);
}

TEST_CASE("server: 414 for a long target, 431 for large headers, each with its own code") {
  HeadServer h;
  auto out = h.Exchange("GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 414", 0) == 0);
  CHECK(out.find("URI_TOO_LONG") != std::string::npos);
  out = h.Exchange("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(3000, 'b') + "\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 431", 0) == 0);
  CHECK(out.find("REQUEST_HEADER_FIELDS_TOO_LARGE") != std::string::npos);
}
