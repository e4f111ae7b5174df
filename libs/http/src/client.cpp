#include "suite/http/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <deque>
#include <stdexcept>

#include "head_writer.hpp"
#include "suite/core/url.hpp"
#include "suite/http/loop.hpp"
#include "suite/core/json.hpp"
#include "suite/observability/log.hpp"
#include "upstream_body.hpp"
#include "upstream_common.hpp"
#include "upstream_tunnel.hpp"

namespace suite::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using namespace detail;  // head_writer.hpp

struct UpstreamPool::Impl : std::enable_shared_from_this<UpstreamPool::Impl> {
  Impl(net::io_context& io, const UpstreamOptions& o, std::string n, std::shared_ptr<std::atomic<std::uint64_t>> e)
      : executor(io.get_executor()), options(o), name(std::move(n)), endpoints(1 + o.more.size(), o.health),
        ejections(std::move(e)) {
    for (const auto& ep : o.Endpoints()) targets.push_back({ep, Authority(ep), {}});
  }

  struct Idle {
    std::unique_ptr<PlainStream> stream;
    std::chrono::steady_clock::time_point since;
    std::size_t uses;  ///< requests it carried
  };
  struct Target {
    Endpoint endpoint;
    std::string authority;  ///< "host:port": the Host header and the logs
    std::deque<Idle> idle;  // most recently used at the back
  };
  // The loop's own executor: one thread runs it, so the pool's state needs no strand.
  net::io_context::executor_type executor;
  UpstreamOptions options;
  std::string name;
  std::deque<Target> targets;  // (a deque: Target holds move-only connections)
  EndpointSet endpoints;
  std::shared_ptr<std::atomic<std::uint64_t>> ejections;

  std::unique_ptr<PlainStream> TakeIdle(Target& t, std::size_t& uses) {
    const auto now = std::chrono::steady_clock::now();
    while (!t.idle.empty()) {
      Idle entry = std::move(t.idle.back());
      t.idle.pop_back();
      const auto idle_for = now - entry.since;
      if (idle_for >= options.idle_ttl || !entry.stream->socket().is_open()) continue;
      // A connection back in the pool moments ago is as good as it was then; one that sat idle
      // is checked for a close by the upstream (one syscall, off the busy path).
      if (idle_for < kCheckAfterIdle || QuietAndOpen(entry.stream->socket())) {
        uses = entry.uses;
        return std::move(entry.stream);
      }
    }
    return nullptr;
  }

