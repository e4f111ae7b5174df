// The server's listeners: accept, connection caps, TLS contexts and the drain. What is said on
// a connection is session.cpp's.
#include "suite/http/server.hpp"

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <csignal>
#include <ctime>

#include "head_writer.hpp"
#include "suite/core/json.hpp"
#include "server_core.hpp"
#include "tls_context.hpp"

namespace suite::http {

namespace detail {

using namespace std::chrono_literals;

namespace {

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

}  // namespace

bool ServerCore::Acquire(const net::ip::address& client) {
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
void ServerCore::Release(const net::ip::address& client) {
  {
    std::lock_guard lock(mu);
    auto it = per_client.find(client);
    if (it != per_client.end() && --it->second == 0) per_client.erase(it);
  }
  --connections;
  if (!detached) metrics.connections().Decrement();
}

void ServerCore::Drain() {
  if (draining.exchange(true)) return;
  {
    // HTTP/2 connections say GOAWAY now, busy or not: their clients open no new stream.
    std::lock_guard lock(mu);
    for (auto& s : sessions)
      if (s.drain) s.drain();
  }
  // The kernel completes handshakes before accept(): connections already in a listener's queue
  // have had their requests sent, and closing the listener would reset them. They are taken
  // first (each is then answered with Connection: close), and the listener closes after.
  for (std::size_t i = 0; i < acceptors.size(); ++i) {
    net::post(acceptors[i]->get_executor(), [self = shared_from_this(), a = acceptors[i].get(), tls = acceptor_tls[i]] {
      beast::error_code ec;
      a->non_blocking(true, ec);
      for (std::size_t n = 0; !ec && n < self->options.max_connections; ++n) {
        tcp::socket socket(a->get_executor());
        a->accept(socket, ec);
        if (!ec) self->Admit(std::move(socket), tls);
      }
      a->close(ec);
    });
  }
  // Idle keep-alive connections are not cut at once: a client may be sending its next request
  // on one right now, and a POST it cannot know was not received must not be lost. For the
  // grace, such a request is answered with Connection: close; then what is still idle closes.
  if (options.drain_idle_grace.count() == 0) {
    CloseIdle();
    return;
  }
  grace = std::make_unique<net::steady_timer>(*loops.front(), options.drain_idle_grace);
  grace->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec != net::error::operation_aborted) self->CloseIdle();
  });
}

Headers ServerCore::RenderLines(const Headers& headers) {
  Headers lines;
  for (const auto& [k, v] : headers)
    if (std::string line; AppendField(line, k, v)) lines.emplace_back(k, std::move(line));
  return lines;
}

Headers ServerCore::RenderFields(const Headers& headers) {
  Headers fields;
  for (const auto& [k, v] : headers)
    if (IsToken(k) && IsSafeFieldValue(v)) fields.emplace_back(core::AsciiLower(k), v);
  return fields;
}

void ServerCore::CloseIdle() {
  std::lock_guard lock(mu);
  for (auto& s : sessions)
    if (s.idle) s.close();
  idle_closed = true;
}

bool ServerCore::Drained() {
  if (active.load() != 0) return false;
  if (idle_closed) return true;
  std::lock_guard lock(mu);
  return sessions.empty();
}

std::shared_ptr<net::ssl::context> ServerCore::MakeTls(const TlsFiles& files) {
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
  ConfigureTlsContext(ctx->native_handle(), options.http2.enabled);
  return ctx;
}

