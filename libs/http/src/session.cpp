// One connection's HTTP/1.1 exchanges: heads under their limits and timeouts, the handler,
// bodies read when (and as far as) the handler admits them, answers with the common headers,
// keep-alive until idle, the drain or an error, one log line and metrics per request.
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>

#include "body_pieces.hpp"
#include "head_writer.hpp"
#include "server_core.hpp"
#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
#include "suite/http/router.hpp"

namespace suite::http::detail {

namespace bhttp = beast::http;
using core::ErrorCode;
using namespace std::chrono_literals;

namespace {

std::string Lower(beast::string_view s) {
  std::string out(s.data(), s.size());
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Kept out of the coroutine body: GCC 12 mis-destroys temporaries of a conditional expression
// inside coroutines.
void AssignRequestId(Request& req) {
  auto client_id = core::ClientRequestId(req.Header("x-request-id"), req.Header("x-cloud-trace-context"));
  req.request_id = client_id ? std::move(*client_id) : core::NewUuid();
  auto trace = core::TraceIdOf(req.Header("traceparent"));
  req.trace_id = trace ? std::move(*trace) : core::RandomHex(16);
}

// RFC 9112 §3.2 and §6.1: what a request head must satisfy before its body is framed. A
// Transfer-Encoding other than exactly "chunked", or next to a Content-Length, is how requests
// are smuggled past a proxy: refused with 400 and the connection closed.
const char* FramingError(const bhttp::request<bhttp::string_body>& head) {
  const auto hosts = head.count(bhttp::field::host);
  if (head.version() >= 11 ? hosts != 1 : hosts > 1) return "Exactly one Host header is required";
  const auto te = head.count(bhttp::field::transfer_encoding);
  if (te == 0) return nullptr;
  if (head.version() < 11) return "Transfer-Encoding is not allowed in HTTP/1.0";
  if (head.count(bhttp::field::content_length) > 0)
    return "Transfer-Encoding and Content-Length together are not allowed";
  const auto raw = head[bhttp::field::transfer_encoding];
  const auto v = core::TrimSpace(std::string_view(raw.data(), raw.size()));
  if (te != 1 || !beast::iequals(v, "chunked")) return "Unsupported Transfer-Encoding (only chunked)";
  return nullptr;
}

constexpr std::size_t kIdleBuffer = 2048;

// Beast reads as much as the buffer's free capacity (an idle connection's is 2 KB): room for a
// declared body, up to a piece, so that it takes a read or a few rather than one per 2 KB.
void ReserveFor(beast::flat_buffer& buffer, boost::optional<std::uint64_t> length) {
  if (length) buffer.reserve(buffer.size() + static_cast<std::size_t>(std::min<std::uint64_t>(*length, kBodyPiece)));
}

template <class Stream>
class Connection {
 public:
  Connection(ServerCore& core, Stream& stream, const net::ip::address& client, bool secure)
      : core(core), stream(stream), remote_ip(client.to_string()), secure(secure) {}

  net::awaitable<void> Run() {
    auto& lowest = beast::get_lowest_layer(stream);
    std::list<SessionHandle>::iterator handle;
    auto alive = std::make_shared<bool>(true);
    {
      std::lock_guard lock(core.mu);
      auto ex = lowest.get_executor();
      // Runs on the session's strand; `alive` is cleared there too before the stream goes away.
      core.sessions.push_front({[&lowest, ex, alive] {
                             net::post(ex, [&lowest, alive] {
                               if (*alive) lowest.cancel();
                             });
                           },
                           true});
      handle = core.sessions.begin();
    }
    beast::flat_buffer buffer;
    for (bool first = true;; first = false) {
      // Draining: a connection between requests stays for the drain's grace (its client may be
      // sending the next request right now), then closes; its next answer says Connection: close.
      if (core.idle_closed && buffer.size() == 0) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(core.options.header_limit));
      parser.body_limit(core.options.body_limit);
      if (!first && buffer.size() == 0) {
        // Keep-alive: the idle timeout covers the wait for the next request's first byte only.
        lowest.expires_after(core.draining ? core.options.drain_idle_grace : core.options.idle_timeout);
        // An idle connection keeps 2 KB for its next request's first bytes, not what the last
        // one grew the buffer to (nginx keeps 1 KB): 10,000 idle connections, ~20 MB. A head
        // longer than that takes one more read.
        if (buffer.capacity() > kIdleBuffer) buffer.shrink_to_fit();
        auto [iec, in] = co_await stream.async_read_some(buffer.prepare(kIdleBuffer),
                                                         net::as_tuple(net::use_awaitable));
        buffer.commit(in);
        if (iec && in == 0) break;
      }
      // From the first byte (or from accept/handshake for a connection's first request), the
      // whole head must arrive within the header timeout, however slowly it trickles.
      lowest.expires_after(core.options.header_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser,
                                                       net::as_tuple(net::use_awaitable));
      {
        std::lock_guard lock(core.mu);
        handle->idle = false;
      }
      if (ec == bhttp::error::body_limit) {
        co_await WriteError(ErrorCode::kPayloadTooLarge, "Request body too large");
        co_await Discard();
        break;
      }
      if (ec == bhttp::error::header_limit) {
        co_await WriteError(ErrorCode::kHeadersTooLarge, "Request header fields too large");
        break;
      }
      if (ec) {
        if (n > 0 || buffer.size() > 0)
          if (ec != beast::error::timeout && ec != net::error::operation_aborted)
            co_await WriteError(ErrorCode::kBadRequest, "Malformed HTTP request");
        break;
      }
      auto& head = parser.get();
      if (const char* framing = FramingError(head)) {
        co_await WriteError(ErrorCode::kBadRequest, framing);
        break;
      }
      if (head.target().size() > core.options.target_limit) {
        co_await WriteError(ErrorCode::kUriTooLong, "Request URI too long");
        break;
      }
      const bool expects_continue = beast::iequals(head[bhttp::field::expect], "100-continue");
      const unsigned version = head.version();  // `head` may be moved into a streaming parser
      if (!core.head_handler && !parser.is_done()) {
        if (expects_continue && !co_await Continue(head.version())) break;
        ReserveFor(buffer, parser.content_length());
        lowest.expires_after(core.options.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser,
                                                    net::as_tuple(net::use_awaitable));
        if (bec == bhttp::error::body_limit) {
          co_await WriteError(ErrorCode::kPayloadTooLarge, "Request body too large");
          co_await Discard();
          break;
        }
        if (bec) break;
      }
      ++core.active;
      core.metrics.in_flight().Increment();
      auto req = MakeRequest(head, remote_ip, secure);
      Response res;
      bool drain = false;  // a body left unread: answer, then drain it and close
      if (core.head_handler) {
        HeadBody body(*this, stream, buffer, parser, *req, expects_continue);
        try {
          res = co_await core.head_handler(req, body);
        } catch (...) {
          res = ErrorFromException(std::current_exception(), *req);
        }
        // A body left unread: the rest is drained after the answer (a client gone or
        // reset ends that at once).
        if (!body.complete()) {
          req->keep_alive = false;
          drain = true;
        }
      } else {
        req->body = std::move(head.body());
        res = co_await Dispatch(req, lowest.get_executor());
      }
      bool keep = req->keep_alive && !core.draining;
      // HTTP/1.0 has no chunks: a streamed answer of unknown length ends with the connection.
      if (res.body_stream && !res.body_stream->length() && version < 11) keep = false;
      const bool ok = co_await Write(res, keep, version, req.get());
      Observe(*req, res);
      --core.active;
      core.metrics.in_flight().Decrement();
      if (ok && drain) co_await Discard();
      if (!ok || !keep) break;
      std::lock_guard lock(core.mu);
      handle->idle = true;
    }
    {
      std::lock_guard lock(core.mu);
      core.sessions.erase(handle);
    }
    *alive = false;
  }

  static RequestPtr MakeRequest(const bhttp::request<bhttp::string_body>& head, const std::string& remote_ip,
                                bool secure) {
    auto req = std::make_shared<Request>();
    req->method = std::string(head.method_string());
    req->target = std::string(head.target());
    const auto q = req->target.find('?');
    req->path = req->target.substr(0, q);
    if (q != std::string::npos) req->query = req->target.substr(q + 1);
    req->headers.reserve(16);
    for (const auto& f : head) req->headers.emplace_back(Lower(f.name_string()), std::string(f.value()));
    req->remote_ip = remote_ip;
    req->secure = secure;
    req->keep_alive = head.keep_alive();
    AssignRequestId(*req);
    return req;
  }

  net::awaitable<bool> Continue(unsigned version) {
    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
    beast::get_lowest_layer(stream).expires_after(core.options.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, cont, net::as_tuple(net::use_awaitable));
    co_return !ec;
  }

  // The body of a request whose head is already with the handler: read whole (Read), or
  // handed out in pieces as it is pulled (Open, then BodyStream).
  class HeadBody final : public BodyReader, public BodyStream {
   public:
    HeadBody(Connection& conn, Stream& stream, beast::flat_buffer& buffer,
             bhttp::request_parser<bhttp::string_body>& parser, Request& req, bool expects_continue)
        : conn_(conn), stream_(stream), buffer_(buffer), parser_(parser), req_(req),
          expects_continue_(expects_continue) {}
    ~HeadBody() override { req_.body_stream = nullptr; }
    HeadBody(const HeadBody&) = delete;
    HeadBody& operator=(const HeadBody&) = delete;

    /// Every byte of the body was read (or there was none).
    bool complete() const { return streaming_ ? streaming_->is_done() : parser_.is_done(); }

    std::optional<std::uint64_t> content_length() const override {
      const auto cl = streaming_ ? streaming_->content_length() : parser_.content_length();
      return cl ? std::optional<std::uint64_t>(*cl) : std::nullopt;
    }
    Task<Status> Read(std::size_t limit) override {
      if (!status_) status_ = co_await ReadOnce(limit);
      co_return *status_;
    }
    Task<Status> Open(std::size_t limit) override {
      if (status_) co_return *status_;
      const auto cl = parser_.content_length();
      if (parser_.is_done() || (!parser_.chunked() && cl && *cl <= kBodyPiece)) co_return co_await Read(limit);
      status_ = co_await Admit(limit);
      if (*status_ != Status::kOk) co_return *status_;
      // No body octet has been parsed (the head read stops at the blank line), so the head's
      // parser may become one that hands the body out in pieces (Beast's relay pattern).
      streaming_.emplace(std::move(parser_));
      streaming_->body_limit(limit);
      piece_ = std::make_unique_for_overwrite<char[]>(kBodyPiece);
      // Beast reads as much as the buffer's free capacity (an idle connection's is 2 KB): a
      // piece's worth per system call instead (the buffer shrinks back when the connection idles).
      buffer_.reserve(kBodyPiece);
      req_.body_stream = this;
      co_return Status::kOk;
    }

    // BodyStream: the body as it arrives, one piece per read.
    BodyStatus status() const override { return streamed_; }
    std::optional<std::uint64_t> length() const override { return content_length(); }
    std::uint64_t consumed() const override { return consumed_; }
    Task<std::string_view> Next() override {
      if (!streaming_ || streamed_ != Status::kOk) co_return std::string_view();
      auto& parser = *streaming_;
      auto& lowest = beast::get_lowest_layer(stream_);
      const auto timeout = std::chrono::duration_cast<Clock::duration>(conn_.core.options.body_timeout);
      while (!parser.is_done()) {
        // Each read within the body timeout; together within the body timeout plus a second
        // per KiB received (a minimum rate). Time spent waiting for our reader (the upstream)
        // does not count: only time spent waiting for this client.
        const auto budget = timeout + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::milliseconds(consumed_ * 1000 / kMinRate));
        if (spent_ >= budget) {
          streamed_ = Status::kTimedOut;
          break;
        }
        lowest.expires_after(std::min(timeout, budget - spent_));
        parser.get().body().data = piece_.get();
        parser.get().body().size = kBodyPiece;
        const auto started = Clock::now();
        auto [ec, n] = co_await bhttp::async_read_some(stream_, buffer_, parser, net::as_tuple(net::use_awaitable));
        spent_ += Clock::now() - started;
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) {
          streamed_ = Failure(ec);
          break;
        }
        const std::size_t got = kBodyPiece - parser.get().body().size;
        if (got > 0) {
          consumed_ += got;
          co_return std::string_view(piece_.get(), got);
        }
      }
      co_return std::string_view();
    }

