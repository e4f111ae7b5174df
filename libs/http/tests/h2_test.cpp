// The HTTP/2 server, spoken to frame by frame: requests and bodies through flow control, and
// every attack RFC 9113 servers have fallen to, each met by its limit (the connection ends with
// GOAWAY ENHANCE_YOUR_CALM, or the stream is refused) and counted by reason.
#include <catch2/catch.hpp>

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include <boost/asio.hpp>

#include <map>
#include <thread>

#include "suite/http/router.hpp"
#include "suite/http/server.hpp"
#include "suite/service/runtime.hpp"
#include "suite/service/worker_pool.hpp"

using namespace suite::http;
namespace net = boost::asio;

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Harness {
  suite::service::Runtime runtime;
  suite::obs::Metrics metrics{"test"};
  suite::service::WorkerPool pool{{.threads = 2}};
  Router router;
  std::unique_ptr<Server> server;
  std::thread thread;
  unsigned short port = 0;

  explicit Harness(ServerOptions opts = {}) {
    router.Inline("GET", "/hello", [](Request& r) {
      return Response::Json(200, {{"rid", r.request_id}, {"host", r.Header("host")}, {"cookie", r.Header("cookie")}});
    });
    router.Inline("POST", "/echo", [](Request& r) {
      Response res;
      res.body = r.body;
      return res;
    });
    router.Inline("GET", "/big", [](Request&) {
      Response res;
      res.body.assign(300 * 1024, 'b');
      return res;
    });
    router.Inline("GET", "/trailers", [](Request&) {
      Response res;
      res.body = "abc";
      res.trailers = {{"Grpc-Status", "0"}, {"grpc-message", "ok"}, {"connection", "dropped"}};
      return res;
    });
    router.Blocking("GET", "/slow", pool, [](Request&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      return Response::Json(200, {{"slow", true}});
    });
    opts.extra_headers = {{"X-Frame-Options", "DENY"}};
    server = std::make_unique<Server>(runtime.io(), opts, metrics, router.Serve(opts.body_limit));
    runtime.OnStop([this] { server->Drain(); }, [this] { return server->Drained(); });
    port = server->Listen({.address = "127.0.0.1", .port = 0});
    thread = std::thread([this] { runtime.Run(std::chrono::milliseconds(3000)); });
  }
  ~Harness() {
    runtime.RequestStop();
    thread.join();
  }
  // The value of http2_refusals_total{reason=...}.
  double Refusals(const std::string& reason) {
    const auto text = metrics.Render();
    const auto key = "http2_refusals_total{reason=\"" + reason + "\"} ";
    const auto at = text.find(key);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size()));
  }
};

