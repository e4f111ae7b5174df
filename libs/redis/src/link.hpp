#pragma once
// Internal to libs/redis: one connection's bytes, TCP or TLS over TCP (rediss://). Every read,
// write and close of the client goes through a Link, so the rest of it never asks which.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <memory>
#include <string>

#include "suite/redis/client.hpp"

namespace suite::redis::detail {

namespace net = boost::asio;
constexpr auto kAwait = net::as_tuple(net::use_awaitable);

/// The TLS stream is made anew for each connection (Reset).
class Link {
 public:
  using Tls = net::ssl::stream<net::ip::tcp::socket>;
  explicit Link(net::io_context::executor_type ex) : plain_(ex) {}

  /// Before each connection: a new TLS stream (and socket) when `ctx` is given.
  void Reset(net::ssl::context* ctx) {
    if (ctx) tls_ = std::make_shared<Tls>(net::ip::tcp::socket(plain_.get_executor()), *ctx);
  }
  net::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  bool is_open() { return socket().is_open(); }
  void Close() {
    boost::system::error_code ignored;
    socket().close(ignored);
  }
  auto ReadSome(net::mutable_buffer b) { return tls_ ? tls_->async_read_some(b, kAwait) : plain_.async_read_some(b, kAwait); }
  auto WriteAll(net::const_buffer b) { return tls_ ? net::async_write(*tls_, b, kAwait) : net::async_write(plain_, b, kAwait); }
  /// A write with a callback; the TLS stream is kept alive by it, whatever comes meanwhile.
  template <class Handler>
  void Write(net::const_buffer b, Handler handler) {
    if (!tls_) return net::async_write(plain_, b, std::move(handler));
    net::async_write(*tls_, b, [keep = tls_, handler = std::move(handler)](boost::system::error_code ec, std::size_t n) mutable {
      handler(ec, n);
    });
  }
  /// The TLS handshake, when there is TLS: the certificate must name `host` (a DNS name, or an
  /// IP address), which is also sent as SNI when it is a name.
  net::awaitable<boost::system::error_code> Handshake(const std::string& host);

 private:
  net::ip::tcp::socket plain_;
  std::shared_ptr<Tls> tls_;
};

/// The TLS settings of a client, once; nullptr with `error` set when a file cannot be used.
std::shared_ptr<net::ssl::context> TlsContext(const Options& o, std::string& error);

}  // namespace suite::redis::detail
