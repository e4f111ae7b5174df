#pragma once
// Internal to libs/http: a connection's stream (PlainStream, TlsStream) as a Duplex, the bytes
// already read past the last head (`leftover`: a client may send its first frames right behind
// its upgrade request) delivered first. No deadline: the relay watches for idleness itself.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include "suite/http/upgrade.hpp"

namespace suite::http::detail {

template <class Stream>
class StreamDuplex final : public Duplex {
 public:
  StreamDuplex(Stream& stream, boost::beast::flat_buffer& leftover) : stream_(stream), leftover_(leftover) {
    boost::beast::get_lowest_layer(stream_).expires_never();
  }

  Task<std::size_t> ReadSome(char* into, std::size_t size) override {
    namespace net = boost::asio;
    if (closed_ || size == 0) co_return 0;
    if (leftover_.size() > 0) {
      const auto n = net::buffer_copy(net::buffer(into, size), leftover_.data());
      leftover_.consume(n);
      co_return n;
    }
    auto [ec, n] = co_await stream_.async_read_some(net::buffer(into, size), net::as_tuple(net::use_awaitable));
    co_return ec || closed_ ? 0 : n;
  }

  Task<bool> Write(std::string_view bytes) override {
    namespace net = boost::asio;
    if (closed_) co_return false;
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(bytes.data(), bytes.size()),
                                             net::as_tuple(net::use_awaitable));
    co_return !ec && !closed_;
  }

  void Close() override {
    closed_ = true;
    boost::beast::get_lowest_layer(stream_).cancel();
  }

 private:
  Stream& stream_;
  boost::beast::flat_buffer& leftover_;
  bool closed_ = false;
};

}  // namespace suite::http::detail
