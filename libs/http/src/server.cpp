#include "suite/http/server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <list>
#include <map>
#include <mutex>

#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
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

template <class Socket>
void Reset(Socket& socket) {
  beast::error_code ignored;
  socket.set_option(net::socket_base::linger(true, 0), ignored);  // RST: no TIME_WAIT, no FIN dance
  socket.close(ignored);
}

bool OutOfDescriptors(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == net::error::no_buffer_space || ec == net::error::no_memory;
}

// Completion of a detached coroutine: an exception that escapes it is logged, never lost.
struct LogException {
  const char* what;
  void operator()(std::exception_ptr e) const {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& err) {
      obs::Error("unhandled exception", {{"in", what}, {"error", err.what()}});
    } catch (...) {
      obs::Error("unhandled non-standard exception", {{"in", what}});
    }
  }
};

// Closes a session's socket from the stop sequence when it waits idle for a request.
struct SessionHandle {
  std::function<void()> close;
  bool idle = true;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(Runtime& rt, ServerOptions o, obs::Metrics& m, Handler h, HeadHandler hh)
      : runtime(rt), options(std::move(o)), metrics(m), handler(std::move(h)), head_handler(std::move(hh)) {}

  Runtime& runtime;
  ServerOptions options;
  obs::Metrics& metrics;
  Handler handler;           ///< one of the two
  HeadHandler head_handler;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  // One per TLS listener: the files, and the context new connections get (swapped by ReloadTls).
  struct TlsSlot {
    TlsFiles files;
    std::atomic<std::shared_ptr<net::ssl::context>> context;
  };
  std::vector<std::shared_ptr<TlsSlot>> tls_slots;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> active{0};
  std::mutex mu;
  std::list<SessionHandle> sessions;
  std::map<net::ip::address, std::size_t> per_client;  // guarded by mu; no entry at zero

  // A connection slot, taken at accept and given back when the session's coroutine ends
  // (whatever the way: handshake failure, error, exception).
  // It also runs when a pending session's frame is destroyed with the io_context, after the
  // Server (and perhaps the metrics) are gone: it keeps the Impl alive, and `detached` keeps
  // it off the metrics.
  class Slot {
   public:
    Slot(std::shared_ptr<Impl> impl, const net::ip::address& client) : impl_(std::move(impl)), client_(client) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { impl_->Release(client_); }

   private:
    std::shared_ptr<Impl> impl_;
    net::ip::address client_;
  };
  std::atomic<bool> detached{false};  // set by ~Server: the metrics may no longer exist
  bool Acquire(const net::ip::address& client) {
    if (connections.load() >= options.max_connections) {
      metrics.ConnectionRefused(obs::Refusal::kMaxConnections);
      return false;
    }
    {
      std::lock_guard lock(mu);
      auto& n = per_client[client];
      if (n >= options.max_connections_per_client) {
        metrics.ConnectionRefused(obs::Refusal::kPerClient);
        if (n == 0) per_client.erase(client);
        return false;
      }
      ++n;
    }
    ++connections;
    metrics.connections().Increment();
    return true;
  }
  void Release(const net::ip::address& client) {
    {
      std::lock_guard lock(mu);
      auto it = per_client.find(client);
      if (it != per_client.end() && --it->second == 0) per_client.erase(it);
    }
    --connections;
    if (!detached) metrics.connections().Decrement();
  }

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