   private:
    using Clock = std::chrono::steady_clock;
    static constexpr std::uint64_t kMinRate = 1024;  ///< bytes per second, after the first body timeout

    // A declared length past the cap is refused before anything is read, and no 100 Continue
    // invites it; else the client waiting for one is told to go on.
    Task<Status> Admit(std::size_t limit) {
      if (const auto cl = parser_.content_length(); cl && *cl > limit) co_return Status::kTooLarge;
      if (expects_continue_ && !co_await conn_.Continue(parser_.get().version())) co_return Status::kFailed;
      co_return Status::kOk;
    }
    static Status Failure(const beast::error_code& ec) {
      if (ec == bhttp::error::body_limit) return Status::kTooLarge;
      if (ec == beast::error::timeout) return Status::kTimedOut;
      return Status::kFailed;
    }
    Task<Status> ReadOnce(std::size_t limit) {
      if (parser_.is_done()) co_return Status::kOk;
      const auto admitted = co_await Admit(limit);
      if (admitted != Status::kOk) co_return admitted;
      // No body octet has been parsed yet (the head read stops at the blank line): the cap may
      // still change, and it applies to chunked bodies as they arrive.
      parser_.body_limit(limit);
      ReserveFor(buffer_, parser_.content_length());
      beast::get_lowest_layer(stream_).expires_after(conn_.core.options.body_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser_, net::as_tuple(net::use_awaitable));
      if (ec) co_return Failure(ec);
      req_.body = std::move(parser_.get().body());
      co_return Status::kOk;
    }
    Connection& conn_;
    Stream& stream_;
    beast::flat_buffer& buffer_;
    bhttp::request_parser<bhttp::string_body>& parser_;  ///< may only be destroyed once streaming_ took it
    Request& req_;
    bool expects_continue_;
    std::optional<Status> status_;  ///< how Read or Open ended
    std::optional<bhttp::request_parser<bhttp::buffer_body>> streaming_;
    std::unique_ptr<char[]> piece_;
    Status streamed_ = Status::kOk;
    std::uint64_t consumed_ = 0;
    Clock::duration spent_{};
  };

