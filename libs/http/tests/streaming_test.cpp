// Bodies that stream, end to end on sockets: a relay (a head handler forwarding through an
// UpstreamPool, as the gateway does) in front of an upstream server. Uploads and answers longer
// than a piece pass in pieces, declared or chunked; failures midway reach the other side as
// incomplete messages, never as short ones; a client trickling its body is cut off.
#include <catch2/catch.hpp>

// GCC 12 reports a coroutine frame freed by Asio's operator delete as mismatched with its
// operator new, depending on what it inlines (a false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio.hpp>

#include <cstdint>
#include <future>
#include <thread>

#include "suite/http/client.hpp"
#include "suite/http/router.hpp"
#include "suite/http/server.hpp"
#include "suite/service/runtime.hpp"

using namespace suite::http;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

char PatternAt(std::size_t i) { return static_cast<char>('a' + (i * 7 + i / 4099) % 26); }

std::string Pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = PatternAt(i);
  return s;
}

// FNV-1a: what the upstream says it received, compared with what was sent.
std::uint64_t Fnv(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// A body made on the fly in pieces of `piece` bytes: declared or not, failing after `fail_after`.
class Generated final : public BodyStream {
 public:
  Generated(std::size_t total, std::size_t piece, bool declare, std::size_t fail_after = SIZE_MAX)
      : total_(total), piece_(piece), declare_(declare), fail_after_(fail_after) {}
  Task<std::string_view> Next() override {
    if (sent_ >= total_ || status_ != BodyStatus::kOk) co_return std::string_view();
    if (sent_ >= fail_after_) {
      status_ = BodyStatus::kFailed;
      co_return std::string_view();
    }
    const std::size_t n = std::min(piece_, total_ - sent_);
    buf_.resize(n);
    for (std::size_t i = 0; i < n; ++i) buf_[i] = PatternAt(sent_ + i);
    sent_ += n;
    co_return std::string_view(buf_);
  }
  BodyStatus status() const override { return status_; }
  std::optional<std::uint64_t> length() const override {
    return declare_ ? std::optional<std::uint64_t>(total_) : std::nullopt;
  }
  std::uint64_t consumed() const override { return sent_; }

 private:
  std::size_t total_, piece_;
  bool declare_;
  std::size_t fail_after_;
  std::size_t sent_ = 0;
  std::string buf_;
  BodyStatus status_ = BodyStatus::kOk;
};

// Counts what passes through a stream: the relay's view of the upload.
class Counting final : public BodyStream {
 public:
  explicit Counting(BodyStream& inner, std::atomic<std::size_t>& max_piece) : inner_(inner), max_piece_(max_piece) {}
  Task<std::string_view> Next() override {
    const auto piece = co_await inner_.Next();
    if (piece.size() > max_piece_) max_piece_ = piece.size();
    co_return piece;
  }
  BodyStatus status() const override { return inner_.status(); }
  std::optional<std::uint64_t> length() const override { return inner_.length(); }
  std::uint64_t consumed() const override { return inner_.consumed(); }

 private:
  BodyStream& inner_;
  std::atomic<std::size_t>& max_piece_;
};

std::size_t QueryNumber(const Request& r, std::string_view name, std::size_t fallback) {
  const auto v = r.Query(name);
  return v ? std::stoull(*v) : fallback;
}

struct Stack {
  suite::service::Runtime runtime;
  suite::obs::Metrics upstream_metrics{"up"};
  suite::obs::Metrics relay_metrics{"relay"};
  Router router;
  std::unique_ptr<Server> upstream;
  std::unique_ptr<Server> relay;
  std::unique_ptr<UpstreamPool> relay_pool;  // the relay's way upstream
  std::unique_ptr<UpstreamPool> client;      // the test's way to the relay
  std::thread thread;
  std::uint16_t relay_port = 0;
  // What the relay and the upstream saw.
  std::atomic<int> sums{0};                  // requests the upstream acted on
  std::atomic<int> streamed_uploads{0};      // requests whose body the relay got as a stream
  std::atomic<int> streamed_answers{0};      // answers the relay got as a stream
  std::atomic<std::size_t> max_piece{0};
  std::atomic<int> body_failures{0};
  std::atomic<BodyStatus> last_body_status{BodyStatus::kOk};

  explicit Stack(ServerOptions relay_options = {}) {
    router.Inline("POST", "/sum", [this](Request& r) {
      ++sums;
      return Response::Json(200, {{"bytes", r.body.size()}, {"fnv", Fnv(r.body)}});
    });
    router.Inline("GET", "/big", [](Request& r) {
      Response res;
      res.body = Pattern(QueryNumber(r, "n", 0));
      return res;
    });
    router.Inline("GET", "/gen", [](Request& r) {
      Response res;
      res.body_stream = std::make_shared<Generated>(QueryNumber(r, "n", 0), 10'000, r.Query("declare") == "1",
                                                    QueryNumber(r, "fail", SIZE_MAX));
      return res;
    });
    upstream = std::make_unique<Server>(runtime.io(), ServerOptions{.body_limit = 64u << 20}, upstream_metrics,
                                        router.Serve(64u << 20));
    const auto up_port = upstream->Listen({.address = "127.0.0.1", .port = 0});
    relay_pool = std::make_unique<UpstreamPool>(runtime.io(), UpstreamOptions{.host = "127.0.0.1", .port = up_port});
    relay_options.body_limit = 64u << 20;
    relay = std::make_unique<Server>(runtime.io(), relay_options, relay_metrics,
                                     HeadHandler([this](RequestPtr req, BodyReader& body) { return Relay(req, body); }));
    relay_port = relay->Listen({.address = "127.0.0.1", .port = 0});
    client = std::make_unique<UpstreamPool>(runtime.io(), UpstreamOptions{.host = "127.0.0.1", .port = relay_port});
    thread = std::thread([this] { runtime.Run(2000ms); });
  }
  ~Stack() {
    runtime.RequestStop();
    thread.join();
  }

  Task<Response> Relay(RequestPtr req, BodyReader& body) {
    const auto limit = QueryNumber(*req, "limit", 32u << 20);
    const auto admitted = co_await body.Open(limit);
    if (admitted == BodyStatus::kTooLarge) co_return Response::Json(413, {{"error", "too large"}});
    if (admitted != BodyStatus::kOk) co_return Response::Json(400, {{"error", "incomplete"}});
    ClientRequest out{.method = req->method, .target = req->target, .body = std::move(req->body)};
    std::optional<Counting> counting;
    if (req->body_stream != nullptr) {
      ++streamed_uploads;
      counting.emplace(*req->body_stream, max_piece);
      out.body_stream = &*counting;
    }
    out.stream_response = true;
    auto r = co_await relay_pool->Call(std::move(out));
    if (r.status == ClientResult::Status::kBodyFailed) {
      ++body_failures;
      last_body_status = r.body_status;
      co_return Response::Json(r.body_status == BodyStatus::kTooLarge ? 413 : 400, {{"error", "body failed"}});
    }
    if (r.status != ClientResult::Status::kOk) co_return Response::Json(502, {{"error", r.error}});
    if (r.response.body_stream) ++streamed_answers;
    Response res;
    res.status = r.response.status;
    res.body = std::move(r.response.body);
    res.body_stream = std::move(r.response.body_stream);
    co_return res;
  }

  ClientResult Send(ClientRequest req) {
    std::promise<ClientResult> p;
    client->Send(std::move(req), [&](ClientResult r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  // Raw bytes to the relay (a client that misbehaves); what comes back until close or silence.
  // What arrives while it is still sending is read as it comes (a reset would discard it).
  std::string Raw(const std::vector<std::string>& parts, std::chrono::milliseconds pause = 0ms,
                  std::chrono::milliseconds wait = 3000ms) {
    net::io_context io;
    net::ip::tcp::socket s(io);
    s.connect({net::ip::make_address("127.0.0.1"), relay_port});
    std::string out;
    boost::system::error_code ec;
    for (const auto& p : parts) {
      s.non_blocking(false);
      net::write(s, net::buffer(p), ec);
      if (ec) break;
      if (pause > 0ms) std::this_thread::sleep_for(pause);
      if (!ReadAvailable(s, out)) break;
    }
    ReadUntil(s, out, wait);
    return out;
  }
  // Appends what is there; false once the peer closed or reset.
  static bool ReadAvailable(net::ip::tcp::socket& s, std::string& out) {
    s.non_blocking(true);
    char buf[16384];
    while (true) {
      boost::system::error_code ec;
      const auto n = s.read_some(net::buffer(buf), ec);
      if (ec == net::error::would_block) return true;
      if (ec) return false;
      out.append(buf, n);
    }
  }
  static void ReadUntil(net::ip::tcp::socket& s, std::string& out, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto before = out.size();
      if (!ReadAvailable(s, out)) return;
      if (out.size() == before) std::this_thread::sleep_for(5ms);
    }
  }
  static std::string ReadAll(net::ip::tcp::socket& s, std::chrono::milliseconds wait) {
    std::string out;
    ReadUntil(s, out, wait);
    return out;
  }
  std::string UpstreamConnectionsOpen() {
    const auto text = upstream_metrics.Render();
    const auto at = text.find("\nhttp_connections_open");
    return at == std::string::npos ? "" : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  }
};

nlohmann::json Sum(std::size_t n) { return {{"bytes", n}, {"fnv", Fnv(Pattern(n))}}; }

}  // namespace

TEST_CASE("streaming: a long upload passes through in pieces, declared or chunked, a short one whole") {
  Stack s;
  for (const bool declare : {true, false}) {
    Generated body(5u << 20, 48 * 1024, declare);
    auto r = s.Send({.method = "POST", .target = "/sum", .body_stream = &body});
    REQUIRE(r.status == ClientResult::Status::kOk);
    CHECK(r.response.status == 200);
    CHECK(nlohmann::json::parse(r.response.body) == Sum(5u << 20));
  }
  CHECK(s.streamed_uploads == 2);
  CHECK(s.max_piece > 0);
  CHECK(s.max_piece <= kBodyPiece);
  // Up to a piece, declared: read whole (and so may be sent again on a fresh connection).
  auto r = s.Send({.method = "POST", .target = "/sum", .body = Pattern(kBodyPiece)});
  CHECK(nlohmann::json::parse(r.response.body) == Sum(kBodyPiece));
  CHECK(s.streamed_uploads == 2);
  CHECK(s.sums == 3);
}

TEST_CASE("streaming: a long answer passes through in pieces and its connection is kept") {
  Stack s;
  auto r = s.Send({.method = "GET", .target = "/big?n=3000000"});
  REQUIRE(r.status == ClientResult::Status::kOk);
  CHECK(r.response.body == Pattern(3'000'000));
  CHECK(r.response.Header("content-length") == "3000000");
  // Chunked from the upstream (a streamed answer of unknown length): chunked to the client.
  r = s.Send({.method = "GET", .target = "/gen?n=2500001"});
  REQUIRE(r.status == ClientResult::Status::kOk);
  CHECK(r.response.body == Pattern(2'500'001));
  CHECK(r.response.Header("transfer-encoding") == "chunked");
  r = s.Send({.method = "GET", .target = "/gen?n=700000&declare=1"});
  CHECK(r.response.body == Pattern(700'000));
  CHECK(s.streamed_answers == 3);
  // Short answers come whole.
  r = s.Send({.method = "GET", .target = "/big?n=100"});
  CHECK(r.response.body == Pattern(100));
  CHECK(s.streamed_answers == 3);
  // Each streamed answer read to its end gave its connection back: one connection carried all.
  CHECK(s.UpstreamConnectionsOpen() == "http_connections_open 1");
}

TEST_CASE("streaming: an answer that fails midway reaches the client incomplete, never short") {
  Stack s;
  auto r = s.Send({.method = "GET", .target = "/gen?n=1000000&fail=200000"});
  CHECK(r.status == ClientResult::Status::kFailed);  // no last chunk: a partial message
  r = s.Send({.method = "GET", .target = "/gen?n=1000000&fail=200000&declare=1"});
  CHECK(r.status == ClientResult::Status::kFailed);  // short of its Content-Length
  // The relay and the upstream serve on.
  r = s.Send({.method = "GET", .target = "/gen?n=300000"});
  CHECK(r.response.body == Pattern(300'000));
}

TEST_CASE("streaming: an upload that fails midway is never acted on upstream") {
  Stack s;
  // The client stops sending after 200 KB of a declared megabyte, and goes away.
  const std::string head = "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
  auto out = s.Raw({head, Pattern(200'000)}, 0ms, 300ms);
  // Its failure to finish is its own: a client source that fails is reported as such, and the
  // upstream's connection is dropped, so it never sees a complete request.
  Generated failing(1'000'000, 30'000, true, 200'000);
  auto r = s.Send({.method = "POST", .target = "/sum", .body_stream = &failing});
  CHECK(r.status == ClientResult::Status::kBodyFailed);
  CHECK(r.body_status == BodyStatus::kFailed);
  // Chunked past the route's cap: 413, after part of it went upstream, which never acts on it.
  std::string chunks;
  for (int i = 0; i < 5; ++i) chunks += "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
  out = s.Raw({"POST /sum?limit=200000 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", chunks, "0\r\n\r\n"});
  CHECK(out.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(out.find("Connection: close") != std::string::npos);
  std::this_thread::sleep_for(200ms);
  CHECK(s.sums == 0);
  CHECK(s.body_failures >= 2);
  // A whole one afterwards is.
  Generated whole(300'000, 30'000, true);
  r = s.Send({.method = "POST", .target = "/sum", .body_stream = &whole});
  CHECK(nlohmann::json::parse(r.response.body) == Sum(300'000));
  CHECK(s.sums == 1);
}

TEST_CASE("streaming: 100 Continue comes when the body is opened, then it streams") {
  Stack s;
  net::io_context io;
  net::ip::tcp::socket sock(io);
  sock.connect({net::ip::make_address("127.0.0.1"), s.relay_port});
  net::write(sock, net::buffer(std::string(
                       "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\nExpect: 100-continue\r\n\r\n")));
  char buf[256];
  const auto n = sock.read_some(net::buffer(buf));
  CHECK(std::string(buf, n).rfind("HTTP/1.1 100 Continue", 0) == 0);
  net::write(sock, net::buffer(Pattern(200'000)));
  const auto out = Stack::ReadAll(sock, 1000ms);
  CHECK(out.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(out.find(Sum(200'000).dump()) != std::string::npos);
  // Past the cap by its declared length: refused, and not invited.
  const auto refused = s.Raw({"POST /sum?limit=100000 HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n"
                              "Expect: 100-continue\r\n\r\n"}, 0ms, 500ms);
  CHECK(refused.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(refused.find("100 Continue") == std::string::npos);
}

TEST_CASE("streaming: a body trickled a few bytes at a time is cut off by the minimum rate") {
  // Every read comes well within the body timeout (300 ms), but at 10 bytes per 100 ms the
  // budget (the body timeout plus a second per KiB) runs out after ~300 ms of waiting. As with
  // nginx's body timeout, the connection is closed without an answer (there is no one to read it).
  Stack s(ServerOptions{.body_timeout = 300ms});
  std::vector<std::string> parts{"POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"};
  for (int i = 0; i < 40; ++i) parts.push_back(std::string(10, 'x'));
  const auto started = std::chrono::steady_clock::now();
  const auto out = s.Raw(parts, 100ms, 500ms);
  CHECK(out.find("HTTP/1.1 200") == std::string::npos);
  CHECK(s.body_failures == 1);
  CHECK(s.last_body_status == BodyStatus::kTimedOut);
  CHECK(s.sums == 0);
  // Cut off well before the client was done trickling (40 × 100 ms).
  CHECK(std::chrono::steady_clock::now() - started < 3000ms);
}

TEST_CASE("streaming: an HTTP/1.0 client gets an answer of unknown length until the close") {
  Stack s;
  const auto out = s.Raw({"GET /gen?n=150000 HTTP/1.0\r\n\r\n"}, 0ms, 2000ms);
  REQUIRE(out.rfind("HTTP/1.0 200", 0) == 0);
  const auto blank = out.find("\r\n\r\n");
  const auto head = out.substr(0, blank);
  CHECK(head.find("Content-Length") == std::string::npos);
  CHECK(head.find("chunked") == std::string::npos);
  CHECK(out.substr(blank + 4) == Pattern(150'000));
}
