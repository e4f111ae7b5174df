#include "request_parser.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cstring>

#include "suite/core/json.hpp"

namespace suite::http::detail {

using boost::beast::iequals;

const char* RequestParser::FramingError() const {
  if (version_ >= 11 ? hosts_ != 1 : hosts_ > 1) return "Exactly one Host header is required";
  if (transfer_encodings_ == 0) return nullptr;
  if (version_ < 11) return "Transfer-Encoding is not allowed in HTTP/1.0";
  if (content_lengths_ > 0) return "Transfer-Encoding and Content-Length together are not allowed";
  if (!chunked_only_) return "Unsupported Transfer-Encoding (only chunked)";
  return nullptr;
}

void RequestParser::on_request_impl(verb, string_view method_str, string_view target, int version, error_code&) {
  req_.method.assign(method_str.data(), method_str.size());
  req_.target.assign(target.data(), target.size());
  version_ = static_cast<unsigned>(version);
}

void RequestParser::on_field_impl(field name, string_view name_string, string_view value, error_code&) {
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
  auto& [k, v] = req_.headers.emplace_back();
  k.resize(name_string.size());
  std::transform(name_string.begin(), name_string.end(), k.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; });
  v.assign(value.data(), value.size());
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code&) {
  // Within the body limit (the parser refused a longer declared length before this).
  if (!pieces_ && content_length) req_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(string_view body, error_code& ec) {
  if (!pieces_) {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  const std::size_t n = std::min(body.size(), piece_left_);
  if (n > 0) std::memcpy(piece_, body.data(), n);
  piece_ += n;
  piece_left_ -= n;
  if (n < body.size()) ec = boost::beast::http::error::need_buffer;
  return n;
}

}  // namespace suite::http::detail
