#pragma once
// Internal to libs/http: a plain TCP connection with a deadline (deadline.hpp), in place of
// beast::tcp_stream for the server's connections and the upstream pools'. Reads and writes go
// straight to the socket; the only addition to each is a check of the deadline at its start and
// the mapping of the cancellation the deadline causes to beast::error::timeout at its end.
// It is its own lowest layer (beast::get_lowest_layer returns it). Used on one loop's thread.
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>

#include <memory>

#include "deadline.hpp"

namespace suite::http::detail {

class PlainStream {
  struct Core {
    explicit Core(boost::asio::ip::tcp::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}
    boost::asio::ip::tcp::socket socket;
    Deadline deadline;
    // As beast::tcp_stream does: the socket closes, so a peer still sending learns at once.
    void Expired() {
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  };

 public:
  using executor_type = boost::asio::any_io_executor;

  explicit PlainStream(boost::asio::ip::tcp::socket socket)
      : core_(std::make_shared<Core>(std::move(socket))) {}
  explicit PlainStream(const executor_type& ex) : PlainStream(boost::asio::ip::tcp::socket(ex)) {}
  PlainStream(const PlainStream&) = delete;
  PlainStream& operator=(const PlainStream&) = delete;

  executor_type get_executor() { return core_->socket.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return core_->socket; }

  void expires_after(Deadline::Clock::duration d) { SetDeadline(core_, d); }
  void expires_never() { ClearDeadline(core_->deadline); }
  void cancel() {
    boost::system::error_code ignored;
    core_->socket.cancel(ignored);
  }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [](auto handler, const std::shared_ptr<Core>& core, const Buffers& b) {
          if (core->deadline.timed_out) return Refuse(std::move(handler), core);
          core->socket.async_read_some(b, Mapped<decltype(handler)>{std::move(handler), core});
        },
        token, core_, buffers);
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [](auto handler, const std::shared_ptr<Core>& core, const Buffers& b) {
          if (core->deadline.timed_out) return Refuse(std::move(handler), core);
          core->socket.async_write_some(b, Mapped<decltype(handler)>{std::move(handler), core});
        },
        token, core_, buffers);
  }
  /// What the socket holds now, without waiting (the HTTP/2 session reads into its loop's one
  /// buffer and hands it on before anything else runs): 0 with would_block when nothing.
  std::size_t ReadNow(void* into, std::size_t size, boost::system::error_code& ec) {
    if (core_->deadline.timed_out) {
      ec = boost::beast::error::timeout;
      return 0;
    }
    if (!core_->socket.non_blocking()) core_->socket.non_blocking(true, ec);
    if (ec) return 0;
    return core_->socket.read_some(boost::asio::buffer(into, size), ec);
  }
  /// Tries the endpoints in turn, within the deadline.
  template <class Endpoints, class Token>
  auto async_connect(const Endpoints& endpoints, Token&& token) {
    using Endpoint = typename Endpoints::endpoint_type;
    return boost::asio::async_initiate<Token, void(boost::system::error_code, Endpoint)>(
        [](auto handler, const std::shared_ptr<Core>& core, const Endpoints& eps) {
          if (core->deadline.timed_out) return Refuse(std::move(handler), core, Endpoint());
          boost::asio::async_connect(core->socket, eps, Mapped<decltype(handler)>{std::move(handler), core});
        },
        token, core_, endpoints);
  }

  /// Completes a handler with the socket's: the cancellation the deadline made is a timeout.
  template <class Handler>
  struct Mapped {
    Handler handler;
    std::shared_ptr<Core> core;
    template <class Result>
    void operator()(boost::system::error_code ec, Result r) {
      if (ec == boost::asio::error::operation_aborted && core->deadline.timed_out) ec = boost::beast::error::timeout;
      core.reset();
      std::move(handler)(ec, std::move(r));
    }
  };

 private:
  // A deadline already passed: the operation fails at once, through the executor (never inside
  // the initiating call), as Beast's does.
  template <class Handler, class Result = std::size_t>
  static void Refuse(Handler handler, const std::shared_ptr<Core>& core, Result r = {}) {
    auto ex = boost::asio::get_associated_executor(handler, core->socket.get_executor());
    boost::asio::post(ex, [h = std::move(handler), r]() mutable {
      std::move(h)(boost::system::error_code(boost::beast::error::timeout), r);
    });
  }

  std::shared_ptr<Core> core_;
};

}  // namespace suite::http::detail

// The wrapped handler keeps the associations of the one it wraps (executor, allocator,
// cancellation slot), as Asio's own binders do.
template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct boost::asio::associator<Associator, suite::http::detail::PlainStream::Mapped<Handler>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate> {
  static typename Associator<Handler, DefaultCandidate>::type get(
      const suite::http::detail::PlainStream::Mapped<Handler>& h) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.handler);
  }
  static auto get(const suite::http::detail::PlainStream::Mapped<Handler>& h, const DefaultCandidate& c) noexcept
      -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c)) {
    return Associator<Handler, DefaultCandidate>::get(h.handler, c);
  }
};
