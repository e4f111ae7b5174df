#pragma once
// A streamed body's pieces on the wire, both ways and on both sides (the server's uploads and
// answers, the upstream pool's requests and answers): read through a Beast `buffer_body`
// parser a piece at a time; written as they are (a declared Content-Length) or as chunks
// (RFC 9112 §7.1).
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <utility>

#include "suite/http/body_stream.hpp"

namespace suite::http::detail {

/// The last chunk, without trailers.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

/// Where a parser puts the next piece of the body, and the room it has left there: Beast's
/// buffer_body parsers, and our own (message_parser.hpp).
template <bool isRequest, class Allocator>
void AimAt(boost::beast::http::parser<isRequest, boost::beast::http::buffer_body, Allocator>& parser, char* piece) {
  parser.get().body().data = piece;
  parser.get().body().size = kBodyPiece;
}
template <bool isRequest, class Allocator>
std::size_t RoomLeft(const boost::beast::http::parser<isRequest, boost::beast::http::buffer_body, Allocator>& parser) {
  return parser.get().body().size;
}

/// The next piece of the body `parser` is reading, into `piece` (kBodyPiece bytes): how many
/// bytes (0 once the body is complete), or the read's error. Reads that yield only framing (a
/// chunk's size line) go on to the next; the caller's deadline covers them all.
template <class Stream, class Parser>
boost::asio::awaitable<std::pair<boost::beast::error_code, std::size_t>> ReadPiece(
    Stream& stream, boost::beast::flat_buffer& buffer, Parser& parser, char* piece) {
  namespace net = boost::asio;
  namespace bhttp = boost::beast::http;
  while (!parser.is_done()) {
    AimAt(parser, piece);
    auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, net::as_tuple(net::use_awaitable));
    if (ec == bhttp::error::need_buffer) ec = {};  // the piece is full
    if (ec) co_return std::pair{ec, std::size_t{0}};
    if (const std::size_t got = kBodyPiece - RoomLeft(parser); got > 0) co_return std::pair{ec, got};
  }
  co_return std::pair{boost::beast::error_code{}, std::size_t{0}};
}

/// Copies `body` to `stream` as its pieces come, each write within `timeout` (no deadline runs
/// while a piece is awaited: the source's own bound that), then the last chunk when chunked.
/// Returns a write's error; a source that failed stops the copy before the last chunk, without
/// one (the caller reads body.status()), so the reader sees an incomplete body, never a short one.
template <class Stream>
boost::asio::awaitable<boost::beast::error_code> CopyBody(Stream& stream, BodyStream& body, bool chunked,
                                                          std::chrono::milliseconds timeout) {
  namespace net = boost::asio;
  auto& lowest = boost::beast::get_lowest_layer(stream);
  char line[24];
  while (true) {
    const auto piece = co_await body.Next();
    if (piece.empty()) break;
    lowest.expires_after(timeout);
    const int len = chunked ? std::snprintf(line, sizeof line, "%zx\r\n", piece.size()) : 0;
    const std::array<net::const_buffer, 3> buffers{net::buffer(line, static_cast<std::size_t>(len)),
                                                   net::buffer(piece.data(), piece.size()),
                                                   net::buffer("\r\n", chunked ? 2 : 0)};
    auto [ec, n] = co_await net::async_write(stream, buffers, net::as_tuple(net::use_awaitable));
    if (ec) co_return ec;
  }
  if (body.status() != BodyStatus::kOk || !chunked) co_return boost::beast::error_code{};
  lowest.expires_after(timeout);
  auto [ec, n] = co_await net::async_write(stream, net::buffer(kLastChunk.data(), kLastChunk.size()),
                                           net::as_tuple(net::use_awaitable));
  co_return ec;
}

}  // namespace suite::http::detail
