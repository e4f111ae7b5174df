#pragma once
// Internal to libs/http: a TLS connection (the server's, or an upstream pool's) whose socket OpenSSL reads and writes itself
// (SSL_set_fd), the way nginx does. Asio's ssl::stream keeps two 17 KB buffers per connection
// plus a BIO pair, and copies every byte through them: 10,000 idle TLS connections cost ~780 MB
// with it. Here an idle connection keeps the SSL object alone, whose record buffers OpenSSL
// frees between records (SSL_MODE_RELEASE_BUFFERS), and each read or write is one system call.
//
// It is its own lowest layer (beast::get_lowest_layer returns it): expires_after/expires_never/
// cancel behave as beast::tcp_stream's do (an operation pending when the deadline passes fails
// with beast::error::timeout), the deadline armed lazily (deadline.hpp). Used on one loop's
// thread only.
#include <boost/asio.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "deadline.hpp"

namespace suite::http::detail {

class TlsStream {
  struct Core {
    Core(boost::asio::ip::tcp::socket s, SSL* ssl) : socket(std::move(s)), ssl(ssl), deadline(socket.get_executor()) {}
    ~Core() { SSL_free(ssl); }
    boost::asio::ip::tcp::socket socket;
    SSL* ssl;
    Deadline deadline;
    // Cancelled, not closed: OpenSSL holds the descriptor (SSL_set_fd), and a number closed
    // under it could be reused by another connection before it lets go.
    void Expired() {
      boost::system::error_code ignored;
      socket.cancel(ignored);
    }
  };

 public:
  using executor_type = boost::asio::any_io_executor;

  /// `ctx` must outlive the stream (the server keeps the context a connection started with).
  TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx) : TlsStream(std::move(socket), ctx, nullptr) {}
  /// The client's side, to `host` (SNI, and the name or address its certificate must carry; the
  /// context says whom to trust).
  static std::unique_ptr<TlsStream> Client(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx, const std::string& host) {
    return std::unique_ptr<TlsStream>(new TlsStream(std::move(socket), ctx, &host));
  }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

