// The HTTP/2 upstream pool (H2UpstreamPool) against our own HTTP/2 server over h2c: answers
// whole and in pieces with their trailers, uploads in pieces with theirs, a body streaming both
// ways message by message (gRPC's bidirectional calls), requests multiplexed on one connection,
// deadlines, and an endpoint that is not there.
#include <catch2/catch.hpp>

// GCC 12 reports a coroutine frame freed by Asio's operator delete as mismatched with its
// operator new, depending on what it inlines (a false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio.hpp>

#include <deque>
#include <future>
#include <thread>

#include "suite/http/body_stream.hpp"
#include "suite/http/client.hpp"
#include "suite/http/router.hpp"
#include "suite/http/server.hpp"
#include "suite/service/runtime.hpp"

using namespace suite::http;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

std::uint64_t Fnv(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}
char PatternAt(std::size_t i) { return static_cast<char>('a' + (i * 7 + i / 4099) % 26); }

// An upload made on the fly: `total` bytes in pieces of `piece`, length not declared.
class Generated final : public BodyStream {
 public:
  Generated(std::size_t total, std::size_t piece) : total_(total), piece_(piece) {}
  Task<std::string_view> Next() override {
    if (sent_ >= total_) co_return std::string_view();
    const std::size_t n = std::min(piece_, total_ - sent_);
    buf_.resize(n);
    for (std::size_t i = 0; i < n; ++i) buf_[i] = PatternAt(sent_ + i);
    sent_ += n;
    co_return std::string_view(buf_);
  }
  BodyStatus status() const override { return BodyStatus::kOk; }
  std::optional<std::uint64_t> length() const override { return std::nullopt; }
  std::uint64_t consumed() const override { return sent_; }

 private:
  std::size_t total_, piece_, sent_ = 0;
  std::string buf_;
};

// An upload the test writes a message at a time (a client streaming), ended by Close(), with
// trailers of its own.
class Channel final : public BodyStream {
 public:
  explicit Channel(const net::any_io_executor& ex) : wake_(ex) {}
  void Push(std::string message) {
    queue_.push_back(std::move(message));
    wake_.cancel();
  }
  void Close() {
    closed_ = true;
    wake_.cancel();
  }
  Task<std::string_view> Next() override {
    while (queue_.empty() && !closed_) {
      wake_.expires_after(10s);
      auto [ec] = co_await wake_.async_wait(net::as_tuple(net::use_awaitable));
      if (!ec) co_return std::string_view();  // the test stalled
    }
    if (queue_.empty()) co_return std::string_view();
    current_ = std::move(queue_.front());
    queue_.pop_front();
    consumed_ += current_.size();
    co_return std::string_view(current_);
  }
  BodyStatus status() const override { return BodyStatus::kOk; }
  std::optional<std::uint64_t> length() const override { return std::nullopt; }
  std::uint64_t consumed() const override { return consumed_; }
  const Headers* trailers() const override { return &trailers_; }

 private:
  net::steady_timer wake_;
  std::deque<std::string> queue_;
  std::string current_;
  bool closed_ = false;
  std::uint64_t consumed_ = 0;
  Headers trailers_{{"x-client-trailer", "yes"}};
};

// The upstream's answer to /stream-echo: each piece of the request's body as it comes, then
// trailers that count them and carry the request's own.
class Echo final : public BodyStream {
 public:
  Echo(BodyStream& in, std::shared_ptr<void> owner) : in_(in), owner_(std::move(owner)) {}
  Task<std::string_view> Next() override {
    const auto piece = co_await in_.Next();
    if (!piece.empty()) {
      ++pieces_;
    } else {
      trailers_ = {{"x-pieces", std::to_string(pieces_)}};
      if (const Headers* t = in_.trailers())
        for (const auto& f : *t) trailers_.push_back(f);
    }
    co_return piece;
  }
  BodyStatus status() const override { return in_.status(); }
  std::optional<std::uint64_t> length() const override { return std::nullopt; }
  std::uint64_t consumed() const override { return in_.consumed(); }
  const Headers* trailers() const override { return &trailers_; }

 private:
  BodyStream& in_;
  std::shared_ptr<void> owner_;  ///< keeps `in_` readable after the handler answered
  int pieces_ = 0;
  Headers trailers_;
};

std::string Field(const Headers& fields, std::string_view name) {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return "";
}

struct Harness {
  suite::service::Runtime runtime;
  suite::obs::Metrics metrics{"up"};
  std::unique_ptr<Server> server;
  std::unique_ptr<H2UpstreamPool> pool;
  std::thread thread;
  std::uint16_t port = 0;

  Harness() {
    server = std::make_unique<Server>(runtime.io(), ServerOptions{.body_limit = 64u << 20}, metrics,
                                      HeadHandler([this](RequestPtr req, BodyReader& body) { return Handle(req, body); }));
    runtime.OnStop([this] { server->Drain(); }, [this] { return server->Drained(); });
    port = server->Listen({.address = "127.0.0.1", .port = 0});
    pool = std::make_unique<H2UpstreamPool>(Loops{&runtime.io()},
                                            UpstreamOptions{.host = "127.0.0.1", .port = port, .http2 = true});
    thread = std::thread([this] { runtime.Run(3000ms); });
  }
  ~Harness() {
    runtime.RequestStop();
    thread.join();
  }