  // An idle keep-alive connection the upstream closed (EOF) or wrote to (a stray byte) must
  // not carry a request: finding out after sending would leave a POST in doubt (it is then
  // answered 502, never resent).
  // 50 ms: under load a connection comes back within a few ms and is not checked; an upstream
  // killed and started again (the shortest outage seen, ~200 ms under ASan) is always found.
  // Watching idle connections for their close (Envoy's way) would leave no window at all.
  static constexpr std::chrono::milliseconds kCheckAfterIdle{50};
  static bool QuietAndOpen(tcp::socket& socket) {
    char byte;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  net::awaitable<std::unique_ptr<PlainStream>> Connect(const Endpoint& ep, beast::error_code& ec) {
    tcp::resolver resolver(executor);
    auto [rec, results] = co_await resolver.async_resolve(
        ep.host, std::to_string(ep.port), net::as_tuple(net::use_awaitable));
    if (rec) {
      ec = rec;
      co_return nullptr;
    }
    auto stream = std::make_unique<PlainStream>(net::any_io_executor(executor));
    stream->expires_after(options.connect_timeout);
    auto [cec, endpoint] = co_await stream->async_connect(results, net::as_tuple(net::use_awaitable));
    ec = cec;
    if (cec) co_return nullptr;
    stream->socket().set_option(tcp::no_delay(true));
    co_return stream;
  }

  net::awaitable<void> Run(ClientRequest req, std::function<void(ClientResult)> done) {
    done(co_await Call(std::move(req)));
  }

  // Awaited in the caller's own coroutine, on the caller's loop (this pool's): no coroutine
  // spawned, no hand-off.
  net::awaitable<ClientResult> Call(ClientRequest req) {
    auto self = shared_from_this();
    ClientResult result;
    try {
      co_await Exchange(std::move(req), result);
    } catch (const std::exception& e) {
      // e.g. an allocation failure, or Beast refusing an answer: a failed exchange,
      // reported to the caller like any other, never an exception lost in a detached coroutine.
      result = {};
      result.status = ClientResult::Status::kFailed;
      result.error = std::string("request: ") + e.what();
    } catch (...) {
      result = {};
      result.status = ClientResult::Status::kFailed;
      result.error = "request: unknown exception";
    }
    co_return result;
  }

  void Report(const EndpointSet::Choice& c, const ClientResult& r) {
    ReportOutcome(endpoints, c.index, r, name, targets[c.index].authority, *ejections);
  }

  // A connection whose exchange ended cleanly goes back to its endpoint's idle list, unless it
  // carried its share of requests or the list is full.
  void Keep(Target& target, std::unique_ptr<PlainStream> stream, std::size_t uses) {
    if (++uses < options.max_requests_per_connection && target.idle.size() < options.max_idle) {
      stream->expires_never();
      target.idle.push_back({std::move(stream), std::chrono::steady_clock::now(), uses});
    }
  }

  // Beast reads as much as the buffer's free capacity, at least 512 bytes: an answer's head and
  // a short body in one read.
  static constexpr std::size_t kAnswerBuffer = 4096;
  // Answer buffers of this loop's exchanges, kept for the next ones (at most 64, each its
  // reserved size: one that grew for a long head is let go).
  std::vector<beast::flat_buffer> spare_buffers;
  struct SpareBuffer {
    Impl& pool;
    beast::flat_buffer buffer;
    explicit SpareBuffer(Impl& p) : pool(p) {
      if (!pool.spare_buffers.empty()) {
        buffer = std::move(pool.spare_buffers.back());
        pool.spare_buffers.pop_back();
      }
      buffer.reserve(kAnswerBuffer);
    }
    ~SpareBuffer() {
      if (buffer.capacity() < kAnswerBuffer || buffer.capacity() > 2 * kAnswerBuffer || pool.spare_buffers.size() >= 64) return;
      buffer.clear();
      pool.spare_buffers.push_back(std::move(buffer));
    }
  };

  // A failed step of the exchange: a timeout, or `otherwise`.
  static void Failed(ClientResult& r, const beast::error_code& ec, std::string_view what,
                     ClientResult::Status otherwise = ClientResult::Status::kFailed) {
    r.status = ec == beast::error::timeout ? ClientResult::Status::kTimeout : otherwise;
    r.error = std::string(what) + ": " + ec.message();
  }

  static bool Idempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "PUT" || m == "DELETE" || m == "TRACE";
  }

  net::awaitable<void> Exchange(ClientRequest req, ClientResult& result) {
    if (!Frameable(req)) {
      result.status = ClientResult::Status::kFailed;
      result.error = "request: cannot be framed (method, target or a TRACE with content)";
      co_return;
    }
    const bool head = req.method == "HEAD";
    const bool idempotent = Idempotent(req.method);

    // At most one more attempt per endpoint, and only for a request nobody can have acted on.
    const std::size_t attempts = std::max<std::size_t>(2, targets.size());
    for (std::size_t attempt = 0; attempt < attempts; ++attempt) {
      const auto choice = endpoints.Pick(std::chrono::steady_clock::now());
      if (!choice) {
        result.status = ClientResult::Status::kUnavailable;
        result.error = "every endpoint ejected (circuit open)";
        result.retry_after = endpoints.RetryAfter(std::chrono::steady_clock::now());
        co_return;
      }
      Target& target = targets[choice->index];
      const bool retry = co_await Attempt(target, req, head, idempotent, result);
      Report(*choice, result);
      if (!retry) co_return;
    }
  }

