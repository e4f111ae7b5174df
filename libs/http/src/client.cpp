#include "suite/http/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <deque>

#include "suite/core/url.hpp"
#include "suite/http/resume.hpp"

namespace suite::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

struct UpstreamPool::Impl : std::enable_shared_from_this<UpstreamPool::Impl> {
  Impl(net::io_context& io, UpstreamOptions o) : strand(net::make_strand(io)), options(std::move(o)) {}

  struct Idle {
    std::unique_ptr<beast::tcp_stream> stream;
    std::chrono::steady_clock::time_point since;
  };
  net::strand<net::io_context::executor_type> strand;
  UpstreamOptions options;
  std::deque<Idle> idle;  // most recently used at the back

  std::unique_ptr<beast::tcp_stream> TakeIdle() {
    const auto now = std::chrono::steady_clock::now();
    while (!idle.empty()) {
      Idle entry = std::move(idle.back());
      idle.pop_back();
      const auto idle_for = now - entry.since;
      if (idle_for >= options.idle_ttl || !entry.stream->socket().is_open()) continue;
      // A connection back in the pool moments ago is as good as it was then; one that sat idle
      // is checked for a close by the upstream (one syscall, off the busy path).
      if (idle_for < kCheckAfterIdle || QuietAndOpen(entry.stream->socket())) return std::move(entry.stream);
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

  static bool Idempotent(bhttp::verb v) {
    return v == bhttp::verb::get || v == bhttp::verb::head || v == bhttp::verb::options ||
           v == bhttp::verb::put || v == bhttp::verb::delete_ || v == bhttp::verb::trace;
  }

  net::awaitable<std::unique_ptr<beast::tcp_stream>> Connect(beast::error_code& ec) {
    tcp::resolver resolver(strand);
    auto [rec, results] = co_await resolver.async_resolve(
        options.host, std::to_string(options.port), net::as_tuple(net::use_awaitable));
    if (rec) {
      ec = rec;
      co_return nullptr;
    }
    auto stream = std::make_unique<beast::tcp_stream>(strand);
    stream->expires_after(options.connect_timeout);
    auto [cec, ep] = co_await stream->async_connect(results, net::as_tuple(net::use_awaitable));
    ec = cec;
    if (cec) co_return nullptr;
    stream->socket().set_option(tcp::no_delay(true));
    co_return stream;
  }

  net::awaitable<void> Run(ClientRequest req, std::function<void(ClientResult)> done) {
    auto self = shared_from_this();
    ClientResult result;
    try {
      co_await Exchange(std::move(req), result);
    } catch (const std::exception& e) {
      // e.g. Beast refusing to frame the message (a TRACE with a body): a failed exchange,
      // reported to the caller like any other, never an exception lost in a detached coroutine.
      result = {};
      result.status = ClientResult::Status::kFailed;
      result.error = std::string("request: ") + e.what();
    } catch (...) {
      result = {};
      result.status = ClientResult::Status::kFailed;
      result.error = "request: unknown exception";
    }
    done(std::move(result));
  }

  net::awaitable<void> Exchange(ClientRequest req, ClientResult& result) {
    bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(req.method), req.target, 11};
    if (out.method() == bhttp::verb::unknown) out.method_string(req.method);
    for (const auto& [k, v] : req.headers) out.set(k, v);
    out.set(bhttp::field::host, options.host + ":" + std::to_string(options.port));
    out.keep_alive(true);
    out.body() = std::move(req.body);
    out.prepare_payload();
    const bool head = out.method() == bhttp::verb::head;
    const bool idempotent = Idempotent(out.method());

    for (int attempt = 0; attempt < 2; ++attempt) {
      auto stream = TakeIdle();
      const bool reused = stream != nullptr;
      beast::error_code ec;
      if (!stream) stream = co_await Connect(ec);
      if (!stream) {
        result.status = ec == beast::error::timeout ? ClientResult::Status::kTimeout
                                                    : ClientResult::Status::kConnectFailed;
        result.error = "connect: " + ec.message();
        break;
      }
      stream->expires_after(req.timeout.value_or(options.request_timeout));
      auto [wec, wn] = co_await bhttp::async_write(*stream, out, net::as_tuple(net::use_awaitable));
      if (wec) {
        result.status = wec == beast::error::timeout ? ClientResult::Status::kTimeout
                                                     : ClientResult::Status::kFailed;
        result.error = "write: " + wec.message();
        // Resent only when not one byte of it left: the upstream cannot have acted on it.
        if (reused && wn == 0 && wec != beast::error::timeout) continue;
        break;
      }
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(options.max_response_body);
      if (head) parser.skip(true);  // a HEAD answer has headers only, whatever it declares
      auto [rec, rn] = co_await bhttp::async_read(*stream, buffer, parser,
                                                  net::as_tuple(net::use_awaitable));
      if (rec) {
        result.status = rec == beast::error::timeout ? ClientResult::Status::kTimeout
                                                     : ClientResult::Status::kFailed;
        result.error = "read: " + rec.message();
        // Nothing came back on a reused connection: it was closed under us. Only a request
        // that may be repeated is sent again; a POST that was written may have been acted on.
        if (reused && rn == 0 && idempotent && rec != beast::error::timeout) continue;
        break;
      }
      auto msg = parser.release();
      result.status = ClientResult::Status::kOk;
      result.error.clear();
      result.response.status = static_cast<int>(msg.result_int());
      for (const auto& f : msg) {
        std::string name(f.name_string());
        for (auto& c : name)
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        result.response.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      result.response.body = std::move(msg.body());
      if (msg.keep_alive() && idle.size() < options.max_idle) {
        stream->expires_never();
        idle.push_back({std::move(stream), std::chrono::steady_clock::now()});
      }
      break;
    }
  }
};

UpstreamPool::UpstreamPool(net::io_context& io, UpstreamOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))),
      name_(impl_->options.host + ":" + std::to_string(impl_->options.port)) {}
UpstreamPool::~UpstreamPool() = default;

const UpstreamOptions& UpstreamPool::options() const { return impl_->options; }

Task<ClientResult> UpstreamPool::Call(ClientRequest request) {
  return Resume<ClientResult>([this, request = std::move(request)](auto done) mutable {
    Send(std::move(request), std::move(done));
  });
}

void UpstreamPool::Send(ClientRequest request, std::function<void(ClientResult)> done) {
  // Run catches every exception itself and always calls `done`.
  net::co_spawn(impl_->strand, impl_->Run(std::move(request), std::move(done)), net::detached);
}

std::optional<UpstreamOptions> ParseUpstreamUrl(std::string_view text) {
  const auto url = core::ParseUrl(text);
  // http://host:port: an explicit port, no credentials, no path beyond "/", no query.
  if (!url || url->scheme != "http" || !url->port || !url->user.empty() || url->has_password ||
      (!url->path.empty() && url->path != "/") || url->has_query || url->has_fragment)
    return std::nullopt;
  UpstreamOptions o;
  o.host = url->host;
  o.port = *url->port;
  return o;
}

}  // namespace suite::http
