#include <catch2/catch.hpp>

#include "suite/core/error.hpp"
#include "suite/core/json.hpp"

using suite::core::ApiError;
using suite::core::JsonLimits;
using suite::core::ParseJson;
using suite::core::ParseJsonBody;

TEST_CASE("ParseJson accepts ordinary documents") {
  auto r = ParseJson(R"({"a":[1,2,{"b":"c"}],"d":null,"e":1.5,"f":true})");
  REQUIRE(r.ok());
  CHECK(r.value["a"][2]["b"] == "c");
  CHECK(r.value["e"] == 1.5);
}

TEST_CASE("ParseJson stops 48,000 levels of nesting at the depth limit") {
  const std::string deep = std::string(48'000, '[') + std::string(48'000, ']');
  auto r = ParseJson(deep);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error.find("deeper than 64") != std::string::npos);
  CHECK(r.value.is_null());
  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 10'000; ++i) s += "{\"a\":";
    s += "1";
    for (int i = 0; i < 10'000; ++i) s += "}";
    return s;
  }();
  CHECK_FALSE(ParseJson(objects).ok());
}

TEST_CASE("ParseJson depth limit is exact and configurable") {
  const auto nest = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
  CHECK(ParseJson(nest(64)).ok());
  CHECK_FALSE(ParseJson(nest(65)).ok());
  CHECK(ParseJson(nest(3), {.max_depth = 3}).ok());
  CHECK_FALSE(ParseJson(nest(4), {.max_depth = 3}).ok());
}

TEST_CASE("ParseJson bounds size, element count and string length") {
  CHECK_FALSE(ParseJson(std::string(2000, ' ') + "1", {.max_bytes = 1000}).ok());
  std::string many = "[";
  for (int i = 0; i < 200; ++i) many += "1,";
  many += "1]";
  auto r = ParseJson(many, {.max_elements = 100});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error.find("more than 100 elements") != std::string::npos);
  CHECK(ParseJson(many, {.max_elements = 1000}).ok());
  CHECK_FALSE(ParseJson("\"" + std::string(100, 'x') + "\"", {.max_string = 50}).ok());
  CHECK_FALSE(ParseJson("{\"" + std::string(100, 'x') + "\":1}", {.max_string = 50}).ok());
}

TEST_CASE("ParseJson refuses U+0000 and ill-formed UTF-8") {
  CHECK_FALSE(ParseJson(R"({"a":"x\u0000y"})").ok());
  CHECK_FALSE(ParseJson(R"({"a\u0000":1})").ok());
  CHECK_FALSE(ParseJson("{\"a\":\"\xb7\"}").ok());
  CHECK_FALSE(ParseJson(R"({"a":"\ud800"})").ok());
  CHECK(ParseJson(R"({"a":"\u00e9\ud83d\ude00"})").ok());
}

TEST_CASE("ParseJsonBody answers 422 with the failing field") {
  try {
    ParseJsonBody(std::string(100, '['));
    FAIL("no exception");
  } catch (const ApiError& e) {
    CHECK(suite::core::HttpStatus(e.code()) == 422);
    CHECK(e.details()["errors"][0]["field"] == "body");
    CHECK(e.details()["errors"][0]["type"] == "value_error.json.too_deep");
  }
  try {
    ParseJsonBody("{oops");
    FAIL("no exception");
  } catch (const ApiError& e) {
    CHECK(suite::core::HttpStatus(e.code()) == 422);
    CHECK(e.details()["errors"][0]["message"].get<std::string>().rfind("Invalid JSON at byte", 0) == 0);
  }
}

TEST_CASE("IsValidUtf8 is strict") {
  using suite::core::IsValidUtf8;
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("\xc3\xa9"));                 // é
  CHECK(IsValidUtf8("\xf0\x9f\x98\x80"));         // 😀
  CHECK_FALSE(IsValidUtf8("\xb7"));               // lone continuation
  CHECK_FALSE(IsValidUtf8("\xc3"));               // truncated
  CHECK_FALSE(IsValidUtf8("\xc0\xaf"));           // overlong '/'
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80"));       // surrogate
  CHECK_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));   // above U+10FFFF
  CHECK_FALSE(suite::core::IsCleanText(std::string("a\0b", 3)));
}

TEST_CASE("an error about ill-formed bytes neither throws nor echoes them") {
  try {
    ParseJsonBody("{\"username\":\"\xb7\xb7\"}");
    FAIL("no exception");
  } catch (const ApiError& e) {
    const std::string message = e.details()["errors"][0]["message"];
    CHECK(message.find('\xb7') == std::string::npos);
    const auto body = suite::core::ErrorBody(e.code(), e.what(), "r", e.details());
    CHECK(nlohmann::json::parse(body)["error"]["code"] == "VALIDATION_ERROR");
  }
  // A message quoting client bytes still renders (replacement characters).
  CHECK_NOTHROW(suite::core::ErrorBody(suite::core::ErrorCode::kBadRequest, "bad \xb7", "r"));
}

TEST_CASE("AppendJsonString: every ASCII byte at every place of the eight-byte scan reads back") {
  for (int c = 0; c < 128; ++c)
    for (std::size_t len : {1u, 7u, 8u, 9u, 16u, 17u, 23u})
      for (std::size_t at = 0; at < len; ++at) {
        std::string text(len, 'a');
        text[at] = static_cast<char>(c);
        std::string out;
        suite::core::AppendJsonString(out, text);
        std::string expected = text;
        if (c == 0) expected[at] = '?';  // U+0000 never goes into a log line
        INFO("byte " << c << " at " << at << " of " << len);
        REQUIRE(nlohmann::json::parse(out) == expected);
        const bool same_length = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') || c == 0;
        CHECK((out.size() == len + 2) == same_length);  // escaped exactly when it must be ('?' for U+0000)
      }
}

TEST_CASE("AppendJsonString: escapes, and text that is not UTF-8 becomes clean text") {
  std::string out;
  suite::core::AppendJsonString(out, std::string("a\"b\\c\n\x01\x7f", 8));
  CHECK(out == "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\"");
  out.clear();
  suite::core::AppendJsonString(out, std::string("x\xff\xc3\xa9", 4));  // one bad byte: every non-ASCII byte goes
  CHECK(out == "\"x???\"");
  out.clear();
  suite::core::AppendJsonString(out, std::string("caf\xc3\xa9\0!", 7));
  CHECK(out == "\"caf\xc3\xa9?!\"");
  CHECK(nlohmann::json::parse(out) == std::string("caf\xc3\xa9?!"));
}
