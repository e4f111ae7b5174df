#include "message_parser.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cstring>

#include "suite/core/json.hpp"

namespace suite::http::detail {

using boost::beast::iequals;

namespace {
// A request keeps its fields' text in its own storage, one copy each, no allocation of their own.
void AddField(Request& req, std::string_view name, std::string_view value) {
  req.headers.emplace_back(req.Keep(name, true), req.Keep(value));
}
void AddField(Response& res, std::string_view name, std::string_view value) {
  auto& [k, v] = res.headers.emplace_back();
  k.resize(name.size());
  std::transform(name.begin(), name.end(), k.begin(), [](char c) { return core::AsciiLower(c); });
  v.assign(value.data(), value.size());
}
}  // namespace

template <bool isRequest>
const char* MessageParser<isRequest>::FramingError() const {
  if (version_ >= 11 ? hosts_ != 1 : hosts_ > 1) return "Exactly one Host header is required";
  if (transfer_encodings_ == 0) return nullptr;
  if (version_ < 11) return "Transfer-Encoding is not allowed in HTTP/1.0";
  if (content_lengths_ > 0) return "Transfer-Encoding and Content-Length together are not allowed";
  if (!chunked_only_) return "Unsupported Transfer-Encoding (only chunked)";
  return nullptr;
}

template <bool isRequest>
void MessageParser<isRequest>::on_request_impl(verb, string_view method_str, string_view target, int version,
                                               error_code&) {
  if constexpr (isRequest) {
    m_->method.assign(method_str.data(), method_str.size());
    m_->target.assign(target.data(), target.size());
  }
  version_ = static_cast<unsigned>(version);
}

template <bool isRequest>
void MessageParser<isRequest>::on_response_impl(int code, string_view, int version, error_code&) {
  if constexpr (!isRequest) m_->status = code;
  version_ = static_cast<unsigned>(version);
}

template <bool isRequest>
void MessageParser<isRequest>::on_field_impl(field name, string_view name_string, string_view value, error_code&) {
  // A chunked body's trailer fields come after the head, once the filters have read it: never
  // added to it (nothing could slip past a check that way), and never passed on.
  if (this->is_header_done() || m_ == nullptr) return;
  if constexpr (isRequest) CountFraming(name, value);
  AddField(*m_, name_string, value);
}

// What FramingError judges: a request's Host, Transfer-Encoding, Content-Length and Expect.
template <bool isRequest>
void MessageParser<isRequest>::CountFraming(field name, string_view value) {
  switch (name) {
    case field::host:
      ++hosts_;
      break;
    case field::transfer_encoding:
      chunked_only_ = ++transfer_encodings_ == 1 && iequals(core::TrimSpace(std::string_view(value)), "chunked");
      break;
    case field::content_length:
      ++content_lengths_;
      break;
    case field::expect:
      if (++expects_ == 1) expects_continue_ = iequals(value, "100-continue");
      break;
    default:
      break;
  }
}

template <bool isRequest>
void MessageParser<isRequest>::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code&) {
  // Within the body limit (the parser refused a longer declared length before this).
  if (!pieces_ && m_ != nullptr && content_length) m_->body.reserve(static_cast<std::size_t>(*content_length));
}

template <bool isRequest>
std::size_t MessageParser<isRequest>::on_body_impl(string_view body, error_code& ec) {
  if (!pieces_) {
    m_->body.append(body.data(), body.size());
    return body.size();
  }
  const std::size_t n = std::min(body.size(), piece_left_);
  if (n > 0) std::memcpy(piece_, body.data(), n);
  piece_ += n;
  piece_left_ -= n;
  if (n < body.size()) ec = boost::beast::http::error::need_buffer;
  return n;
}

template class MessageParser<true>;
template class MessageParser<false>;

}  // namespace suite::http::detail