  net::awaitable<void> Accept(tcp::acceptor& acceptor, std::shared_ptr<TlsSlot> tls) {
    auto self = shared_from_this();
    // One log line per episode of accept failures, not one per failure (nginx disables accept
    // for a while when descriptors run out; so do we).
    std::size_t failures = 0;
    net::steady_timer pause(acceptor.get_executor());
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(
          net::make_strand(acceptor.get_executor()), net::as_tuple(net::use_awaitable));
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {
        if (failures++ == 0)
          obs::Warn("accept failing; pausing accepts", {{"error", ec.message()},
                                                       {"pause_ms", options.accept_pause.count()}});
        if (OutOfDescriptors(ec)) {
          metrics.ConnectionRefused(obs::Refusal::kFdExhausted);
          pause.expires_after(options.accept_pause);
          co_await pause.async_wait(net::as_tuple(net::use_awaitable));
        }
        continue;
      }
      if (failures > 0) {
        obs::Info("accept resumed", {{"failures", failures}});
        failures = 0;
      }
      beast::error_code rec;
      const auto remote = socket.remote_endpoint(rec);
      if (rec) {  // already gone
        Reset(socket);
        continue;
      }
      if (!Acquire(remote.address())) {
        Reset(socket);  // the cheapest refusal: no handshake, no read, no buffer
        continue;
      }
      auto ex = socket.get_executor();
      if (tls) {
        net::co_spawn(ex, Secure(std::move(socket), remote.address(), tls->context.load()), LogException{"tls session"});
      } else {
        net::co_spawn(ex, Plain(std::move(socket), remote.address()), LogException{"session"});
      }
    }
  }

  net::awaitable<void> Plain(tcp::socket socket, net::ip::address client) {
    Slot slot(shared_from_this(), client);
    beast::tcp_stream stream(std::move(socket));
    co_await Session(stream, false, client);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  net::awaitable<void> Secure(tcp::socket socket, net::ip::address client,
                              std::shared_ptr<net::ssl::context> tls) {
    Slot slot(shared_from_this(), client);
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    beast::get_lowest_layer(stream).expires_after(options.header_timeout);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server,
                                                net::as_tuple(net::use_awaitable));
    if (ec) co_return;  // scanners, plain HTTP on the TLS port, old protocols
    co_await Session(stream, true, client);
    beast::get_lowest_layer(stream).expires_after(2s);
    co_await stream.async_shutdown(net::as_tuple(net::use_awaitable));
  }

  // `client` is the address taken at accept (no second getpeername); the caller's Slot keeps
  // this Impl alive for the session.
  template <class Stream>
  net::awaitable<void> Session(Stream& stream, bool secure, const net::ip::address& client) {
    auto& lowest = beast::get_lowest_layer(stream);
    const std::string remote_ip = client.to_string();
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
    for (bool first = true;; first = false) {
      if (runtime.stopping() && buffer.size() == 0) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
      parser.body_limit(options.body_limit);
      if (!first && buffer.size() == 0) {
        // Keep-alive: the idle timeout covers the wait for the next request's first byte only.
        lowest.expires_after(options.idle_timeout);
        auto [iec, in] = co_await stream.async_read_some(buffer.prepare(4096),
                                                         net::as_tuple(net::use_awaitable));
        buffer.commit(in);
        if (iec && in == 0) break;
      }
      // From the first byte (or from accept/handshake for a connection's first request), the
      // whole head must arrive within the header timeout, however slowly it trickles.
      lowest.expires_after(options.header_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser,
                                                       net::as_tuple(net::use_awaitable));
      {
        std::lock_guard lock(mu);
        handle->idle = false;
      }
      if (ec == bhttp::error::body_limit) {
        co_await WriteError(stream, ErrorCode::kPayloadTooLarge, "Request body too large");
        co_await Discard(stream);
        break;
      }
      if (ec == bhttp::error::header_limit) {
        co_await WriteError(stream, ErrorCode::kHeadersTooLarge, "Request header fields too large");
        break;
      }
      if (ec) {
        if (n > 0 || buffer.size() > 0)
          if (ec != beast::error::timeout && ec != net::error::operation_aborted)
            co_await WriteError(stream, ErrorCode::kBadRequest, "Malformed HTTP request");
        break;
      }
      auto& head = parser.get();
      if (const char* framing = FramingError(head)) {
        co_await WriteError(stream, ErrorCode::kBadRequest, framing);
        break;
      }
      if (head.target().size() > options.target_limit) {
        co_await WriteError(stream, ErrorCode::kUriTooLong, "Request URI too long");
        break;
      }
      const bool expects_continue = beast::iequals(head[bhttp::field::expect], "100-continue");
      if (!head_handler && !parser.is_done()) {
        if (expects_continue && !co_await Continue(stream, head.version())) break;
        lowest.expires_after(options.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser,
                                                    net::as_tuple(net::use_awaitable));
        if (bec == bhttp::error::body_limit) {
          co_await WriteError(stream, ErrorCode::kPayloadTooLarge, "Request body too large");
          co_await Discard(stream);
          break;
        }
        if (bec) break;
      }
      ++active;
      metrics.in_flight().Increment();
      auto req = MakeRequest(head, remote_ip, secure);
      Response res;
      bool drain = false;  // a body left unread: answer, then drain it and close
      if (head_handler) {
        HeadBody<Stream> body(*this, stream, buffer, parser, *req, expects_continue);
        try {
          res = co_await head_handler(req, body);
        } catch (...) {
          res = ErrorFromException(std::current_exception(), *req);
        }
        if (!parser.is_done()) {
          req->keep_alive = false;
          drain = body.status() != BodyReader::Status::kFailed;
        }
      } else {
        req->body = std::move(head.body());
        res = co_await Dispatch(req, lowest.get_executor());
      }
      const bool keep = req->keep_alive && !runtime.stopping();
      const bool ok = co_await Write(stream, res, keep, head.version(), req.get());
      Observe(*req, res);
      --active;
      metrics.in_flight().Decrement();
      if (ok && drain) co_await Discard(stream);
      if (!ok || !keep) break;
      std::lock_guard lock(mu);
      handle->idle = true;
    }
    {
      std::lock_guard lock(mu);
      sessions.erase(handle);
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

  template <class Stream>
  net::awaitable<bool> Continue(Stream& stream, unsigned version) {
    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, cont, net::as_tuple(net::use_awaitable));
    co_return !ec;
  }

  // The body of a request whose head is already with the handler.
  template <class Stream>
  class HeadBody final : public BodyReader {
   public:
    HeadBody(Impl& impl, Stream& stream, beast::flat_buffer& buffer,
             bhttp::request_parser<bhttp::string_body>& parser, Request& req, bool expects_continue)
        : impl_(impl), stream_(stream), buffer_(buffer), parser_(parser), req_(req),
          expects_continue_(expects_continue) {}
    Status status() const { return status_.value_or(Status::kOk); }
    std::optional<std::uint64_t> content_length() const override {
      const auto cl = parser_.content_length();
      return cl ? std::optional<std::uint64_t>(*cl) : std::nullopt;
    }
    Task<Status> Read(std::size_t limit) override {
      if (!status_) status_ = co_await ReadOnce(limit);
      co_return *status_;
    }

   private:
    Task<Status> ReadOnce(std::size_t limit) {
      if (parser_.is_done()) co_return Status::kOk;
      // Refused by its declared length: nothing is read, and no 100 Continue invites it.
      if (const auto cl = parser_.content_length(); cl && *cl > limit) co_return Status::kTooLarge;
      if (expects_continue_ && !co_await impl_.Continue(stream_, parser_.get().version())) co_return Status::kFailed;
      // No body octet has been parsed yet (the head read stops at the blank line): the cap may
      // still change, and it applies to chunked bodies as they arrive.
      parser_.body_limit(limit);
      beast::get_lowest_layer(stream_).expires_after(impl_.options.body_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser_, net::as_tuple(net::use_awaitable));
      if (ec == bhttp::error::body_limit) co_return Status::kTooLarge;
      if (ec) co_return Status::kFailed;
      req_.body = std::move(parser_.get().body());
      co_return Status::kOk;
    }
    Impl& impl_;
    Stream& stream_;
    beast::flat_buffer& buffer_;
    bhttp::request_parser<bhttp::string_body>& parser_;
    Request& req_;
    bool expects_continue_;
    std::optional<Status> status_;
  };

  // Deliberately not a coroutine: GCC 12 destroys by-value coroutine parameters twice here.
  net::awaitable<Response> Dispatch(RequestPtr req, net::any_io_executor ex) {
    return net::async_initiate<decltype(net::use_awaitable), void(Response)>(
        [this, req, ex](auto completion) {
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
  template <class Stream>
  net::awaitable<void> Discard(Stream& stream) {
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
  template <class Stream>
  net::awaitable<void> WriteError(Stream& stream, ErrorCode code, const char* message) {
    const auto id = core::NewUuid();
    obs::Info("request refused", {{"request_id", id}, {"reason", message}});
    co_await Write(stream, Response::Error(code, message, id), false, 11);
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
    const bool head = req != nullptr && req->method == "HEAD";
    if (!head) out.body() = res.body;
    out.prepare_payload();
    if (head) {
      // A HEAD answer describes the GET body: keep a forwarded Content-Length, else our own.
      const auto cl = res.Header("content-length");
      if (!cl.empty()) out.set(bhttp::field::content_length, cl);
      else out.content_length(res.body.size());
    }
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, out, net::as_tuple(net::use_awaitable));
    co_return !ec;
  }

  void Observe(const Request& req, const Response& res) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - req.start).count();
    metrics.ObserveRequest(req.method, req.route, res.status, secs);
    obs::Info("request", {{"request_id", req.request_id},
                          {"trace_id", req.trace_id},
                          {"method", req.method},
                          {"path", req.path},
                          {"status_code", res.status},
                          {"duration_ms", std::round(secs * 1e5) / 100.0},
                          {"client", req.remote_ip}});
  }
};

Server::Server(Runtime& runtime, ServerOptions options, obs::Metrics& metrics, HeadHandler handler)
    : Server(runtime, std::move(options), metrics, Handler{}) {
  impl_->head_handler = std::move(handler);
}

Server::Server(Runtime& runtime, ServerOptions options, obs::Metrics& metrics, Handler handler)
    : impl_(std::make_shared<Impl>(runtime, std::move(options), metrics, std::move(handler), HeadHandler{})) {
  std::weak_ptr<Impl> weak = impl_;
  runtime.OnStop([weak] { if (auto i = weak.lock()) i->StopAccepting(); },
                 [weak] {
                   auto i = weak.lock();
                   return !i || i->active.load() == 0;
                 });
}

Server::~Server() { impl_->detached = true; }

bool Server::ReloadTls() {
  bool all = true;
  for (auto& slot : impl_->tls_slots) {
    try {
      slot->context.store(impl_->MakeTls(slot->files));
      obs::Info("TLS certificate reloaded", {{"cert_file", slot->files.cert_file}});
    } catch (const std::exception& e) {
      obs::Error("TLS certificate not reloaded; keeping the one in use", {{"error", e.what()}});
      all = false;
    }
  }
  return all;
}

std::uint16_t Server::Listen(const Listener& l) {
  auto& io = impl_->runtime.io();
  std::shared_ptr<Impl::TlsSlot> tls;
  if (l.tls) {
    tls = std::make_shared<Impl::TlsSlot>();
    tls->files = *l.tls;
    tls->context.store(impl_->MakeTls(*l.tls));
    impl_->tls_slots.push_back(tls);
  }
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
  net::co_spawn(ref.get_executor(), impl_->Accept(ref, tls), LogException{"accept"});
  obs::Info("listening", {{"address", l.address}, {"port", port}, {"tls", l.tls.has_value()}});
  return port;
}

}  // namespace suite::http
