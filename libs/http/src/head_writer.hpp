#pragma once
// Internal to libs/http: message heads written by hand into one string, sent with the body in
// one gathered write. Beast's serializer walks every field through a seven-way buffer
// concatenation and its field container allocates per field; a proxy writes two heads a request
// (about 7% of the gateway's time went there). Plain code, no Asio.
#include <string>
#include <string_view>

namespace suite::http::detail {

/// RFC 9110 token: what a method or a field name may be.
bool IsToken(std::string_view s);
/// A field value that cannot break the head's framing (no CR, LF or NUL).
bool IsSafeFieldValue(std::string_view s);
/// ASCII case-insensitive equality (field names).
bool NameEquals(std::string_view a, std::string_view b);
/// Content-Length, Transfer-Encoding, Connection, Keep-Alive: what frames a message on its
/// connection, written by whoever sends it, never copied from another message.
bool IsFramingField(std::string_view name);

void AppendStatusLine(std::string& out, unsigned version, int status, std::string_view reason);
void AppendRequestLine(std::string& out, std::string_view method, std::string_view target);
/// "name: value\r\n"; nothing (and false) when the name is not a token or the value unsafe.
bool AppendField(std::string& out, std::string_view name, std::string_view value);
void AppendField(std::string& out, std::string_view name, std::size_t value);

/// A head's string, taken from the loop thread's spares and given back when done: a head of a
/// proxied request is often over 1 KiB, and a new allocation that size makes glibc consolidate
/// its fast bins every time (malloc_consolidate was 1% of the gateway's time).
class HeadBuffer {
 public:
  HeadBuffer();
  ~HeadBuffer();
  HeadBuffer(const HeadBuffer&) = delete;
  HeadBuffer& operator=(const HeadBuffer&) = delete;
  std::string& operator*() { return text_; }
  std::string* operator->() { return &text_; }

 private:
  std::string text_;
};

}  // namespace suite::http::detail