struct Frame {
  std::uint8_t type = 0, flags = 0;
  std::uint32_t stream = 0;
  std::string payload;
  std::uint32_t U32(std::size_t at) const {
    return (std::uint32_t(std::uint8_t(payload[at])) << 24) | (std::uint32_t(std::uint8_t(payload[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(payload[at + 2])) << 8) | std::uint32_t(std::uint8_t(payload[at + 3]));
  }
};

// A client that writes frames as given, right or wrong; HPACK by nghttp2's codec.
class RawClient {
 public:
  explicit RawClient(unsigned short port) : socket_(io_) {
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
    timeval tv{10, 0};  // nothing a test waits for takes that long: a hang fails, never blocks
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    nghttp2_hd_deflate_new(&deflater_, 4096);
    nghttp2_hd_inflate_new(&inflater_);
  }
  ~RawClient() {
    nghttp2_hd_deflate_del(deflater_);
    nghttp2_hd_inflate_del(inflater_);
  }

  // Preface and SETTINGS (a window as large as allowed, so answers are not held by ours).
  void Start(std::uint32_t window = 0x7fffffff) {
    std::string settings = Setting(0x4, window);
    Write(std::string(kPreface) + Raw(0x4, 0, 0, settings));
    if (window > 65535) Write(Raw(0x8, 0, 0, U32(0x7fffffff - 65535)));
  }
  static std::string U32(std::uint32_t v) {
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  }
  static std::string Setting(std::uint16_t id, std::uint32_t v) { return std::string{char(id >> 8), char(id)} + U32(v); }
  static std::string Raw(std::uint8_t type, std::uint8_t flags, std::uint32_t stream, std::string_view payload) {
    std::string f{char(payload.size() >> 16), char(payload.size() >> 8), char(payload.size()), char(type), char(flags)};
    f += U32(stream);
    f += payload;
    return f;
  }
  std::string Block(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::vector<nghttp2_nv> nv;
    for (const auto& [k, v] : fields)
      nv.push_back({(uint8_t*)k.data(), (uint8_t*)v.data(), k.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    std::string out(nghttp2_hd_deflate_bound(deflater_, nv.data(), nv.size()), '\0');
    const auto n = nghttp2_hd_deflate_hd(deflater_, (uint8_t*)out.data(), out.size(), nv.data(), nv.size());
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  std::vector<std::pair<std::string, std::string>> Request(std::string method, std::string path) {
    return {{":method", method}, {":scheme", "http"}, {":path", path}, {":authority", "example.test"}};
  }
  void Headers(std::uint32_t stream, const std::vector<std::pair<std::string, std::string>>& fields, bool end_stream) {
    Write(Raw(0x1, 0x4 | (end_stream ? 0x1 : 0), stream, Block(fields)));
  }
  void Get(std::uint32_t stream, const std::string& path) { Headers(stream, Request("GET", path), true); }
  void Data(std::uint32_t stream, std::string_view data, bool end_stream) {
    Write(Raw(0x0, end_stream ? 0x1 : 0, stream, data));
  }
  void Write(std::string_view bytes) {
    boost::system::error_code ec;
    net::write(socket_, net::buffer(bytes.data(), bytes.size()), ec);
  }

  // The next frame; nullopt when the connection closed (or 10 s passed).
  std::optional<Frame> Read() {
    char head[9];
    boost::system::error_code ec;
    net::read(socket_, net::buffer(head), ec);
    if (ec) return std::nullopt;
    Frame f;
    const std::size_t len = (std::size_t(std::uint8_t(head[0])) << 16) | (std::size_t(std::uint8_t(head[1])) << 8) |
                            std::uint8_t(head[2]);
    f.type = std::uint8_t(head[3]);
    f.flags = std::uint8_t(head[4]);
    f.stream = ((std::uint32_t(std::uint8_t(head[5])) & 0x7f) << 24) | (std::uint32_t(std::uint8_t(head[6])) << 16) |
               (std::uint32_t(std::uint8_t(head[7])) << 8) | std::uint8_t(head[8]);
    f.payload.resize(len);
    net::read(socket_, net::buffer(f.payload), ec);
    if (ec) return std::nullopt;
    if (f.type == 0x4 && !(f.flags & 0x1)) Write(Raw(0x4, 0x1, 0, ""));  // ACK the server's SETTINGS
    return f;
  }

  // Every byte until the connection closes.
  std::string ReadAll() {
    std::string all;
    char buf[4096];
    boost::system::error_code ec;
    while (!ec) all.append(buf, socket_.read_some(net::buffer(buf), ec));
    return all;
  }

  struct Answer {
    std::map<std::string, std::string> headers;
    std::string body;
    bool complete = false;
    bool trailers = false;  ///< a HEADERS frame came after DATA
    std::uint32_t reset = 0xffffffff;  ///< RST_STREAM's code, if one came
  };
  std::map<std::uint32_t, Answer> answers;
  std::optional<std::uint32_t> goaway;  ///< GOAWAY's error code, once one came
  bool settings_seen = false;           ///< the server's SETTINGS came (and were acknowledged)

  // Reads frames until `done` holds (true) or the connection ends (false).
  template <class Done>
  bool ReadUntil(Done done) {
    while (!done()) {
      auto f = Read();
      if (!f) return false;
      Take(*f);
    }
    return true;
  }
  bool Complete(std::uint32_t stream) {
    return ReadUntil([&] { return answers[stream].complete || answers[stream].reset != 0xffffffff; });
  }
  void Take(const Frame& f) {
    if (f.type == 0x1) {
      auto& a = answers[f.stream];
      if (!a.body.empty()) a.trailers = true;
      std::string block = f.payload;
      std::size_t at = 0;
      if (f.flags & 0x8) {  // PADDED
        const auto pad = std::uint8_t(block[0]);
        block = block.substr(1, block.size() - 1 - pad);
      }
      if (f.flags & 0x20) block = block.substr(5);  // PRIORITY
      while (at < block.size() || at == 0) {
        nghttp2_nv nv;
        int flags = 0;
        const auto n = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, (const uint8_t*)block.data() + at,
                                             block.size() - at, 1);
        if (n < 0) break;
        at += static_cast<std::size_t>(n);
        if (flags & NGHTTP2_HD_INFLATE_EMIT)
          a.headers[std::string((char*)nv.name, nv.namelen)] = std::string((char*)nv.value, nv.valuelen);
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
          nghttp2_hd_inflate_end_headers(inflater_);
          break;
        }
      }
      if (f.flags & 0x1) a.complete = true;
    } else if (f.type == 0x0) {
      auto& a = answers[f.stream];
      a.body += f.payload;
      if (f.flags & 0x1) a.complete = true;
    } else if (f.type == 0x3) {
      answers[f.stream].reset = f.U32(0);
    } else if (f.type == 0x7) {
      goaway = f.U32(4);
    } else if (f.type == 0x4 && !(f.flags & 0x1)) {
      settings_seen = true;
    }
  }

 private:
  net::io_context io_;
  net::ip::tcp::socket socket_;
  nghttp2_hd_deflater* deflater_ = nullptr;
  nghttp2_hd_inflater* inflater_ = nullptr;
};

constexpr std::uint32_t kEnhanceYourCalm = 0xb;
constexpr std::uint32_t kRefusedStream = 0x7;

}  // namespace

TEST_CASE("h2c: requests on streams get the HTTP/1.1 answers, ids and common headers") {
  Harness h;
  RawClient c(h.port);
  c.Start();
  auto fields = c.Request("GET", "/hello");
  fields.emplace_back("x-request-id", "h2-req-1");
  fields.emplace_back("cookie", "a=1");
  fields.emplace_back("cookie", "b=2");
  c.Headers(1, fields, true);
  c.Get(3, "/hello");
  REQUIRE(c.Complete(1));
  REQUIRE(c.Complete(3));
  auto& a = c.answers[1];
  CHECK(a.headers[":status"] == "200");
  CHECK(a.headers["x-request-id"] == "h2-req-1");
  CHECK(a.headers["x-frame-options"] == "DENY");  // lowercased for HTTP/2
  CHECK_FALSE(a.headers["x-response-time"].empty());
  auto body = nlohmann::json::parse(a.body);
  CHECK(body["rid"] == "h2-req-1");
  CHECK(body["host"] == "example.test");  // :authority stands for Host
  CHECK(body["cookie"] == "a=1; b=2");    // crumbs joined
  CHECK(c.answers[3].headers[":status"] == "200");
  CHECK(c.answers[3].headers["x-request-id"] != "h2-req-1");
  // Counted once the stream has closed, which may be just after the client read its end.
  bool counted = false;
  for (int i = 0; i < 100 && !counted; ++i) {
    counted = h.metrics.Render().find("protocol=\"h2\"") != std::string::npos;
    if (!counted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(counted);
}

TEST_CASE("h2c: an answer's trailers follow its body in a HEADERS frame that ends the stream") {
  Harness h;
  RawClient c(h.port);
  c.Start();
  c.Get(1, "/trailers");
  REQUIRE(c.Complete(1));
  auto& a = c.answers[1];
  CHECK(a.body == "abc");
  CHECK(a.trailers);
  CHECK(a.headers["grpc-status"] == "0");  // lowercased
  CHECK(a.headers["grpc-message"] == "ok");
  CHECK(a.headers.count("connection") == 0);
}

TEST_CASE("h2c: a body past the stream window goes through as the handler reads it, both ways") {
  ServerOptions o;
  o.http2.stream_window = 16 * 1024;
  Harness h(o);
  RawClient c(h.port);
  c.Start();
  // 200 KiB up: the client may send only what the server's windows allow, then waits for them.
  std::string upload(200 * 1024, 'u');
  for (std::size_t i = 0; i < upload.size(); ++i) upload[i] = static_cast<char>('a' + i % 26);
  auto fields = c.Request("POST", "/echo");
  fields.emplace_back("content-length", std::to_string(upload.size()));
  c.Headers(1, fields, false);
  std::size_t sent = 0;
  std::int64_t window = 16 * 1024, conn_window = 65535;
  while (sent < upload.size()) {
    const auto n = std::min<std::int64_t>({std::int64_t(upload.size() - sent), window, conn_window, 16384});
    if (n > 0) {
      c.Data(1, std::string_view(upload).substr(sent, n), sent + n == upload.size());
      sent += n;
      window -= n;
      conn_window -= n;
      continue;
    }
    auto f = c.Read();
    REQUIRE(f);
    if (f->type == 0x8) (f->stream == 0 ? conn_window : window) += f->U32(0);
    else c.Take(*f);
  }
  REQUIRE(c.Complete(1));
  CHECK(c.answers[1].headers[":status"] == "200");
  CHECK(c.answers[1].body == upload);
  // 300 KiB down, to a client with a large window.
  c.Get(3, "/big");
  REQUIRE(c.Complete(3));
  CHECK(c.answers[3].body.size() == 300 * 1024);
  CHECK(c.answers[3].headers["content-length"] == std::to_string(300 * 1024));
}

TEST_CASE("h2c: an answer given before the upload ended lets the upload finish, not reset") {
  Harness h;
  RawClient c(h.port);
  c.Start();
  auto fields = c.Request("POST", "/nowhere");  // 404 before any body is read
  fields.emplace_back("content-length", "30000");
  c.Headers(1, fields, false);
  REQUIRE(c.ReadUntil([&] { return c.answers[1].complete; }));
  CHECK(c.answers[1].headers[":status"] == "404");
  // The client, still uploading, sends the rest (the window given back as it is dropped).
  c.Data(1, std::string(15000, 'x'), false);
  c.Data(1, std::string(15000, 'y'), true);
  c.Get(3, "/hello");
  REQUIRE(c.Complete(3));
  CHECK(c.answers[1].reset == 0xffffffff);  // no RST_STREAM: clients still uploading drop the answer
  CHECK(c.answers[3].headers[":status"] == "200");
}

TEST_CASE("h2c: a body past the handler's cap is refused with 413") {
  ServerOptions o;
  o.body_limit = 1024;
  Harness h(o);
  RawClient c(h.port);
  c.Start();
  auto fields = c.Request("POST", "/echo");
  fields.emplace_back("content-length", "5000");
  c.Headers(1, fields, false);
  REQUIRE(c.Complete(1));
  CHECK(c.answers[1].headers[":status"] == "413");
  // Without a declared length, the cap applies as the body arrives.
  c.Headers(3, c.Request("POST", "/echo"), false);
  c.Data(3, std::string(3000, 'x'), true);
  REQUIRE(c.Complete(3));
  CHECK(c.answers[3].headers[":status"] == "413");
}

TEST_CASE("h2 attack: rapid reset (streams opened and reset in a loop) ends the connection") {
  ServerOptions o;
  o.http2.reset_burst = 50;
  o.http2.resets_per_second = 1;
  Harness h(o);
  RawClient c(h.port);
  c.Start();
  std::string burst;
  for (std::uint32_t id = 1; id < 2 * 120; id += 2) {
    burst += RawClient::Raw(0x1, 0x5, id, c.Block(c.Request("GET", "/hello")));
    burst += RawClient::Raw(0x3, 0, id, RawClient::U32(0x8));  // CANCEL
  }
  c.Write(burst);
  c.ReadUntil([&] { return c.goaway.has_value(); });
  REQUIRE(c.goaway);
  CHECK(*c.goaway == kEnhanceYourCalm);
  CHECK(h.Refusals("rapid_reset") == 1);
}

TEST_CASE("h2 attack: SETTINGS, PING and empty-frame floods end the connection") {
  ServerOptions o;
  o.http2.control_burst = 40;
  o.http2.control_per_second = 1;
  Harness h(o);
  SECTION("SETTINGS") {
    RawClient c(h.port);
    c.Start();
    std::string flood;
    for (int i = 0; i < 100; ++i) flood += RawClient::Raw(0x4, 0, 0, "");
    c.Write(flood);
    c.ReadUntil([&] { return c.goaway.has_value(); });
    REQUIRE(c.goaway);
    CHECK(*c.goaway == kEnhanceYourCalm);
    CHECK(h.Refusals("settings_flood") == 1);
  }
  SECTION("PING") {
    RawClient c(h.port);
    c.Start();
    std::string flood;
    for (int i = 0; i < 100; ++i) flood += RawClient::Raw(0x6, 0, 0, std::string(8, char(i)));
    c.Write(flood);
    c.ReadUntil([&] { return c.goaway.has_value(); });
    REQUIRE(c.goaway);
    CHECK(*c.goaway == kEnhanceYourCalm);
    CHECK(h.Refusals("ping_flood") == 1);
  }
  SECTION("empty DATA frames") {
    RawClient c(h.port);
    c.Start();
    c.Headers(1, c.Request("POST", "/echo"), false);
    std::string flood;
    for (int i = 0; i < 40; ++i) flood += RawClient::Raw(0x0, 0, 1, "");
    c.Write(flood);
    c.ReadUntil([&] { return c.goaway.has_value(); });
    REQUIRE(c.goaway);
    CHECK(*c.goaway == kEnhanceYourCalm);
    CHECK(h.Refusals("empty_frames") == 1);
  }
}

TEST_CASE("h2 attack: a CONTINUATION flood ends the connection") {
  Harness h;
  RawClient c(h.port);
  c.Start();
  const auto block = c.Block(c.Request("GET", "/hello"));
  std::string flood = RawClient::Raw(0x1, 0x1, 1, block.substr(0, 3));  // no END_HEADERS
  for (int i = 0; i < 50; ++i) flood += RawClient::Raw(0x9, 0, 1, "");
  c.Write(flood);
  c.ReadUntil([&] { return c.goaway.has_value(); });
  REQUIRE(c.goaway);
  CHECK(*c.goaway == kEnhanceYourCalm);
  // Empty CONTINUATION frames trip whichever budget comes first; both are floods of them.
  CHECK(h.Refusals("continuation_flood") + h.Refusals("empty_frames") == 1);
  RawClient d(h.port);
  d.Start();
  // Non-empty ones: the CONTINUATION budget.
  std::string flood2 = RawClient::Raw(0x1, 0x1, 1, "");
  flood2 = RawClient::Raw(0x1, 0x1, 1, d.Block(d.Request("GET", "/hello")));
  for (int i = 0; i < 20; ++i) flood2 += RawClient::Raw(0x9, 0, 1, d.Block({{"x-a", std::to_string(i)}}));
  d.Write(flood2);
  d.ReadUntil([&] { return d.goaway.has_value(); });
  REQUIRE(d.goaway);
  CHECK(h.Refusals("continuation_flood") >= 1);
}

TEST_CASE("h2 attack: an HPACK bomb (a header list past the limit) is answered 431") {
  Harness h;
  RawClient c(h.port);
  c.Start();
  // One 4 KiB field entered in the dynamic table, then referred to again and again: a few bytes
  // on the wire decode to far more than the 16 KiB limit.
  auto fields = c.Request("GET", "/hello");
  for (int i = 0; i < 40; ++i) fields.emplace_back("x-bomb", std::string(3000, 'z'));
  const auto block = c.Block(fields);
  CHECK(block.size() < 4000);  // the bomb: small on the wire
  // Split across frames of at most 16 KiB (the server's frame size).
  c.Write(RawClient::Raw(0x1, 0x5, 1, block));
  REQUIRE(c.Complete(1));
  CHECK(c.answers[1].headers[":status"] == "431");
  CHECK(h.Refusals("header_list_too_large") == 1);
  // The connection goes on.
  c.Get(3, "/hello");
  REQUIRE(c.Complete(3));
  CHECK(c.answers[3].headers[":status"] == "200");
}

TEST_CASE("h2 attack: streams past max_concurrent_streams are refused, reset ones counting while they run") {
  ServerOptions o;
  o.http2.max_concurrent_streams = 4;
  Harness h(o);
  RawClient c(h.port);
  c.Start();
  // Four slow requests, reset at once by the client: their handlers still run.
  std::string burst;
  for (std::uint32_t id = 1; id <= 7; id += 2) {
    burst += RawClient::Raw(0x1, 0x5, id, c.Block(c.Request("GET", "/slow")));
    burst += RawClient::Raw(0x3, 0, id, RawClient::U32(0x8));
  }
  // Four more right behind them: refused, since the four reset ones have not ended.
  for (std::uint32_t id = 9; id <= 15; id += 2) burst += RawClient::Raw(0x1, 0x5, id, c.Block(c.Request("GET", "/hello")));
  c.Write(burst);
  REQUIRE(c.ReadUntil([&] { return c.answers[15].reset != 0xffffffff || c.answers[15].complete; }));
  CHECK(c.answers[9].reset == kRefusedStream);
  CHECK(c.answers[15].reset == kRefusedStream);
  CHECK(h.Refusals("too_many_streams") == 4);
  // Once they have ended, streams are taken again.
  std::uint32_t id = 17;
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       std::chrono::steady_clock::now() < until; id += 2) {
    c.Get(id, "/hello");
    REQUIRE(c.Complete(id));
    if (c.answers[id].headers[":status"] == "200") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(c.answers[id].headers[":status"] == "200");
}

TEST_CASE("h2 attack: an answer held by a window at zero is reset after the write timeout") {
  ServerOptions o;
  o.write_timeout = std::chrono::milliseconds(300);
  Harness h(o);
  RawClient c(h.port);
  c.Start(0);  // the client's streams take nothing
  c.Get(1, "/big");
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(c.Complete(1));
  CHECK(c.answers[1].reset == 0x8);  // CANCEL
  CHECK(c.answers[1].body.empty());
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
  CHECK(h.Refusals("slow_read") == 1);
}

TEST_CASE("h2 attack: a header block left open ends the connection after the header timeout") {
  ServerOptions o;
  o.header_timeout = std::chrono::milliseconds(300);
  Harness h(o);
  RawClient c(h.port);
  c.Start();
  // Our acknowledgement of the server's SETTINGS first: nothing but CONTINUATION may follow.
  REQUIRE(c.ReadUntil([&] { return c.settings_seen; }));
  c.Write(RawClient::Raw(0x1, 0x1, 1, c.Block(c.Request("GET", "/hello"))));  // no END_HEADERS, ever
  const auto started = std::chrono::steady_clock::now();
  c.ReadUntil([&] { return c.goaway.has_value(); });
  REQUIRE(c.goaway);
  CHECK(*c.goaway == kEnhanceYourCalm);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
  CHECK(h.Refusals("stream_idle") == 1);
}

TEST_CASE("h2c: a stream whose body never comes is answered 408, an idle connection gets GOAWAY") {
  ServerOptions o;
  o.body_timeout = std::chrono::milliseconds(300);
  o.idle_timeout = std::chrono::milliseconds(500);
  Harness h(o);
  RawClient c(h.port);
  c.Start();
  c.Headers(1, c.Request("POST", "/echo"), false);
  REQUIRE(c.Complete(1));
  CHECK(c.answers[1].headers[":status"] == "408");
  const auto answered = std::chrono::steady_clock::now();
  c.ReadUntil([&] { return c.goaway.has_value(); });
  REQUIRE(c.goaway);
  CHECK(*c.goaway == 0);  // NO_ERROR
  CHECK(std::chrono::steady_clock::now() - answered >= std::chrono::milliseconds(400));
}

TEST_CASE("h2c: a broken preface or frame ends the connection, HTTP/1.1 still served on the port") {
  Harness h;
  {
    RawClient c(h.port);
    c.Write(std::string(kPreface) + "garbage that is no frame at all......");
    CHECK_FALSE(c.ReadUntil([] { return false; }));  // closed
  }
  {
    RawClient c(h.port);
    c.Write("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(c.ReadAll().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  }
}

TEST_CASE("h2: draining sends GOAWAY and lets the open streams finish") {
  Harness h;
  RawClient c(h.port);
  c.Start();
  c.Get(1, "/slow");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  h.server->Drain();
  REQUIRE(c.Complete(1));
  CHECK(c.answers[1].headers[":status"] == "200");
  c.ReadUntil([&] { return c.goaway.has_value(); });
  REQUIRE(c.goaway);
  CHECK(*c.goaway == 0);
}