  // The request's head for one endpoint (its Host), written by hand (head_writer.hpp).
  static void Head(std::string& out, const ClientRequest& req, const Target& target) {
    AppendRequestLine(out, req.method, req.target);
    AppendField(out, "Host", target.authority);
    for (const auto& [k, v] : req.headers)
      if (!NameEquals(k, "host") && !IsFramingField(k)) AppendField(out, k, v);
    out += req.header_lines;
    if (!req.upgrade.empty()) {
      AppendField(out, "Connection", "upgrade");
      AppendField(out, "Upgrade", req.upgrade);
    }
    if (req.body_stream != nullptr) {
      if (const auto length = req.body_stream->length()) AppendField(out, "Content-Length", *length);
      else AppendField(out, "Transfer-Encoding", "chunked");
    } else if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      AppendField(out, "Content-Length", req.body.size());
    }
    out += "\r\n";
  }

  // One try on one endpoint; true when the request may be sent again (nothing was acted on).
  net::awaitable<bool> Attempt(Target& target, const ClientRequest& req, bool head, bool idempotent,
                               ClientResult& result) {
    std::size_t uses = 0;
    auto stream = TakeIdle(target, uses);
    const bool reused = stream != nullptr;
    beast::error_code ec;
    if (!stream) stream = co_await Connect(target.endpoint, ec);
    if (!stream) {
      Failed(result, ec, "connect " + target.authority, ClientResult::Status::kConnectFailed);
      co_return targets.size() > 1;  // another endpoint may take it
    }
    HeadBuffer head_text;
    Head(*head_text, req, target);
    const auto timeout = req.timeout.value_or(options.request_timeout);
    const std::array<net::const_buffer, 2> buffers{
        net::buffer(*head_text), req.body_stream != nullptr ? net::const_buffer() : net::buffer(req.body)};
    stream->expires_after(timeout);
    auto [wec, wn] = co_await net::async_write(*stream, buffers, net::as_tuple(net::use_awaitable));
    if (wec) {
      Failed(result, wec, "write");
      // Resent only when not one byte of it left: the upstream cannot have acted on it.
      co_return reused && wn == 0 && wec != beast::error::timeout;
    }
    if (req.body_stream != nullptr) {
      if (!co_await SendBody(*stream, *req.body_stream, timeout, result)) co_return false;
      stream->expires_after(timeout);
    }
    // The loop's answer buffers are reused: a request gets one with its capacity, and gives it
    // back when done (unless a streamed answer takes it along).
    SpareBuffer spare(*this);
    beast::flat_buffer& buffer = spare.buffer;
    std::optional<ResponseParser> parser;  // writes the answer into result.response
    beast::error_code rec;
    std::size_t rn = 0;
    // Interim answers (100 Continue, 103 Early Hints) are read past: the final one is the answer.
    for (int interim = 0;; ++interim) {
      result.response = {};  // an interim answer's fields are not the answer's
      result.response.headers.reserve(16);
      parser.emplace(result.response);
      // Streamed, an answer has no cap (a piece is held at a time); held whole, it has.
      if (req.stream_response) parser->body_limit(boost::none);
      else parser->body_limit(options.max_response_body);
      if (head) parser->skip(true);  // a HEAD answer has headers only, whatever it declares
      auto [ec2, n2] = co_await bhttp::async_read_header(*stream, buffer, *parser, net::as_tuple(net::use_awaitable));
      rec = ec2;
      rn += n2;
      const auto code = rec ? 0 : result.response.status;
      if (rec || code < 100 || code >= 200 || code == 101 || interim == 8) break;
    }
    if (rec) {
      result.response = {};
      Failed(result, rec, "read");
      // Nothing came back on a reused connection: it was closed under us. Only a request
      // that may be repeated is sent again; a POST that was written may have been acted on.
      co_return reused && rn == 0 && idempotent && rec != beast::error::timeout;
    }
    if (result.response.status == 101) {
      result.response.body_stream.reset();
      if (req.upgrade.empty() || !NameEquals(result.response.Header("upgrade"), req.upgrade)) {
        result.response = {};
        result.status = ClientResult::Status::kFailed;
        result.error = "read: a 101 answer to a request that did not ask for it";
        co_return false;
      }
      // The connection is the tunnel's now, with whatever came behind the head.
      result.response.upgraded = std::make_shared<UpstreamTunnel>(std::move(stream), std::move(buffer), req.relay);
      result.status = ClientResult::Status::kOk;
      result.error.clear();
      co_return false;
    }
    const auto length = parser->content_length();
    if (req.stream_response && !parser->is_done() && (parser->chunked() || !length || *length > kBodyPiece)) {
      // Long, chunked or until the close: handed out as it arrives; the connection goes with it.
      result.response.body_stream = std::make_shared<UpstreamBody>(
          std::move(stream), std::move(buffer), std::move(*parser), timeout, name,
          [self = shared_from_this(), &target, uses](std::unique_ptr<PlainStream> s) {
            self->Keep(target, std::move(s), uses);
          });
      result.status = ClientResult::Status::kOk;
      result.error.clear();
      co_return false;
    }
    // A short answer's body usually came with its head: parsed from the buffer, no second read.
    beast::error_code bec;
    if (!parser->is_done() && buffer.size() > 0) {
      buffer.consume(parser->put(buffer.data(), bec));
      if (bec == bhttp::error::need_more) bec = {};
    }
    if (!bec && !parser->is_done()) {
      auto [ec3, n3] = co_await bhttp::async_read(*stream, buffer, *parser, net::as_tuple(net::use_awaitable));
      bec = ec3;
    }
    if (bec) {
      Failed(result, bec, "read body");
      result.response = {};
      co_return false;
    }
    result.status = ClientResult::Status::kOk;
    result.error.clear();
    if (parser->keep_alive()) Keep(target, std::move(stream), uses);  // the parser appended the body
    co_return false;
  }

  // A streamed request body, piece by piece as it is pulled (CopyBody). false: the exchange
  // failed (`result` says how) and the connection is dropped.
  static net::awaitable<bool> SendBody(PlainStream& stream, BodyStream& body, std::chrono::milliseconds timeout,
                                       ClientResult& result) {
    if (const auto ec = co_await CopyBody(stream, body, !body.length(), timeout)) {
      Failed(result, ec, "write body");
      co_return false;
    }
    if (body.status() != BodyStatus::kOk) {
      result.status = ClientResult::Status::kBodyFailed;
      result.body_status = body.status();
      result.error = "the request's body failed after " + std::to_string(body.consumed()) + " bytes";
      co_return false;
    }
    co_return true;
  }
};

