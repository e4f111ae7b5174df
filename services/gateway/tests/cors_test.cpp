#include <catch2/catch.hpp>

#include "cors.hpp"

using gateway::Cors;

namespace {
suite::http::Request Preflight(std::string origin, std::string headers = "authorization, content-type") {
  suite::http::Request r;
  r.method = "OPTIONS";
  suite::http::Headers fields = {{"origin", std::move(origin)}, {"access-control-request-method", "POST"}};
  if (!headers.empty()) fields.emplace_back("access-control-request-headers", std::move(headers));
  r.SetHeaders(fields);
  return r;
}
}  // namespace

TEST_CASE("CORS: a listed origin's preflight is answered, with credentials and a 10-minute cache") {
  std::string err;
  const auto cors = Cors::Parse("http://localhost:3000, https://app.example.com/", err);
  REQUIRE(err.empty());
  const auto res = cors.Preflight(Preflight("https://app.example.com"));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->Header("access-control-allow-origin") == "https://app.example.com");
  CHECK(res->Header("access-control-allow-credentials") == "true");
  CHECK(res->Header("access-control-allow-methods") == "GET, POST, PUT, PATCH, DELETE, OPTIONS");
  CHECK(res->Header("access-control-allow-headers") == "authorization, content-type");
  CHECK(res->Header("access-control-max-age") == "600");
  CHECK(res->Header("vary") == "Origin");
  // Another origin, or a header list that could split a header: 400.
  CHECK(cors.Preflight(Preflight("https://evil.example"))->status == 400);
  CHECK(cors.Preflight(Preflight("https://app.example.com", "x\r\nset-cookie: a"))->status == 400);
  // Not a preflight: nothing to answer here.
  auto plain = Preflight("https://app.example.com");
  plain.method = "GET";
  CHECK_FALSE(cors.Preflight(plain));
}

TEST_CASE("CORS: answers to allowed origins get their headers, others none") {
  std::string err;
  const auto cors = Cors::Parse("http://localhost:3000", err);
  suite::http::Response res;
  cors.Decorate(res, "http://localhost:3000");
  CHECK(res.Header("access-control-allow-origin") == "http://localhost:3000");
  CHECK(res.Header("access-control-expose-headers").find("X-RateLimit-Remaining") != std::string_view::npos);
  suite::http::Response other;
  cors.Decorate(other, "http://localhost:3001");
  CHECK(other.headers.empty());
  // "*": any origin, never with credentials.
  const auto any = Cors::Parse("*", err);
  suite::http::Response wild;
  any.Decorate(wild, "https://anyone.example");
  CHECK(wild.Header("access-control-allow-origin") == "*");
  CHECK(wild.Header("access-control-allow-credentials").empty());
  CHECK_FALSE(Cors().enabled());
  Cors::Parse("localhost:3000", err);
  CHECK(err == "not an origin (scheme://host[:port]): localhost:3000");
}