  // Deliberately not a coroutine: GCC 12 destroys by-value coroutine parameters twice here.
  net::awaitable<Response> Dispatch(RequestPtr req, net::any_io_executor ex) {
    return net::async_initiate<decltype(net::use_awaitable), void(Response)>(
        [&handler = core.handler, req, ex](auto completion) {
          auto shared = std::make_shared<decltype(completion)>(std::move(completion));
          Reply reply([shared, ex](Response r) {
            net::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
          }, req->request_id);
          try {
            handler(req, reply);
          } catch (...) {
            reply(ErrorFromException(std::current_exception(), *req));
          }
        },
        net::use_awaitable);
  }

  // After a 413 the client may still be sending the body it was refused (most clients send the
  // whole body before they read). Closing at once would reset the connection and destroy the
  // answer in its receive buffer; so, as nginx's lingering close does, the rest is read and
  // dropped, for at most 5 s (1 s of silence ends it) and 128 MiB.
  net::awaitable<void> Discard() {
    auto& lowest = beast::get_lowest_layer(stream);
    std::array<char, 16 * 1024> scratch;
    std::size_t total = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (total < (128u << 20)) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      lowest.expires_after(std::min<std::chrono::steady_clock::duration>(left, std::chrono::seconds(1)));
      auto [ec, n] = co_await stream.async_read_some(net::buffer(scratch), net::as_tuple(net::use_awaitable));
      if (ec) break;
      total += n;
    }
  }

  // A refusal before any request exists: its own id and log line, then the connection closes.
  net::awaitable<void> WriteError(ErrorCode code, const char* message) {
    const auto id = core::NewUuid();
    obs::Info("request refused", {{"request_id", id}, {"reason", message}});
    co_await Write(Response::Error(code, message, id), false, 11);
  }

  // The answer: our head (written by hand, head_writer.hpp) and the body in one gathered write.
  net::awaitable<bool> Write(const Response& res, bool keep_alive, unsigned version,
                             const Request* req = nullptr) {
    const bool head = req != nullptr && req->method == "HEAD";
    const int code = res.status;
    const bool bodiless = (code >= 100 && code < 200) || code == 204 || code == 304;
    std::string out;
    out.reserve(512);
    AppendStatusLine(out, version, code, bhttp::obsolete_reason(static_cast<bhttp::status>(code)));
    // The common headers (security headers...), unless the answer sets its own of that name.
    for (const auto& [k, v] : core.options.extra_headers)
      if (std::none_of(res.headers.begin(), res.headers.end(), [&](const auto& h) { return NameEquals(h.first, k); }))
        AppendField(out, k, v);
    // The answer's own, every one (two Set-Cookie stay two); framing is ours alone.
    for (const auto& [k, v] : res.headers)
      if (!IsFramingField(k) && !(req != nullptr && Timing(k))) AppendField(out, k, v);
    if (req != nullptr) {
      AppendField(out, "x-request-id", req->request_id);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - req->start).count();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2fms", static_cast<double>(us) / 1000.0);
      AppendField(out, "x-response-time", buf);  // seed 003
      std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(us) / 1e6);
      AppendField(out, "x-process-time", buf);   // seed 001: seconds
    }
    if (version >= 11 && !keep_alive) AppendField(out, "Connection", "close");
    if (version < 11 && keep_alive) AppendField(out, "Connection", "keep-alive");
    BodyStream* const streamed = head || bodiless ? nullptr : res.body_stream.get();
    const auto length = streamed != nullptr ? streamed->length() : std::nullopt;
    const bool chunked = streamed != nullptr && !length && version >= 11;
    if (chunked) {
      AppendField(out, "Transfer-Encoding", "chunked");
    } else if (streamed != nullptr) {
      if (length) AppendField(out, "Content-Length", *length);  // else HTTP/1.0: until the close
    } else if (!bodiless) {
      // A HEAD answer describes the GET body: keep a forwarded Content-Length, else our own.
      const auto forwarded = head ? res.Header("content-length") : std::string_view();
      if (forwarded.empty() || !AppendField(out, "Content-Length", forwarded))
        AppendField(out, "Content-Length", res.body.size());
    }
    out += "\r\n";
    const std::array<net::const_buffer, 2> buffers{
        net::buffer(out), head || bodiless || streamed != nullptr ? net::const_buffer() : net::buffer(res.body)};
    beast::get_lowest_layer(stream).expires_after(core.options.write_timeout);
    auto [ec, n] = co_await net::async_write(stream, buffers, net::as_tuple(net::use_awaitable));
    if (ec || streamed == nullptr) co_return !ec;
    co_return co_await WriteBody(*streamed, chunked);
  }

  // A streamed answer's body, piece by piece as its source yields them (each write within the
  // write timeout). A source that fails ends the connection without the last chunk (or short
  // of its Content-Length): the client sees an incomplete answer, never a short one.
  net::awaitable<bool> WriteBody(BodyStream& body, bool chunked) {
    auto& lowest = beast::get_lowest_layer(stream);
    while (true) {
      const auto piece = co_await body.Next();
      if (piece.empty()) break;
      lowest.expires_after(core.options.write_timeout);
      if (co_await WritePiece(stream, piece, chunked)) co_return false;
    }
    if (body.status() != BodyStatus::kOk) {
      obs::Warn("answer body failed midway; closing the connection", {{"sent_bytes", body.consumed()}});
      co_return false;
    }
    if (!chunked) co_return true;
    lowest.expires_after(core.options.write_timeout);
    auto [ec, n] = co_await net::async_write(stream, net::buffer(kLastChunk.data(), kLastChunk.size()),
                                             net::as_tuple(net::use_awaitable));
    co_return !ec;
  }
  // Ours for every answer that has a request, never copied from a handler's answer.
  static bool Timing(std::string_view name) {
    return NameEquals(name, "x-request-id") || NameEquals(name, "x-response-time") || NameEquals(name, "x-process-time");
  }

  void Observe(const Request& req, const Response& res) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - req.start).count();
    core.metrics.ObserveRequest(req.method, req.route, res.status, secs);
    // Written per request: built without a JSON document.
    obs::LogFields(obs::Level::kInfo, "request",
                   {{"client", req.remote_ip},
                    {"duration_ms", std::round(secs * 1e5) / 100.0},
                    {"method", req.method},
                    {"path", req.path},
                    {"request_id", req.request_id},
                    {"status_code", res.status},
                    {"trace_id", req.trace_id}});
  }

  ServerCore& core;
  Stream& stream;
  const std::string remote_ip;
  const bool secure;
};

}  // namespace

net::awaitable<void> Session(ServerCore& core, beast::tcp_stream& stream, const net::ip::address& client) {
  Connection<beast::tcp_stream> connection(core, stream, client, false);
  co_await connection.Run();
}

net::awaitable<void> Session(ServerCore& core, TlsStream& stream, const net::ip::address& client) {
  Connection<TlsStream> connection(core, stream, client, true);
  co_await connection.Run();
}

}  // namespace suite::http::detail