UpstreamPool::UpstreamPool(net::io_context& io, UpstreamOptions options) : UpstreamPool(Loops{&io}, std::move(options)) {}
UpstreamPool::UpstreamPool(const Loops& loops, UpstreamOptions options)
    : name_(options.host + ":" + std::to_string(options.port)),
      ejections_(std::make_shared<std::atomic<std::uint64_t>>(0)) {
  if (options.tls) throw std::invalid_argument("upstream " + name_ + ": TLS is spoken over HTTP/2 only (H2UpstreamPool)");
  for (auto* loop : loops) impls_.push_back(std::make_shared<Impl>(*loop, options, name_, ejections_));
}

std::uint64_t UpstreamPool::ejections() const { return ejections_->load(); }

std::vector<Endpoint> UpstreamOptions::Endpoints() const {
  std::vector<Endpoint> all{{host, port}};
  all.insert(all.end(), more.begin(), more.end());
  return all;
}
UpstreamPool::~UpstreamPool() = default;

const UpstreamOptions& UpstreamPool::options() const { return impls_.front()->options; }

Task<ClientResult> UpstreamPool::Call(ClientRequest request) {
  // A coroutine runs on a loop's thread: that loop's pool, awaited directly.
  return ForThisLoop(impls_)->Call(std::move(request));
}

void UpstreamPool::Send(ClientRequest request, std::function<void(ClientResult)> done) {
  // Run catches every exception itself and always calls `done`. The caller's loop's pool: its
  // connections, and no hand-off to another thread.
  auto& impl = ForThisLoop(impls_);
  net::co_spawn(impl->executor, impl->Run(std::move(request), std::move(done)), net::detached);
}

namespace {
std::optional<Endpoint> ParseEndpoint(std::string_view text, bool& tls) {
  const auto url = core::ParseUrl(text);
  // http(s)://host:port: an explicit port, no credentials, no path beyond "/", no query.
  if (!url || (url->scheme != "http" && url->scheme != "https") || !url->port || !url->user.empty() ||
      url->has_password || (!url->path.empty() && url->path != "/") || url->has_query || url->has_fragment)
    return std::nullopt;
  tls = url->scheme == "https";
  return Endpoint{url->host, *url->port};
}
}  // namespace

std::optional<UpstreamOptions> ParseUpstreamUrl(std::string_view text) {
  constexpr std::size_t kMaxEndpoints = 16;
  std::vector<Endpoint> all;
  bool tls = false;
  while (true) {
    const auto comma = text.find(',');
    bool this_tls = false;
    auto ep = ParseEndpoint(core::TrimSpace(text.substr(0, comma)), this_tls);
    if (!ep || all.size() == kMaxEndpoints || (!all.empty() && this_tls != tls)) return std::nullopt;
    tls = this_tls;
    all.push_back(std::move(*ep));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  UpstreamOptions o;
  o.host = all.front().host;
  o.port = all.front().port;
  o.more.assign(all.begin() + 1, all.end());
  o.tls = tls;
  return o;
}

}  // namespace suite::http
