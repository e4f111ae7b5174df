// One connection's HTTP/1.1 exchanges: heads under their limits and timeouts, the handler,
// bodies read when (and as far as) the handler admits them, answers with the common headers,
// keep-alive until idle, the drain or an error, one log line and metrics per request.
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <charconv>

#include "head_writer.hpp"
#include "request_body.hpp"
#include "server_core.hpp"
#include "stream_duplex.hpp"
#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
#include "suite/http/router.hpp"
#include "suite/http/upgrade.hpp"

namespace suite::http::detail {

namespace bhttp = beast::http;
using core::ErrorCode;
using namespace std::chrono_literals;

namespace {

// Kept out of the coroutine body: GCC 12 mis-destroys temporaries of a conditional expression
// inside coroutines.
void AssignRequestId(Request& req) {
  auto client_id = core::ClientRequestId(req.Header("x-request-id"), req.Header("x-cloud-trace-context"));
  req.request_id = client_id ? std::move(*client_id) : core::NewUuid();
  auto trace = core::TraceIdOf(req.Header("traceparent"));
  req.trace_id = trace ? std::move(*trace) : core::RandomHex(16);
}

constexpr std::size_t kIdleBuffer = 2048;

// `value / unit` with `digits` decimals (unit = 10^digits' multiple: 1000 with 2 digits keeps
// tens of µs), then `suffix`, in `buf`: "1.25ms", "0.001250".
std::string_view FixedPoint(char (&buf)[32], long long value, long long unit, int digits, std::string_view suffix) {
  if (value < 0) value = 0;
  long long scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  const long long whole = value / unit;
  long long frac = (value % unit) * scale / unit;
  auto r = std::to_chars(buf, buf + 20, whole);
  char* p = r.ptr;
  *p++ = '.';
  for (int i = digits - 1; i >= 0; --i, frac /= 10) p[i] = static_cast<char>('0' + frac % 10);
  p += digits;
  for (char c : suffix) *p++ = c;
  return {buf, static_cast<std::size_t>(p - buf)};
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
      core.sessions.emplace_front();
      core.sessions.front().close = [&lowest, ex, alive] {
        net::post(ex, [&lowest, alive] {
          if (*alive) lowest.cancel();
        });
      };
      handle = core.sessions.begin();
    }
    beast::flat_buffer buffer;
    for (bool first = true;; first = false) {
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
      CompleteRequest(*req, parser.keep_alive(), parser.upgrade() && version >= 11);
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

  // What the server adds to a parsed head: path and query, the connection's facts, the ids.
  void CompleteRequest(Request& req, bool keep_alive, bool upgrade) const {
    const auto q = req.target.find('?');
    req.path.assign(req.target, 0, q);
    if (q != std::string::npos) req.query.assign(req.target, q + 1);
    req.remote_ip = remote_ip;
    req.secure = secure;
    req.keep_alive = keep_alive;
    req.upgrade = upgrade;
    AssignRequestId(req);
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
      if (std::none_of(res.headers.begin(), res.headers.end(), [&](const auto& h) { return NameEquals(h.first, name); }))
        out += line;
    // The answer's own, every one (two Set-Cookie stay two); framing is ours alone.
    for (const auto& [k, v] : res.headers)
      if (!IsFramingField(k) && !(req != nullptr && Timing(k))) AppendField(out, k, v);
    if (req != nullptr) {
      AppendField(out, "x-request-id", req->request_id);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - req->start).count();
      // Written from whole microseconds (no floating-point formatting per answer).
      char buf[32];
      AppendField(out, "x-response-time", FixedPoint(buf, us, 1000, 2, "ms"));  // seed 003
      AppendField(out, "x-process-time", FixedPoint(buf, us, 1'000'000, 6, ""));  // seed 001: seconds
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

  // Ours for every answer that has a request, never copied from a handler's answer.
  static bool Timing(std::string_view name) {
    return NameEquals(name, "x-request-id") || NameEquals(name, "x-response-time") || NameEquals(name, "x-process-time");
  }

  void Observe(const Request& req, const Response& res) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - req.start).count();
    const bool upgraded = res.status == 101 && res.upgraded != nullptr;
    core.metrics.ObserveRequest(req.method, req.route, res.status, secs, upgraded ? obs::Protocol::kWs : obs::Protocol::kH1);
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

net::awaitable<void> Session(ServerCore& core, PlainStream& stream, const net::ip::address& client) {
  Connection<PlainStream> connection(core, stream, client, false);
  co_await connection.Run();
}

net::awaitable<void> Session(ServerCore& core, TlsStream& stream, const net::ip::address& client) {
  Connection<TlsStream> connection(core, stream, client, true);
  co_await connection.Run();
}

}  // namespace suite::http::detail