  Task<Response> Handle(RequestPtr req, BodyReader& body) {
    Response res;
    if (req->path == "/echo") {  // whole: the body back, with the caller's metadata, then trailers
      co_await body.Read(1u << 20);
      res.body = req->body;
      res.Set("x-meta", std::string(req->Header("x-meta")));
      res.Set("x-te", std::string(req->Header("te")));
      res.trailers = {{"grpc-status", "0"}, {"x-got", std::to_string(req->body.size())}};
    } else if (req->path == "/sum") {  // an upload read in pieces, answered with what came
      co_await body.Open(64u << 20);
      std::uint64_t h = 1469598103934665603ull, n = 0;
      if (req->body_stream != nullptr) {
        for (auto piece = co_await req->body_stream->Next(); !piece.empty(); piece = co_await req->body_stream->Next()) {
          h = Fnv(piece, h);
          n += piece.size();
        }
      } else {
        h = Fnv(req->body, h);
        n = req->body.size();
      }
      res = Response::Json(200, {{"bytes", n}, {"fnv", h}});
    } else if (req->path == "/stream-echo") {  // both ways at once
      co_await body.Open(64u << 20);
      if (req->body_stream == nullptr || !req->body_owner) co_return Response::Json(400, {{"error", "not streamed"}});
      res.body_stream = std::make_shared<Echo>(*req->body_stream, req->body_owner);
    } else if (req->path == "/big") {  // a long answer, in pieces
      res.body.resize(1u << 20);
      for (std::size_t i = 0; i < res.body.size(); ++i) res.body[i] = PatternAt(i);
      res.trailers = {{"grpc-status", "0"}};
    } else if (req->path == "/slow") {
      net::steady_timer t(co_await net::this_coro::executor, 1500ms);
      co_await t.async_wait(net::as_tuple(net::use_awaitable));
      res = Response::Json(200, {{"slow", true}});
    } else {
      res = Response::Json(404, {{"error", "no"}});
    }
    co_return res;
  }

  // Runs `fn` on the loop (the pool is the loop's) and waits for it.
  template <class Fn>
  auto OnLoop(Fn fn) {
    return net::co_spawn(runtime.io(), fn(), net::use_future).get();
  }

  double Metric(const std::string& line_start) {
    const auto text = metrics.Render();
    const auto at = text.find("\n" + line_start);
    return at == std::string::npos ? -1 : std::stod(text.substr(text.find(' ', at + 1) + 1));
  }
};

}  // namespace

TEST_CASE("h2 upstream: a whole answer with its trailers, the caller's fields passed, te: trailers sent") {
  Harness up;
  // (Built outside the coroutine: GCC 12 cannot initialise its strings from literals inside one.)
  ClientRequest req{.method = "POST", .target = "/echo", .headers = {{"x-meta", "m1"}},
                    .header_lines = "x-api-key: hidden\r\nx-line: l1\r\n", .body = "hello"};
  auto r = up.OnLoop([&]() -> Task<ClientResult> { co_return co_await up.pool->Call(std::move(req)); });
  REQUIRE(r.status == ClientResult::Status::kOk);
  CHECK(r.response.status == 200);
  CHECK(r.response.body == "hello");
  CHECK(r.response.Header("x-meta") == "m1");
  CHECK(r.response.Header("x-te") == "trailers");
  CHECK(Field(r.response.trailers, "grpc-status") == "0");
  CHECK(Field(r.response.trailers, "x-got") == "5");
}

TEST_CASE("h2 upstream: a long answer comes in pieces, then its trailers") {
  Harness up;
  ClientRequest req{.method = "GET", .target = "/big", .stream_response = true};
  auto [bytes, ok, trailer, pieces] = up.OnLoop([&]() -> Task<std::tuple<std::string, bool, std::string, int>> {
    auto r = co_await up.pool->Call(std::move(req));
    if (r.status != ClientResult::Status::kOk || !r.response.body_stream) co_return std::make_tuple(std::string(), false, std::string(), 0);
    std::string all;
    int n = 0;
    for (auto p = co_await r.response.body_stream->Next(); !p.empty(); p = co_await r.response.body_stream->Next()) {
      all += p;
      ++n;
    }
    const Headers* t = r.response.body_stream->trailers();
    co_return std::make_tuple(all, r.response.body_stream->status() == BodyStatus::kOk, t ? Field(*t, "grpc-status") : "", n);
  });
  REQUIRE(ok);
  REQUIRE(bytes.size() == (1u << 20));
  bool same = true;
  for (std::size_t i = 0; i < bytes.size() && same; ++i) same = bytes[i] == PatternAt(i);
  CHECK(same);
  CHECK(pieces > 1);
  CHECK(trailer == "0");
}

