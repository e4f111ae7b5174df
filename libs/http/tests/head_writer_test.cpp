// The head writer's checks, byte by byte: a value with CR, LF or NUL anywhere (inside or across
// the 8-byte words it is scanned in) is refused; a name is exactly RFC 9110's token.
#include <catch2/catch.hpp>

#include <string>

#include "../src/head_writer.hpp"

using namespace suite::http::detail;

TEST_CASE("head writer: CR, LF or NUL at any place of a value refuses it, anything else is kept") {
  for (std::size_t len = 1; len <= 40; ++len)
    for (std::size_t at = 0; at < len; ++at)
      for (char bad : {'\r', '\n', '\0'}) {
        std::string v(len, 'a');
        v[at] = bad;
        INFO("length " << len << ", at " << at << ", byte " << static_cast<int>(bad));
        CHECK_FALSE(IsSafeFieldValue(v));
        std::string out;
        CHECK_FALSE(AppendField(out, "x-test", v));
        CHECK(out.empty());
      }
  std::string every;
  for (int c = 1; c < 256; ++c)
    if (c != '\r' && c != '\n') every += static_cast<char>(c);
  CHECK(IsSafeFieldValue(every));
  std::string out = "HTTP/1.1 200 OK\r\n";
  CHECK(AppendField(out, "x-test", "value 1"));
  CHECK(AppendField(out, "x-empty", ""));
  CHECK(out == "HTTP/1.1 200 OK\r\nx-test: value 1\r\nx-empty: \r\n");
}

TEST_CASE("head writer: a name is a token (RFC 9110 tchar), nothing else") {
  const std::string tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (int c = 0; c < 256; ++c) {
    const std::string name(1, static_cast<char>(c));
    INFO("byte " << c);
    CHECK(IsToken(name) == (tchar.find(static_cast<char>(c)) != std::string::npos && c != 0));
  }
  CHECK_FALSE(IsToken(""));
  std::string out;
  CHECK_FALSE(AppendField(out, "bad name", "v"));
  CHECK_FALSE(AppendField(out, "bad:name", "v"));
  CHECK(out.empty());
}