double ServerCore::NotAfter(net::ssl::context& ctx) {
  const X509* cert = SSL_CTX_get0_certificate(ctx.native_handle());
  std::tm tm{};
  if (cert == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  return static_cast<double>(timegm(&tm));
}

net::awaitable<void> ServerCore::Accept(tcp::acceptor& acceptor, std::shared_ptr<TlsSlot> tls) {
  auto self = shared_from_this();
  // One log line per episode of accept failures, not one per failure (nginx disables accept
  // for a while when descriptors run out; so do we).
  std::size_t failures = 0;
  net::steady_timer pause(acceptor.get_executor());
  for (;;) {
    // The connection stays on the acceptor's loop (one thread: no strand needed).
    auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
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
    Admit(std::move(socket), tls);
  }
}

void ServerCore::Admit(tcp::socket socket, const std::shared_ptr<TlsSlot>& tls) {
  beast::error_code rec;
  const auto remote = socket.remote_endpoint(rec);
  if (rec) {  // already gone
    Reset(socket);
    return;
  }
  if (!Acquire(remote.address())) {
    Reset(socket);  // the cheapest refusal: no handshake, no read, no buffer
    return;
  }
  // Answers go out in as few writes as we can make, never a small piece worth holding back; a
  // streamed body's pieces must not wait on the client's delayed ACK (Nagle's algorithm).
  socket.set_option(tcp::no_delay(true), rec);
  auto ex = socket.get_executor();
  if (tls) {
    net::co_spawn(ex, Secure(std::move(socket), remote.address(), tls->context.load()), LogException{"tls session"});
  } else {
    net::co_spawn(ex, Plain(std::move(socket), remote.address()), LogException{"session"});
  }
}

net::awaitable<void> ServerCore::Plain(tcp::socket socket, net::ip::address client) {
  Slot slot(shared_from_this(), client);
  PlainStream stream(std::move(socket));
  co_await Session(*this, stream, client);
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

net::awaitable<void> ServerCore::Secure(tcp::socket socket, net::ip::address client,
                                        std::shared_ptr<net::ssl::context> tls) {
  Slot slot(shared_from_this(), client);
  TlsStream stream(std::move(socket), tls->native_handle());  // `tls` outlives it (this frame)
  stream.expires_after(options.header_timeout);
  auto [ec] = co_await stream.async_handshake(net::as_tuple(net::use_awaitable));
  if (ec) co_return;  // scanners, plain HTTP on the TLS port, old protocols
  co_await Session(*this, stream, client);
  stream.expires_never();
  stream.Shutdown();  // close_notify, without waiting for the client's
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace detail

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {
// OpenSSL writes TLS connections' sockets with write(2): a client gone mid-answer must be an
// EPIPE for that connection, not a SIGPIPE that kills the process (nginx ignores it too).
void IgnoreSigpipe() {
  static const bool once = [] { return std::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)once;
}
}  // namespace

Server::Server(Loops loops, ServerOptions options, obs::Metrics& metrics, HeadHandler handler)
    : impl_(std::make_shared<detail::ServerCore>(std::move(loops), std::move(options), metrics)) {
  IgnoreSigpipe();
  impl_->handler = std::move(handler);
}

Server::~Server() { impl_->detached = true; }

void Server::Drain() { impl_->Drain(); }

bool Server::Drained() const { return impl_->Drained(); }

bool Server::ReloadTls() {
  bool all = true;
  for (auto& slot : impl_->tls_slots) {
    try {
      auto ctx = impl_->MakeTls(slot->files);
      slot->not_after = detail::ServerCore::NotAfter(*ctx);
      slot->context.store(std::move(ctx));
      obs::Info("TLS certificate reloaded", {{"cert_file", slot->files.cert_file}});
    } catch (const std::exception& e) {
      obs::Error("TLS certificate not reloaded; keeping the one in use", {{"error", e.what()}});
      all = false;
    }
  }
  return all;
}

std::uint16_t Server::Listen(const Listener& l) {
  std::shared_ptr<detail::ServerCore::TlsSlot> tls;
  if (l.tls) {
    tls = std::make_shared<detail::ServerCore::TlsSlot>();
    tls->files = *l.tls;
    tls->context.store(impl_->MakeTls(*l.tls));
    tls->not_after = detail::ServerCore::NotAfter(*tls->context.load());
    impl_->tls_slots.push_back(tls);
  }
  beast::error_code ec;
  const auto addr = net::ip::make_address(l.address, ec);
  if (ec) throw std::runtime_error("invalid listen address " + l.address);
  // One acceptor per loop on the same port: the kernel spreads new connections among them
  // (SO_REUSEPORT), and a connection never changes loop. Port 0 picks the first's port for all.
  const bool shared = impl_->loops.size() > 1;
  tcp::endpoint ep(addr, l.port);
  for (auto* loop : impl_->loops) {
    auto acceptor = std::make_unique<tcp::acceptor>(*loop);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && shared) acceptor->set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + l.address + ":" + std::to_string(ep.port()) + ": " + ec.message());
    ep.port(acceptor->local_endpoint().port());
    auto& ref = *acceptor;
    impl_->acceptors.push_back(std::move(acceptor));
    impl_->acceptor_tls.push_back(tls);
    net::co_spawn(ref.get_executor(), impl_->Accept(ref, tls), LogException{"accept"});
  }
  const auto port = ep.port();
  if (tls)
    impl_->metrics.Expose("tls_certificate_expiry_timestamp_seconds",
                          "When the certificate a TLS listener serves expires (Unix time), by port",
                          obs::Metrics::Kind::kGauge, {{"port", std::to_string(port)}},
                          [tls] { return tls->not_after.load(); });
  obs::Info("listening", {{"address", l.address}, {"port", port}, {"tls", l.tls.has_value()},
                          {"loops", impl_->loops.size()}});
  return port;
}

}  // namespace suite::http