TEST_CASE("h2 upstream: an upload in pieces arrives whole, through the flow-control windows") {
  Harness up;
  const std::size_t total = 3u << 20;  // past both of the upstream's windows
  Generated body(total, 10'000);
  ClientRequest req{.method = "POST", .target = "/sum", .body_stream = &body};
  auto r = up.OnLoop([&]() -> Task<ClientResult> { co_return co_await up.pool->Call(std::move(req)); });
  REQUIRE(r.status == ClientResult::Status::kOk);
  std::string expected(total, '\0');
  for (std::size_t i = 0; i < total; ++i) expected[i] = PatternAt(i);
  const auto j = nlohmann::json::parse(r.response.body);
  CHECK(j["bytes"] == total);
  CHECK(j["fnv"] == Fnv(expected));
}

TEST_CASE("h2 upstream: a body streaming both ways is relayed message by message, trailers each way") {
  Harness up;
  auto [echoed, pieces, client_trailer, status] =
      up.OnLoop([&]() -> Task<std::tuple<std::vector<std::string>, std::string, std::string, BodyStatus>> {
        auto channel = std::make_shared<Channel>(co_await net::this_coro::executor);
        ClientRequest req;
        req.method = "POST";
        req.target = "/stream-echo";
        req.body_stream = channel.get();
        req.body_owner = channel;
        req.stream_response = true;
        auto r = co_await up.pool->Call(std::move(req));
        std::vector<std::string> got;
        if (r.status != ClientResult::Status::kOk || !r.response.body_stream)
          co_return std::make_tuple(got, r.error, std::string(), BodyStatus::kFailed);
        auto& answer = *r.response.body_stream;
        // Each message is answered before the next is sent: nothing waits for the whole upload.
        for (int i = 0; i < 5; ++i) {
          channel->Push("message " + std::to_string(i));
          got.emplace_back(co_await answer.Next());
        }
        channel->Close();
        const auto last = co_await answer.Next();
        if (!last.empty()) got.emplace_back(last);
        const Headers* t = answer.trailers();
        co_return std::make_tuple(got, t ? Field(*t, "x-pieces") : "", t ? Field(*t, "x-client-trailer") : "",
                                  answer.status());
      });
  CHECK(echoed == std::vector<std::string>{"message 0", "message 1", "message 2", "message 3", "message 4"});
  CHECK(pieces == "5");
  CHECK(client_trailer == "yes");
  CHECK(status == BodyStatus::kOk);
}

TEST_CASE("h2 upstream: concurrent requests share one connection") {
  Harness up;
  auto oks = up.OnLoop([&]() -> Task<int> {
    auto ex = co_await net::this_coro::executor;
    std::vector<std::future<ClientResult>> results;
    for (int i = 0; i < 50; ++i) {
      ClientRequest req;
      req.method = "POST";
      req.target = "/echo";
      req.body = std::to_string(i);
      results.push_back(net::co_spawn(ex, up.pool->Call(std::move(req)), net::use_future));
    }
    int ok = 0;
    // Wait on the loop without blocking it.
    net::steady_timer t(ex);
    for (auto& f : results) {
      while (f.wait_for(0s) != std::future_status::ready) {
        t.expires_after(5ms);
        co_await t.async_wait(net::as_tuple(net::use_awaitable));
      }
      const auto r = f.get();
      if (r.status == ClientResult::Status::kOk && r.response.status == 200) ++ok;
    }
    co_return ok;
  });
  CHECK(oks == 50);
  CHECK(up.Metric("http_connections_open") == 1);
}

TEST_CASE("h2 upstream: a deadline passed is a timeout, the stream cancelled") {
  Harness up;
  ClientRequest slow{.method = "GET", .target = "/slow", .timeout = 200ms};
  auto r = up.OnLoop([&]() -> Task<ClientResult> { co_return co_await up.pool->Call(std::move(slow)); });
  CHECK(r.status == ClientResult::Status::kTimeout);  // the answer would have come after 1.5 s
  // The connection carries the next request as before.
  ClientRequest next{.method = "POST", .target = "/echo", .body = "x"};
  auto again = up.OnLoop([&]() -> Task<ClientResult> { co_return co_await up.pool->Call(std::move(next)); });
  CHECK(again.status == ClientResult::Status::kOk);
}

TEST_CASE("h2 upstream: nothing listening is a connect failure") {
  suite::service::Runtime runtime;
  H2UpstreamPool pool(Loops{&runtime.io()}, UpstreamOptions{.host = "127.0.0.1", .port = 1, .http2 = true});
  std::thread thread([&] { runtime.Run(1000ms); });
  auto r = net::co_spawn(runtime.io(), pool.Call(ClientRequest{.method = "GET", .target = "/"}), net::use_future).get();
  CHECK(r.status == ClientResult::Status::kConnectFailed);
  runtime.RequestStop();
  thread.join();
}
