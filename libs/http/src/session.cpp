// One connection's HTTP/1.1 exchanges: heads under their limits and timeouts, the handler,
// bodies read when (and as far as) the handler admits them, answers with the common headers,
// keep-alive until idle, the drain or an error, one log line and metrics per request.
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>

#include "exchange.hpp"
#include "head_writer.hpp"
#include "request_body.hpp"
#include "server_core.hpp"
#include "stream_duplex.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/router.hpp"
#include "suite/http/upgrade.hpp"

namespace suite::http::detail {

namespace bhttp = beast::http;
using core::ErrorCode;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kIdleBuffer = 2048;

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
      core.sessions.emplace_front();
      core.sessions.front().close = [&lowest, ex, alive] {
        net::post(ex, [&lowest, alive] {
          if (*alive) lowest.cancel();
        });
      };
      handle = core.sessions.begin();
    }
    beast::flat_buffer buffer;
    bool h2 = false;
    if constexpr (std::is_same_v<Stream, TlsStream>) h2 = core.options.http2.enabled && stream.Alpn() == "h2";
    if (h2) co_await H2Session(core, stream, *handle, remote_ip, std::string());
    for (bool first = true; !h2; first = false) {
      // Draining: a connection between requests stays for the drain's grace (its client may be
      // sending the next request right now), then closes; its next answer says Connection: close.
      if (core.idle_closed && buffer.size() == 0) break;
      if (buffer.size() == 0) {
        if (first) {
          // A new connection's first request: its whole head within the header timeout from
          // accept (after the handshake), however slowly it trickles.
          lowest.expires_after(core.options.header_timeout);
        } else {
          // Keep-alive: the idle timeout covers the wait for the next request's first byte only.
          lowest.expires_after(core.draining ? core.options.drain_idle_grace : core.options.idle_timeout);
          // An idle connection keeps 2 KB for its next request's first bytes, not what the last
          // one grew the buffer to (nginx keeps 1 KB): 10,000 idle connections, ~20 MB. A head
          // longer than that takes one more read.
          if (buffer.capacity() > kIdleBuffer) buffer.shrink_to_fit();
        }
        auto [iec, in] = co_await stream.async_read_some(buffer.prepare(kIdleBuffer),
                                                         net::as_tuple(net::use_awaitable));
        buffer.commit(in);
        if (iec && in == 0) break;
        // h2c with prior knowledge: the connection's first bytes are HTTP/2's preface.
        if (first && !secure && core.options.http2.cleartext) {
          h2 = co_await Preface(buffer);
          if (h2) {
            const auto data = buffer.data();
            std::string preread(static_cast<const char*>(data.data()), data.size());
            co_await H2Session(core, stream, *handle, remote_ip, std::move(preread));
            break;
          }
        }
      }
      // The request, made now that a byte of it is here (a connection waiting for one holds
      // none); the parser writes its head (and body) straight into it.
      auto req = std::make_shared<Request>();
      req->headers.reserve(16);
      RequestParser parser(*req);
      parser.header_limit(static_cast<std::uint32_t>(core.options.header_limit));
      parser.body_limit(core.options.body_limit);
      // A keep-alive request's whole head within the header timeout from its first byte (a
      // first request's runs from accept, set above).
      if (!first) lowest.expires_after(core.options.header_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser,
                                                       net::as_tuple(net::use_awaitable));
      handle->idle.store(false, std::memory_order_relaxed);
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
      if (const char* framing = parser.FramingError()) {
        co_await WriteError(ErrorCode::kBadRequest, framing);
        break;
      }
      if (req->target.size() > core.options.target_limit) {
        co_await WriteError(ErrorCode::kUriTooLong, "Request URI too long");
        break;
      }
      const bool expects_continue = parser.expects_continue();
      const unsigned version = parser.version();
      ++core.active;
      core.metrics.in_flight().Increment();
      CompleteRequest(*req, remote_ip, secure, parser.keep_alive(), parser.upgrade() && version >= 11);
      Response res;
      bool drain = false;  // a body left unread: answer, then drain it and close
      {
        RequestBody<Stream> body(core, stream, buffer, parser, *req, expects_continue);
        try {
          res = co_await core.handler(req, body);
        } catch (...) {
          res = ErrorFromException(std::current_exception(), *req);
        }
        // A body left unread: the rest is drained after the answer (a client gone or
        // reset ends that at once).
        if (!body.complete()) {
          req->keep_alive = false;
          drain = true;
        }
      }
      // Switching protocols: only to a request that asked, with its body read (there is none,
      // in practice), and with something to hand the connection to.
      const bool relay = res.status == 101 && res.upgraded && req->upgrade && !drain && !core.draining;
      if (res.status == 101 && !relay)
        res = Response::Error(ErrorCode::kUpstreamUnavailable, "Invalid upgrade answer", req->request_id);
      bool keep = relay || (req->keep_alive && !core.draining);
      // HTTP/1.0 has no chunks: a streamed answer of unknown length ends with the connection.
      if (res.body_stream && !res.body_stream->length() && version < 11) keep = false;
      const bool ok = co_await Write(res, keep, version, req.get());
      Observe(*req, res);
      --core.active;
      core.metrics.in_flight().Decrement();
      if (relay) {
        // What is relayed is not a request: a drain's grace closes it, as an idle connection.
        handle->idle.store(true, std::memory_order_relaxed);
        if (ok) {
          StreamDuplex<Stream> client(stream, buffer);
          co_await res.upgraded->Run(client);
        }
        break;
      }
      if (ok && drain) co_await Discard();
      if (!ok || !keep) break;
      handle->idle.store(true, std::memory_order_relaxed);
    }
    {
      std::lock_guard lock(core.mu);
      core.sessions.erase(handle);
    }
    *alive = false;
  }

  // Whether the buffer starts with HTTP/2's connection preface, reading on (within the header
  // timeout) while what arrived is a prefix of it.
  net::awaitable<bool> Preface(beast::flat_buffer& buffer) {
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    for (;;) {
      const auto data = buffer.data();
      const std::string_view got(static_cast<const char*>(data.data()), data.size());
      const auto n = std::min(got.size(), kPreface.size());
      if (got.substr(0, n) != kPreface.substr(0, n)) co_return false;
      if (n == kPreface.size()) co_return true;
      auto [ec, in] = co_await stream.async_read_some(buffer.prepare(kIdleBuffer), net::as_tuple(net::use_awaitable));
      buffer.commit(in);
      if (ec) co_return false;
    }
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
    HeadBuffer head_text;
    std::string& out = *head_text;
    AppendStatusLine(out, version, code, bhttp::obsolete_reason(static_cast<bhttp::status>(code)));
    // The common headers (security headers...), unless the answer sets its own of that name.
    for (const auto& [name, line] : core.extra_lines)
      if (!HasField(res.headers, name)) out += line;
    // The answer's own, every one (two Set-Cookie stay two); framing is ours alone.
    for (const auto& [k, v] : res.headers)
      if (!IsFramingField(k) && !(req != nullptr && IsTimingField(k))) AppendField(out, k, v);
    if (req != nullptr) {
      AppendField(out, "x-request-id", req->request_id);
      TimingValues timing;
      Timing(*req, timing);
      AppendField(out, "x-response-time", timing.response_time);
      AppendField(out, "x-process-time", timing.process_time);
    }
    if (code == 101 && res.upgraded) AppendField(out, "Connection", "upgrade");
    else if (version >= 11 && !keep_alive) AppendField(out, "Connection", "close");
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
    // A source that fails midway ends the connection short of its last chunk or its length.
    if (co_await CopyBody(stream, *streamed, chunked, core.options.write_timeout)) co_return false;
    if (streamed->status() == BodyStatus::kOk) co_return true;
    obs::Warn("answer body failed midway; closing the connection", {{"sent_bytes", streamed->consumed()}});
    co_return false;
  }

  void Observe(const Request& req, const Response& res) {
    ObserveExchange(core.metrics, req, res);
  }

  ServerCore& core;
  Stream& stream;
  const std::string remote_ip;
  const bool secure;
};

}  // namespace

net::awaitable<void> Session(ServerCore& core, PlainStream& stream, const net::ip::address& client) {
  Connection<PlainStream> connection(core, stream, client, false);
  co_await connection.Run();
}

net::awaitable<void> Session(ServerCore& core, TlsStream& stream, const net::ip::address& client) {
  Connection<TlsStream> connection(core, stream, client, true);
  co_await connection.Run();
}

}  // namespace suite::http::detail
