#pragma once
// A streamed body's pieces on the wire: as they are (a declared Content-Length) or as chunks
// (RFC 9112 §7.1). The server's streamed answers and the upstream pool's streamed requests.
#include <boost/asio.hpp>

#include <array>
#include <cstdio>
#include <string_view>

namespace suite::http::detail {

/// The last chunk, without trailers.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

/// Writes one piece (never empty: an empty chunk would end the body).
template <class Stream>
boost::asio::awaitable<boost::system::error_code> WritePiece(Stream& stream, std::string_view piece, bool chunked) {
  namespace net = boost::asio;
  if (!chunked) {
    auto [ec, n] = co_await net::async_write(stream, net::buffer(piece.data(), piece.size()),
                                             net::as_tuple(net::use_awaitable));
    co_return ec;
  }
  char line[24];
  const int len = std::snprintf(line, sizeof line, "%zx\r\n", piece.size());
  const std::array<net::const_buffer, 3> buffers{net::buffer(line, static_cast<std::size_t>(len)),
                                                 net::buffer(piece.data(), piece.size()), net::buffer("\r\n", 2)};
  auto [ec, n] = co_await net::async_write(stream, buffers, net::as_tuple(net::use_awaitable));
  co_return ec;
}

}  // namespace suite::http::detail