 private:
  TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx, const std::string* host) {
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr) throw std::runtime_error("SSL_new failed");
    core_ = std::make_shared<Core>(std::move(socket), ssl);
    SSL_set_fd(ssl, core_->socket.native_handle());
    if (host == nullptr) {
      SSL_set_accept_state(ssl);
    } else {
      SSL_set_connect_state(ssl);
      boost::system::error_code ec;
      boost::asio::ip::make_address(*host, ec);
      if (!ec) {  // an address: checked against the certificate's IP names; no SNI (RFC 6066 3)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host->c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, host->c_str());
        SSL_set1_host(ssl, host->c_str());
      }
    }
    // The write buffer moves between retries (it lives in the operation); records are freed
    // while the connection is idle.
    SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    core_->socket.non_blocking(true);
  }

 public:
  executor_type get_executor() { return core_->socket.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return core_->socket; }

  /// A deadline for what is pending or started next, as beast::tcp_stream's (deadline.hpp).
  void expires_after(Deadline::Clock::duration d) { SetDeadline(core_, d); }
  void expires_never() { ClearDeadline(core_->deadline); }
  void cancel() {
    boost::system::error_code ignored;
    core_->socket.cancel(ignored);
  }

  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::beast::error_code)>(
        Op<Handshake>{core_, {}}, token, core_->socket);
  }
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    auto b = FirstNonEmpty(buffers);
    return boost::asio::async_compose<Token, void(boost::beast::error_code, std::size_t)>(
        Op<Read>{core_, Read{b}}, token, core_->socket);
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::beast::error_code, std::size_t)>(
        Op<Write>{core_, Write::Gather(buffers)}, token, core_->socket);
  }
  /// What has arrived now, decrypted, without waiting (the HTTP/2 session reads into its loop's
  /// one buffer and hands it on before anything else runs): 0 with would_block when nothing.
  std::size_t ReadNow(void* into, std::size_t size, boost::system::error_code& ec) {
    ec = {};
    if (core_->deadline.timed_out) {
      ec = boost::beast::error::timeout;
      return 0;
    }
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_read_ex(core_->ssl, into, size, &n);
    if (r == 1) return n;
    switch (SSL_get_error(core_->ssl, r)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        ec = boost::asio::error::would_block;
        break;
      case SSL_ERROR_ZERO_RETURN:
        ec = boost::asio::error::eof;
        break;
      case SSL_ERROR_SYSCALL:
        ec = errno != 0 ? boost::beast::error_code(errno, boost::system::system_category())
                        : boost::beast::error_code(boost::asio::ssl::error::stream_truncated);
        break;
      default:
        ec = boost::beast::error_code(static_cast<int>(ERR_get_error()), boost::asio::error::get_ssl_category());
        break;
    }
    ERR_clear_error();
    return 0;
  }
  /// The protocol ALPN chose ("h2", "http/1.1"), or empty.
  std::string_view Alpn() const {
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(core_->ssl, &p, &len);
    return p == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(p), len);
  }
  /// Sends close_notify if the socket takes it now; never waits for the peer's.
  void Shutdown() {
    ERR_clear_error();
    if (SSL_is_init_finished(core_->ssl)) SSL_shutdown(core_->ssl);
    ERR_clear_error();
  }

 private:
  template <class Buffers>
  static boost::asio::mutable_buffer FirstNonEmpty(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it)
      if (boost::asio::mutable_buffer b(*it); b.size() > 0) return b;
    return {};
  }

  // One step of each kind: 1 done (n set), 0 would block (wait set), -1 failed (ec set).
  struct Handshake {
    int Step(SSL* ssl, std::size_t&) { return SSL_do_handshake(ssl); }
  };
  struct Read {
    boost::asio::mutable_buffer b;
    int Step(SSL* ssl, std::size_t& n) { return b.size() == 0 ? 1 : SSL_read_ex(ssl, b.data(), b.size(), &n); }
  };
  struct Write {
    // Small buffers (a head and its body) are gathered, up to 16 KB, into one TLS record and one
    // system call (Asio's stream wrote only the first per call). A buffer that is alone or
    // large (a streamed body's piece) is written from where it is, without a copy: the caller
    // keeps it alive and unchanged until the write completes, as OpenSSL's retries need.
    boost::asio::const_buffer direct;
    std::string data;
    template <class Buffers>
    static Write Gather(const Buffers& buffers) {
      Write w;
      std::size_t count = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
        boost::asio::const_buffer b(*it);
        if (b.size() == 0) continue;
        if (count++ == 0) {
          w.direct = b;
          if (b.size() >= kMaxRecord) return w;
          continue;
        }
        if (w.data.empty()) w.data.assign(static_cast<const char*>(w.direct.data()), w.direct.size());
        const auto take = std::min<std::size_t>(b.size(), kMaxRecord - w.data.size());
        w.data.append(static_cast<const char*>(b.data()), take);
        if (w.data.size() == kMaxRecord) break;
      }
      return w;
    }
    int Step(SSL* ssl, std::size_t& n) {
      if (!data.empty()) return SSL_write_ex(ssl, data.data(), data.size(), &n);
      return direct.size() == 0 ? 1 : SSL_write_ex(ssl, direct.data(), direct.size(), &n);
    }
    static constexpr std::size_t kMaxRecord = 16 * 1024;
  };

  template <class Kind>
  struct Op {
    std::shared_ptr<Core> core;
    Kind kind;
    bool started = false;
    bool finished = false;
    boost::beast::error_code result;
    std::size_t n = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code wait_ec = {}) {
      if (finished) return Complete(self);
      const bool first = !started;
      started = true;
      if (wait_ec) {  // the wait was cancelled: by the deadline, or by cancel()
        result = core->deadline.timed_out ? boost::beast::error::timeout : boost::beast::error_code(wait_ec);
        return Finish(self, first);
      }
      if (core->deadline.timed_out) {
        result = boost::beast::error::timeout;
        return Finish(self, first);
      }
      ERR_clear_error();
      const int r = kind.Step(core->ssl, n);
      if (r == 1) return Finish(self, first);
      switch (SSL_get_error(core->ssl, r)) {
        case SSL_ERROR_WANT_READ:
          return core->socket.async_wait(boost::asio::socket_base::wait_read, std::move(self));
        case SSL_ERROR_WANT_WRITE:
          return core->socket.async_wait(boost::asio::socket_base::wait_write, std::move(self));
        case SSL_ERROR_ZERO_RETURN:
          result = boost::asio::error::eof;  // the peer's close_notify
          break;
        case SSL_ERROR_SYSCALL:
          // No close_notify: a truncated stream (or a reset).
          result = errno != 0 ? boost::beast::error_code(errno, boost::system::system_category())
                              : boost::beast::error_code(boost::asio::ssl::error::stream_truncated);
          break;
        default:
          result = boost::beast::error_code(static_cast<int>(ERR_get_error()), boost::asio::error::get_ssl_category());
          break;
      }
      ERR_clear_error();
      n = 0;
      Finish(self, first);
    }

    // Completed at once: through the executor, as Asio's own sockets do (never inside the
    // initiating call).
    template <class Self>
    void Finish(Self& self, bool first) {
      finished = true;
      if (first) return boost::asio::post(core->socket.get_executor(), std::move(self));
      Complete(self);
    }
    template <class Self>
    void Complete(Self& self) {
      if constexpr (std::is_same_v<Kind, Handshake>) self.complete(result);
      else self.complete(result, n);
    }
  };

  std::shared_ptr<Core> core_;
};

}  // namespace suite::http::detail
