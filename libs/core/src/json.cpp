#include "suite/core/json.hpp"

#include <cstdint>
#include <cstring>

#include <vector>

#include "suite/core/error.hpp"

namespace suite::core {
namespace {

using nlohmann::json;

// Builds the DOM through nlohmann's own SAX DOM builder, checking every event against the
// limits first; returning false stops the parse at once.
class BoundedSax {
 public:
  BoundedSax(json& out, const JsonLimits& limits) : dom_(out, false), limits_(limits) {}

  bool null() { return Count() && dom_.null(); }
  bool boolean(bool v) { return Count() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return Count() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return Count() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return Count() && dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return Count() && Text(v) && dom_.string(v); }
  bool binary(json::binary_t&) { return Fail("binary values are not JSON"); }
  bool start_object(std::size_t n) { return Count() && Enter() && dom_.start_object(n); }
  bool key(json::string_t& v) { return Text(v) && dom_.key(v); }
  bool end_object() { --depth_; return dom_.end_object(); }
  bool start_array(std::size_t n) { return Count() && Enter() && dom_.start_array(n); }
  bool end_array() { --depth_; return dom_.end_array(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    if (error_.empty()) {
      // nlohmann's message names the byte position and the token; drop the "[json.exception...]" tag.
      std::string what = e.what();
      // Never reflect the client's bytes: drop nlohmann's "; last read: '...'" suffix.
      if (const auto last = what.find("; last read"); last != std::string::npos) what.resize(last);
      const auto tag = what.find("] ");
      error_ = "Invalid JSON at byte " + std::to_string(position) + ": " +
               (tag == std::string::npos ? what : what.substr(tag + 2));
    }
    return false;
  }

  const std::string& error() const { return error_; }
  const std::string& type() const { return type_; }

 private:
  bool Fail(std::string message, std::string type = "value_error.jsondecode") {
    if (error_.empty()) {
      error_ = std::move(message);
      type_ = std::move(type);
    }
    return false;
  }
  bool Count() {
    if (++elements_ > limits_.max_elements)
      return Fail("JSON has more than " + std::to_string(limits_.max_elements) + " elements",
                  "value_error.json.too_many_elements");
    return true;
  }
  bool Enter() {
    if (++depth_ > limits_.max_depth)
      return Fail("JSON nesting deeper than " + std::to_string(limits_.max_depth) + " levels",
                  "value_error.json.too_deep");
    return true;
  }
  bool Text(const std::string& s) {
    if (s.size() > limits_.max_string)
      return Fail("JSON string longer than " + std::to_string(limits_.max_string) + " bytes",
                  "value_error.json.string_too_long");
    // nlohmann already rejects ill-formed UTF-8 and lone surrogates; U+0000 it allows.
    if (s.find('\0') != std::string::npos)
      return Fail("JSON strings may not contain U+0000", "value_error.json.nul");
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const JsonLimits& limits_;
  std::size_t depth_ = 0, elements_ = 0;
  std::string error_, type_ = "value_error.jsondecode";
};

}  // namespace

JsonResult ParseJson(std::string_view text, const JsonLimits& limits) {
  JsonResult r;
  if (text.size() > limits.max_bytes) {
    r.error = "JSON larger than " + std::to_string(limits.max_bytes) + " bytes";
    r.type = "value_error.json.too_large";
    return r;
  }
  BoundedSax sax(r.value, limits);
  if (!json::sax_parse(text.begin(), text.end(), &sax, json::input_format_t::json, true)) {
    r.error = sax.error().empty() ? "Invalid JSON" : sax.error();
    r.type = sax.type();
    r.value = json();  // a partial DOM is freed here; nlohmann destroys iteratively
  }
  return r;
}

json ParseJsonBody(std::string_view text, const JsonLimits& limits) {
  auto r = ParseJson(text, limits);
  if (!r.ok())
    throw ApiError(ErrorCode::kValidation, "Request body is not acceptable JSON",
                   {{"errors", json::array({FieldError("body", r.error, r.type)})}});
  return std::move(r.value);
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII, nearly all the text here, eight bytes at a time.
    while (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p == end) break;
    const unsigned c = *p;
    if (c < 0x80) { ++p; continue; }
    std::size_t n;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return false;
    if (static_cast<std::size_t>(end - p) <= n) return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

namespace {
// Whether the 8 bytes at `p` are all printable ASCII that JSON takes as it is: 0x20-0x7e, but
// neither '"' nor '\\'. Eight at a time, without a branch per byte.
bool PlainAscii8(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  const auto has_zero = [&](std::uint64_t x) { return ((x - kOnes) & ~x & kHigh) != 0; };
  if ((v & kHigh) != 0) return false;                        // a byte of 0x80 or more
  if (((v - 0x20 * kOnes) & ~v & kHigh) != 0) return false;  // a byte under 0x20 (all are under 0x80 here)
  return !has_zero(v ^ ('"' * kOnes)) && !has_zero(v ^ ('\\' * kOnes)) && !has_zero(v ^ (0x7f * kOnes));
}
bool PlainAscii(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }
}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Most strings (ids, paths, names) are plain ASCII: found eight bytes at a time, appended whole,
  // with no UTF-8 check.
  std::size_t k = 0;
  while (k + 8 <= s.size() && PlainAscii8(s.data() + k)) k += 8;
  while (k < s.size() && PlainAscii(static_cast<unsigned char>(s[k]))) ++k;
  const bool utf8 = k == s.size() || IsValidUtf8(s);
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  out.append(s.data(), k);  // the plain prefix found above, not scanned again
  // Runs of bytes that need nothing are appended whole (most text is one such run).
  const auto plain = [utf8](unsigned char c) {
    return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f && (c < 0x80 || utf8);
  };
  std::size_t i = k;
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && plain(static_cast<unsigned char>(s[j]))) ++j;
    out.append(s.data() + i, j - i);
    if (j == s.size()) break;
    i = j + 1;
    const auto c = static_cast<unsigned char>(s[j]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == 0 || (c >= 0x80 && !utf8)) {
      out += '?';
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

bool IsCleanText(std::string_view s) { return s.find('\0') == std::string_view::npos && IsValidUtf8(s); }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = AsciiLower(c);
  return out;
}

bool AsciiEqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  return true;
}

}  // namespace suite::core
