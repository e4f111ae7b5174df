#pragma once
// Our parser for both directions: Beast's basic_parser for the wire (start line, field syntax,
// obs-fold, bare CR, Content-Length and chunked framing, header and body limits) with callbacks
// of our own that write the start line, the fields and the body straight into our Request (the
// server's) or Response (the upstream pool's answers). No field container in between: Beast's
// basic_fields kept every field in a list and a tree, and the message was then copied out of it.
// Its differential fuzz target (tests/fuzz/fuzz_head) checks that it reads every input exactly as
// Beast's own parser does.
#include <boost/beast/http/basic_parser.hpp>

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "suite/http/message.hpp"

namespace suite::http::detail {

template <bool isRequest>
class MessageParser final : public boost::beast::http::basic_parser<isRequest> {
 public:
  using Message = std::conditional_t<isRequest, Request, Response>;
  using error_code = boost::beast::error_code;
  using field = boost::beast::http::field;
  using verb = boost::beast::http::verb;
  using string_view = boost::beast::string_view;

  /// Parses into `m`: the start line (a request's method and target, an answer's status), the
  /// fields (names lowercased, in the wire's order; a chunked body's trailer fields are dropped),
  /// and the body (appended to m.body, unless IntoPiece sends it elsewhere).
  explicit MessageParser(Message& m) : m_(&m) {}
  /// Takes over `other`'s place in the message it reads, for its body in pieces only (IntoPiece
  /// was called or is called before the next read): the message itself may be gone.
  MessageParser(MessageParser&& other) noexcept
      : boost::beast::http::basic_parser<isRequest>(std::move(other)), m_(nullptr), version_(other.version_),
        pieces_(other.pieces_), piece_(other.piece_), piece_left_(other.piece_left_) {}

  /// HTTP version as 10 or 11 (valid once the head is parsed).
  unsigned version() const { return version_; }
  /// The first Expect field was "100-continue".
  bool expects_continue() const { return expects_continue_; }
  /// RFC 9112 §3.2 and §6.1: what a request head must satisfy before its body is framed, or
  /// nullptr. A Transfer-Encoding other than exactly "chunked", or next to a Content-Length, is
  /// how requests are smuggled past a proxy.
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
  void on_request_impl(verb method, string_view method_str, string_view target, int version, error_code& ec) override;
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(field name, string_view name_string, string_view value, error_code& ec) override;
  void CountFraming(field name, string_view value);
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  Message* m_;  ///< null once moved (the body then goes into pieces only)
  unsigned version_ = 11;
  unsigned hosts_ = 0, transfer_encodings_ = 0, content_lengths_ = 0, expects_ = 0;
  bool chunked_only_ = false;  ///< the one Transfer-Encoding is exactly "chunked"
  bool expects_continue_ = false;
  bool pieces_ = false;
  char* piece_ = nullptr;
  std::size_t piece_left_ = 0;
};

using RequestParser = MessageParser<true>;
using ResponseParser = MessageParser<false>;
extern template class MessageParser<true>;
extern template class MessageParser<false>;

/// For ReadPiece (body_pieces.hpp).
template <bool isRequest>
void AimAt(MessageParser<isRequest>& parser, char* piece) {
  parser.IntoPiece(piece, kBodyPiece);
}
template <bool isRequest>
std::size_t RoomLeft(const MessageParser<isRequest>& parser) {
  return parser.piece_left();
}

}  // namespace suite::http::detail
