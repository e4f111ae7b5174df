#include <catch2/catch.hpp>

#include "suite/security/jwt.hpp"

using namespace suite::security;
using Catch::Matchers::Contains;
using clock_type = std::chrono::system_clock;

namespace {
std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_type::now().time_since_epoch())
      .count();
}
}  // namespace

TEST_CASE("base64url round-trips and rejects bad input") {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff", 2)})
    CHECK(Base64UrlDecode(Base64UrlEncode(s)) == s);
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  CHECK_FALSE(Base64UrlDecode("ab+c"));
  CHECK_FALSE(Base64UrlDecode("a"));
  CHECK_FALSE(Base64UrlDecode("Zm9=")); // padding is not base64url
  CHECK_FALSE(Base64UrlDecode("Zh"));   // non-canonical trailing bits
}

TEST_CASE("a signed token's parts are the canonical base64url of its claims, whatever their length") {
  Hs256 jwt("0123456789abcdef0123456789abcdef");
  // Claims of every length modulo 3, and bytes across the whole alphabet.
  for (int pad = 0; pad < 9; ++pad) {
    const std::string claims = R"({"exp":)" + std::to_string(Now() + 60) + R"(,"x":")" + std::string(pad, '\x7f') + "\xef\xbf\xbe" + R"("})";
    const auto token = jwt.SignPayload(claims);
    const auto dot1 = token.find('.'), dot2 = token.rfind('.');
    CHECK(token.substr(dot1 + 1, dot2 - dot1 - 1) == Base64UrlEncode(claims));
    CHECK(Base64UrlDecode(token.substr(dot2 + 1)).has_value());  // canonical: the strict decoder takes it
    CHECK(token.substr(dot2 + 1).size() == 43);
    CHECK(jwt.Verify(token)["x"].get<std::string>().size() == static_cast<std::size_t>(pad) + 3);
  }
}

TEST_CASE("verifies a token signed elsewhere (jwt.io vector)") {
  // Has no exp: the signature passes, then the exp rule rejects it.
  const std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
      "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  CHECK_THROWS_WITH(Hs256("your-256-bit-secret").Verify(token), Contains("exp"));
  CHECK_THROWS_WITH(Hs256("another-secret").Verify(token), Contains("Signature verification"));
}

TEST_CASE("sign then verify, with exp, nbf, iss and aud") {
  Hs256 jwt("0123456789abcdef0123456789abcdef");
  const auto token = jwt.Sign({{"sub", "u1"}, {"exp", Now() + 60}, {"iss", "me"}, {"aud", "x"}});
  auto claims = jwt.Verify(token, {.issuer = "me", .audience = "x"});
  CHECK(claims["sub"] == "u1");
  CHECK_THROWS_WITH(jwt.Verify(token, {.issuer = "other"}), Contains("issuer"));
  CHECK_THROWS_WITH(jwt.Verify(token, {.audience = "y"}), Contains("audience"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", Now() - 1}})), Contains("expired"));
  CHECK_NOTHROW(jwt.Verify(jwt.Sign({{"exp", Now() - 1}}), {.leeway = std::chrono::seconds(30)}));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", Now() + 60}, {"nbf", Now() + 30}})),
                    Contains("not yet valid"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", "soon"}})), Contains("exp"));
}

TEST_CASE("algorithm is pinned: none and other algs are refused") {
  Hs256 jwt("0123456789abcdef0123456789abcdef");
  const std::string payload = Base64UrlEncode(R"({"sub":"a","exp":9999999999})");
  CHECK_THROWS_WITH(jwt.Verify(Base64UrlEncode(R"({"alg":"none"})") + "." + payload + "."),
                    Contains("alg"));
  const std::string h512 = Base64UrlEncode(R"({"alg":"HS512","typ":"JWT"})") + "." + payload;
  CHECK_THROWS_WITH(jwt.Verify(h512 + "." + Base64UrlEncode(HmacSha256("k", h512))),
                    Contains("alg"));
}

TEST_CASE("malformed and tampered tokens") {
  Hs256 jwt("0123456789abcdef0123456789abcdef");
  CHECK_THROWS_AS(jwt.Verify("invalid.jwt.token"), JwtError);
  CHECK_THROWS_WITH(jwt.Verify("abc"), Contains("segments"));
  CHECK_THROWS_WITH(jwt.Verify("a.b.c.d"), Contains("segments"));
  auto token = jwt.Sign({{"sub", "u1"}, {"exp", Now() + 60}});
  const auto dot = token.find('.');
  std::string forged = token.substr(0, dot + 1) +
                       Base64UrlEncode(R"({"sub":"admin","exp":9999999999})") +
                       token.substr(token.rfind('.'));
  CHECK_THROWS_WITH(jwt.Verify(forged), Contains("Signature"));
  CHECK_THROWS_WITH(jwt.Verify(std::string(9000, 'a')), Contains("too large"));
}

TEST_CASE("constant-time compare and digests") {
  CHECK(ConstantTimeEquals("abc", "abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abcd"));
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("exp, nbf and iat must be integers in range") {
  Hs256 jwt("0123456789abcdef0123456789abcdef");
  const auto now = Now();
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", 1e308}})), Contains("not an integer"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", static_cast<double>(now + 60)}})), Contains("not an integer"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", std::to_string(now + 60)}})), Contains("not an integer"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", 18446744073709551615ull}})), Contains("out of range"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", -1}})), Contains("out of range"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", now + 60}, {"nbf", 0.5}})), Contains("nbf"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", now + 60}, {"iat", now + 3600}})), Contains("future"));
  CHECK(jwt.Verify(jwt.Sign({{"exp", now + 60}, {"iat", now}, {"nbf", now}}))["exp"] == now + 60);
}

