#pragma once
// The server's request parser: Beast's basic_parser for the wire (request line, field syntax,
// obs-fold, bare CR, Content-Length and chunked framing, header and body limits) with callbacks
// of our own that write the method, target, fields and body straight into the Request. No
// field container in between: Beast's basic_fields kept every field in a list and a tree, and
// the request then copied them out again. Its differential fuzz target (tests/fuzz/fuzz_head)
// checks that it reads every input exactly as Beast's own request_parser does.
#include <boost/beast/http/basic_parser.hpp>

#include <cstddef>
#include <string_view>

#include "suite/http/message.hpp"

namespace suite::http::detail {

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  using error_code = boost::beast::error_code;
  using field = boost::beast::http::field;
  using verb = boost::beast::http::verb;
  using string_view = boost::beast::string_view;

  /// Parses into `req`: method, target, headers (names lowercased), and the body (appended to
  /// req.body, unless IntoPiece sends it elsewhere).
  explicit RequestParser(Request& req) : req_(req) {}

  /// HTTP version as 10 or 11 (valid once the head is parsed).
  unsigned version() const { return version_; }
  /// The first Expect field was "100-continue".
  bool expects_continue() const { return expects_continue_; }
  /// RFC 9112 §3.2 and §6.1: what a head must satisfy before its body is framed, or nullptr.
  /// A Transfer-Encoding other than exactly "chunked", or next to a Content-Length, is how
  /// requests are smuggled past a proxy.
  const char* FramingError() const;

  /// From now on the body's bytes go into `data` (up to `size`), as Beast's buffer_body does:
  /// when it is full the parse stops with error::need_buffer.
  void IntoPiece(char* data, std::size_t size) {
    pieces_ = true;
    piece_ = data;
    piece_left_ = size;
  }
  /// Room left in the current piece.
  std::size_t piece_left() const { return piece_left_; }

 private:
  void on_request_impl(verb method, string_view method_str, string_view target, int version,
                       error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code&) override {}
  void on_field_impl(field name, string_view name_string, string_view value, error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  Request& req_;
  unsigned version_ = 11;
  unsigned hosts_ = 0, transfer_encodings_ = 0, content_lengths_ = 0, expects_ = 0;
  bool chunked_only_ = false;  ///< the one Transfer-Encoding is exactly "chunked"
  bool expects_continue_ = false;
  bool pieces_ = false;
  char* piece_ = nullptr;
  std::size_t piece_left_ = 0;
};

/// For ReadPiece (body_pieces.hpp).
inline void AimAt(RequestParser& parser, char* piece) { parser.IntoPiece(piece, kBodyPiece); }
inline std::size_t RoomLeft(const RequestParser& parser) { return parser.piece_left(); }

}  // namespace suite::http::detail
