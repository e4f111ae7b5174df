#include "suite/http/server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <list>
#include <mutex>

#include "suite/core/ids.hpp"
#include "suite/http/router.hpp"
#include "suite/observability/log.hpp"

namespace suite::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using core::ErrorCode;
using namespace std::chrono_literals;

//------------------------------------------------------------------------------ Server

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
  const auto client_id = req.Header("x-request-id");
  if (core::IsValidRequestId(client_id))
    req.request_id = std::string(client_id);
  else
    req.request_id = core::NewUuid();
}

// Closes a session's socket from the stop sequence when it waits idle for a request.
struct SessionHandle {
  std::function<void()> close;
  bool idle = true;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(Runtime& rt, ServerOptions o, obs::Metrics& m, Handler h)
      : runtime(rt), options(std::move(o)), metrics(m), handler(std::move(h)) {}

  Runtime& runtime;
  ServerOptions options;
  obs::Metrics& metrics;
  Handler handler;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::shared_ptr<net::ssl::context>> tls_contexts;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> active{0};
  std::mutex mu;
  std::list<SessionHandle> sessions;

  void StopAccepting() {
    for (auto& a : acceptors) {
      net::post(a->get_executor(), [a = a.get()] {
        beast::error_code ec;
        a->close(ec);
      });
    }
    std::lock_guard lock(mu);
    for (auto& s : sessions)
      if (s.idle) s.close();
  }

  std::shared_ptr<net::ssl::context> MakeTls(const TlsFiles& files) {
    auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use |
                     SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx->native_handle(),
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    beast::error_code ec;
    ctx->use_certificate_chain_file(files.cert_file, ec);
    if (ec) throw std::runtime_error("cannot load TLS certificate " + files.cert_file);
    ctx->use_private_key_file(files.key_file, net::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot load TLS key " + files.key_file);
    return ctx;
  }

  net::awaitable<void> Accept(tcp::acceptor& acceptor, std::shared_ptr<net::ssl::context> tls) {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(
          net::make_strand(acceptor.get_executor()), net::as_tuple(net::use_awaitable));
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {
        obs::Warn("accept failed", {{"error", ec.message()}});
        continue;
      }
      if (connections.load() >= options.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      auto ex = socket.get_executor();
      if (tls) {
        net::co_spawn(ex, Secure(std::move(socket), tls), net::detached);
      } else {
        net::co_spawn(ex, Plain(std::move(socket)), net::detached);
      }
    }
  }

  net::awaitable<void> Plain(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    co_await Session(stream, false);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  net::awaitable<void> Secure(tcp::socket socket, std::shared_ptr<net::ssl::context> tls) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    beast::get_lowest_layer(stream).expires_after(options.header_timeout);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server,
                                                net::as_tuple(net::use_awaitable));
    if (ec) co_return;  // scanners, plain HTTP on the TLS port, old protocols
    co_await Session(stream, true);
    beast::get_lowest_layer(stream).expires_after(2s);
    co_await stream.async_shutdown(net::as_tuple(net::use_awaitable));
  }