TEST_CASE("a maximum lifetime caps exp from now and from iat") {
  Hs256 jwt("0123456789abcdef0123456789abcdef");
  // One instant for signing and verifying: the boundary cases are exact to the second.
  const auto at = clock_type::now();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  const JwtOptions day{.max_lifetime = std::chrono::seconds(86400)};
  CHECK_NOTHROW(jwt.Verify(jwt.Sign({{"exp", now + 86400}}), day, at));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", now + 86401}}), day, at), Contains("lifetime"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", 99'999'999'999}}), day, at), Contains("lifetime"));
  CHECK_THROWS_WITH(jwt.Verify(jwt.Sign({{"exp", now + 60}, {"iat", now - 90'000}}), day, at), Contains("lifetime"));
  CHECK_NOTHROW(jwt.Verify(jwt.Sign({{"exp", 99'999'999'999}})));  // without the option
}

TEST_CASE("header and payload are parsed under limits before anything else") {
  Hs256 jwt("0123456789abcdef0123456789abcdef");
  const std::string deep = Base64UrlEncode(std::string(3000, '[') + std::string(3000, ']'));
  CHECK_THROWS_WITH(jwt.Verify(deep + ".e30.sig"), "Invalid header");
  const std::string head = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  const std::string body = Base64UrlEncode("{\"a\":" + std::string(1000, '[') + std::string(1000, ']') + "}");
  const std::string input = head + "." + body;
  CHECK_THROWS_WITH(jwt.Verify(input + "." + Base64UrlEncode(HmacSha256("0123456789abcdef0123456789abcdef", input))),
                    "Invalid payload");
}

TEST_CASE("HS256 from precomputed pads equals HMAC-SHA256 for short, block-sized and long keys") {
  for (const std::size_t n : {1u, 10u, 32u, 63u, 64u, 65u, 131u, 1000u}) {
    std::string key(n, '\0');
    for (std::size_t i = 0; i < n; ++i) key[i] = static_cast<char>(i * 7 + 1);
    const Hs256 jwt(key);
    const auto token = jwt.Sign({{"sub", "x"}, {"exp", 4102444800}});
    const auto dot = token.rfind('.');
    INFO(n);
    CHECK(token.substr(dot + 1) == Base64UrlEncode(HmacSha256(key, token.substr(0, dot))));
    CHECK(jwt.Verify(token)["sub"] == "x");
    const Hs256 copy = jwt;  // copies share the key
    CHECK(copy.Verify(token)["sub"] == "x");
  }
}
