#include "head_writer.hpp"

#include <charconv>

namespace suite::http::detail {

namespace {
bool IsTchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
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
  for (const char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

bool NameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

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
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
  return true;
}

void AppendField(std::string& out, std::string_view name, std::size_t value) {
  out += name;
  out += ": ";
  AppendNumber(out, value);
  out += "\r\n";
}

}  // namespace suite::http::detail
