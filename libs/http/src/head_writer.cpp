#include "head_writer.hpp"

#include "suite/core/json.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <vector>

namespace suite::http::detail {

namespace {
// RFC 9110's tchar, as a table: every header name of every answer and upstream request passes here.
constexpr std::array<bool, 256> MakeTchar() {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) t[c] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = MakeTchar();
bool IsTchar(unsigned char c) { return kTchar[c]; }
// Whether any byte of the 8 in `v` equals `b` (the classic "has zero byte" test on v ^ b...b).
bool HasByte(std::uint64_t v, unsigned char b) {
  const std::uint64_t x = v ^ (0x0101010101010101ull * b);
  return ((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) != 0;
}
void AppendNumber(std::string& out, std::size_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}
}  // namespace

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!IsTchar(c)) return false;
  return true;
}

bool IsSafeFieldValue(std::string_view s) {
  // Eight bytes at a time: a value is a token or a date far more often than it is hostile.
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    if (HasByte(v, '\r') || HasByte(v, '\n') || HasByte(v, '\0')) return false;
  }
  for (; i < s.size(); ++i)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return false;
  return true;
}

bool NameEquals(std::string_view a, std::string_view b) { return core::AsciiEqualsIgnoreCase(a, b); }

bool IsFramingField(std::string_view name) {
  return NameEquals(name, "content-length") || NameEquals(name, "transfer-encoding") ||
         NameEquals(name, "connection") || NameEquals(name, "keep-alive");
}

void AppendStatusLine(std::string& out, unsigned version, int status, std::string_view reason) {
  out += version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
  AppendNumber(out, static_cast<std::size_t>(status));
  out += ' ';
  out += reason;
  out += "\r\n";
}

void AppendRequestLine(std::string& out, std::string_view method, std::string_view target) {
  out += method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\n";
}

bool AppendField(std::string& out, std::string_view name, std::string_view value) {
  if (!IsToken(name) || !IsSafeFieldValue(value)) return false;
  const std::size_t at = out.size();
  out.resize(at + name.size() + value.size() + 4);  // one growth check, then plain copies
  char* p = out.data() + at;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  if (!value.empty()) std::memcpy(p, value.data(), value.size());  // an empty view may have no data
  p += value.size();
  *p++ = '\r';
  *p = '\n';
  return true;
}

void AppendField(std::string& out, std::string_view name, std::size_t value) {
  out += name;
  out += ": ";
  AppendNumber(out, value);
  out += "\r\n";
}

namespace {
constexpr std::size_t kHeadReserve = 2048;
constexpr std::size_t kHeadKeepMax = 8192;  // one that grew past this (a huge head) is let go
constexpr std::size_t kSpareHeads = 64;
thread_local std::vector<std::string> spare_heads;
}  // namespace

HeadBuffer::HeadBuffer() {
  if (!spare_heads.empty()) {
    text_ = std::move(spare_heads.back());
    spare_heads.pop_back();
  } else {
    text_.reserve(kHeadReserve);
  }
}

HeadBuffer::~HeadBuffer() {
  if (text_.capacity() < kHeadReserve || text_.capacity() > kHeadKeepMax || spare_heads.size() >= kSpareHeads) return;
  text_.clear();
  spare_heads.push_back(std::move(text_));
}

}  // namespace suite::http::detail

namespace suite::http {
bool AppendHeaderLine(std::string& out, std::string_view name, std::string_view value) {
  return detail::AppendField(out, name, value);
}
}  // namespace suite::http