  template <class Stream>
  net::awaitable<void> Session(Stream& stream, bool secure) {
    auto self = shared_from_this();
    ++connections;
    auto& lowest = beast::get_lowest_layer(stream);
    beast::error_code rec;
    const auto remote = lowest.socket().remote_endpoint(rec);
    const std::string remote_ip = rec ? std::string() : remote.address().to_string();
    std::list<SessionHandle>::iterator handle;
    auto alive = std::make_shared<bool>(true);
    {
      std::lock_guard lock(mu);
      auto ex = lowest.get_executor();
      // Runs on the session's strand; `alive` is cleared there too before the stream goes away.
      sessions.push_front({[&lowest, ex, alive] {
                             net::post(ex, [&lowest, alive] {
                               if (*alive) lowest.cancel();
                             });
                           },
                           true});
      handle = sessions.begin();
    }
    beast::flat_buffer buffer;
    for (;;) {
      if (runtime.stopping() && buffer.size() == 0) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
      parser.body_limit(options.body_limit);
      lowest.expires_after(buffer.size() == 0 ? options.idle_timeout : options.header_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser,
                                                       net::as_tuple(net::use_awaitable));
      {
        std::lock_guard lock(mu);
        handle->idle = false;
      }
      if (ec == bhttp::error::body_limit) {
        co_await WriteError(stream, ErrorCode::kPayloadTooLarge, "Request body too large");
        break;
      }
      if (ec == bhttp::error::header_limit) {
        auto res = Response::Error(ErrorCode::kBadRequest, "Request header fields too large", "");
        res.status = 431;
        co_await Write(stream, res, false, 11);
        break;
      }
      if (ec) {
        if (n > 0 || buffer.size() > 0)
          if (ec != beast::error::timeout && ec != net::error::operation_aborted)
            co_await WriteError(stream, ErrorCode::kBadRequest, "Malformed HTTP request");
        break;
      }
      auto& head = parser.get();
      if (beast::iequals(head[bhttp::field::expect], "100-continue") && !parser.is_done()) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, head.version()};
        lowest.expires_after(options.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(stream, cont, net::as_tuple(net::use_awaitable));
        if (wec) break;
      }
      if (!parser.is_done()) {
        lowest.expires_after(options.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser,
                                                    net::as_tuple(net::use_awaitable));
        if (bec == bhttp::error::body_limit) {
          co_await WriteError(stream, ErrorCode::kPayloadTooLarge, "Request body too large");
          break;
        }
        if (bec) break;
      }
      ++active;
      metrics.in_flight().Increment();
      auto msg = parser.release();
      auto req = std::make_shared<Request>();
      req->method = std::string(msg.method_string());
      req->target = std::string(msg.target());
      const auto q = req->target.find('?');
      req->path = req->target.substr(0, q);
      if (q != std::string::npos) req->query = req->target.substr(q + 1);
      for (const auto& f : msg) req->headers.emplace_back(Lower(f.name_string()), std::string(f.value()));
      req->body = std::move(msg.body());
      req->remote_ip = remote_ip;
      req->secure = secure;
      req->keep_alive = msg.keep_alive();
      AssignRequestId(*req);

      Response res = co_await Dispatch(req, lowest.get_executor());
      const bool keep = req->keep_alive && !runtime.stopping();
      const bool ok = co_await Write(stream, res, keep, msg.version(), req.get());
      Observe(*req, res);
      --active;
      metrics.in_flight().Decrement();
      if (!ok || !keep) break;
      std::lock_guard lock(mu);
      handle->idle = true;
    }
    {
      std::lock_guard lock(mu);
      sessions.erase(handle);
    }
    *alive = false;
    --connections;
  }

  // Deliberately not a coroutine: GCC 12 destroys by-value coroutine parameters twice here.
  net::awaitable<Response> Dispatch(RequestPtr req, net::any_io_executor ex) {
    return net::async_initiate<decltype(net::use_awaitable), void(Response)>(
        [this, req, ex](auto completion) {
          auto shared = std::make_shared<decltype(completion)>(std::move(completion));
          Reply reply([shared, ex](Response r) {
            net::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
          });
          try {
            handler(req, reply);
          } catch (...) {
            reply(ErrorFromException(std::current_exception(), *req));
          }
        },
        net::use_awaitable);
  }

  template <class Stream>
  net::awaitable<void> WriteError(Stream& stream, ErrorCode code, const char* message) {
    co_await Write(stream, Response::Error(code, message, core::NewUuid()), false, 11);
  }

  template <class Stream>
  net::awaitable<bool> Write(Stream& stream, const Response& res, bool keep_alive, unsigned version,
                             const Request* req = nullptr) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
    for (const auto& [k, v] : options.extra_headers) out.set(k, v);
    for (const auto& [k, v] : res.headers) out.set(k, v);
    if (req != nullptr) {
      out.set("x-request-id", req->request_id);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - req->start).count();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2fms", static_cast<double>(us) / 1000.0);
      out.set("x-response-time", buf);  // seed 003
      std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(us) / 1e6);
      out.set("x-process-time", buf);   // seed 001: seconds
    }
    out.keep_alive(keep_alive);
    if (req == nullptr || req->method != "HEAD") out.body() = res.body;
    out.prepare_payload();
    if (req != nullptr && req->method == "HEAD") out.content_length(res.body.size());
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, out, net::as_tuple(net::use_awaitable));
    co_return !ec;
  }

  void Observe(const Request& req, const Response& res) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - req.start).count();
    metrics.ObserveRequest(req.method, req.route.empty() ? "unmatched" : req.route, res.status, secs);
    obs::Info("request", {{"request_id", req.request_id},
                          {"method", req.method},
                          {"path", req.path},
                          {"status_code", res.status},
                          {"duration_ms", std::round(secs * 1e5) / 100.0},
                          {"client", req.remote_ip}});
  }
};

Server::Server(Runtime& runtime, ServerOptions options, obs::Metrics& metrics, Handler handler)
    : impl_(std::make_shared<Impl>(runtime, std::move(options), metrics, std::move(handler))) {
  std::weak_ptr<Impl> weak = impl_;
  runtime.OnStop([weak] { if (auto i = weak.lock()) i->StopAccepting(); },
                 [weak] {
                   auto i = weak.lock();
                   return !i || i->active.load() == 0;
                 });
}

Server::~Server() = default;

std::uint16_t Server::Listen(const Listener& l) {
  auto& io = impl_->runtime.io();
  std::shared_ptr<net::ssl::context> tls;
  if (l.tls) tls = impl_->MakeTls(*l.tls);
  beast::error_code ec;
  const auto addr = net::ip::make_address(l.address, ec);
  if (ec) throw std::runtime_error("invalid listen address " + l.address);
  auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(io));
  tcp::endpoint ep(addr, l.port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + l.address + ":" + std::to_string(l.port) +
                             ": " + ec.message());
  const auto port = acceptor->local_endpoint().port();
  auto& ref = *acceptor;
  impl_->acceptors.push_back(std::move(acceptor));
  net::co_spawn(ref.get_executor(), impl_->Accept(ref, tls), net::detached);
  obs::Info("listening", {{"address", l.address}, {"port", port}, {"tls", l.tls.has_value()}});
  return port;
}

}  // namespace suite::http
