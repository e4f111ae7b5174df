#include <catch2/catch.hpp>

#include "forwarding.hpp"
#include "suite/testing/task.hpp"

using namespace gateway;

namespace {
std::string Get(const suite::http::Headers& h, const std::string& name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return "<absent>";
}
// Header lines back into a list; every line must be whole.
suite::http::Headers Parse(const std::string& lines) {
  auto h = suite::testing::ParseHeaderLines(lines);
  REQUIRE(h);
  return *h;
}
}  // namespace

TEST_CASE("client-sent internal headers and credentials never reach a service") {
  suite::http::Request req;
  req.request_id = "rid-1";
  req.remote_ip = "203.0.113.9";
  req.secure = true;
  req.headers = {{"x-internal-identity", "forged"}, {"x-auth-user", "admin"}, {"x-api-key", "sk"},
                 {"authorization", "Bearer t"},      {"connection", "close"},  {"content-type", "application/json"},
                 {"x-forwarded-for", "198.51.100.1"}, {"x-request-id", "client"}, {"host", "api.example.com"},
                 {"x-forwarded-host", "evil.example"}, {"expect", "100-continue"}, {"x-evil", "a\r\ninjected: 1"}};
  auto h = Parse(UpstreamHeaderLines(req, "signed", "00-abc"));
  CHECK(Get(h, "x-internal-identity") == "signed");
  CHECK(Get(h, "x-auth-user") == "<absent>");
  CHECK(Get(h, "x-api-key") == "<absent>");
  CHECK(Get(h, "authorization") == "<absent>");
  CHECK(Get(h, "connection") == "<absent>");
  CHECK(Get(h, "content-type") == "application/json");
  CHECK(Get(h, "x-request-id") == "rid-1");
  CHECK(Get(h, "x-forwarded-for") == "198.51.100.1, 203.0.113.9");
  CHECK(Get(h, "x-forwarded-proto") == "https");
  CHECK(Get(h, "x-forwarded-host") == "api.example.com");  // the Host it was sent to, not the client's claim
  CHECK(Get(h, "host") == "<absent>");  // the pool writes the upstream's own
  CHECK(Get(h, "expect") == "<absent>");  // the gateway answered it and read the body
  CHECK(Get(h, "x-evil") == "<absent>");  // a value with a line break is dropped, never split
  CHECK(Get(h, "injected") == "<absent>");
  int forwarded_hosts = 0;
  for (const auto& [k, v] : h) forwarded_hosts += k == "x-forwarded-host";
  CHECK(forwarded_hosts == 1);
  int identities = 0;
  for (const auto& [k, v] : h) identities += k == "x-internal-identity";
  CHECK(identities == 1);
}

TEST_CASE("a field with an empty value, as the parser keeps it, passes as an empty field") {
  suite::http::Request req;
  req.request_id = "rid-2";
  req.remote_ip = "203.0.113.9";
  req.SetHeaders({{"x-empty", ""}, {"x-after", "v"}});  // kept by the request, as the parser does
  auto h = Parse(UpstreamHeaderLines(req, "signed", "00-abc"));
  CHECK(Get(h, "x-empty") == "");
  CHECK(Get(h, "x-after") == "v");
}

TEST_CASE("traceparent is continued when valid, created otherwise") {
  suite::http::Request req;
  req.headers = {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  auto tp = Traceparent(req);
  CHECK(tp.substr(0, 36) == "00-4bf92f3577b34da6a3ce929d0e0e4736-");
  CHECK(tp.size() == 55);
  CHECK(tp.substr(36, 16) != "00f067aa0ba902b7");  // our own span id
  req.headers = {{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}};
  CHECK(Traceparent(req).substr(3, 32) != std::string(32, '0'));
  req.headers = {};
  CHECK(Traceparent(req).size() == 55);
}

TEST_CASE("the API key query parameter stays at the edge") {
  suite::http::Request req;
  req.path = "/process";
  req.query = "api_key=secret&x=1&api_key=again";
  CHECK(UpstreamTarget(req) == "/process?x=1");
  req.query = "api_key=secret";
  CHECK(UpstreamTarget(req) == "/process");
  req.query = "";
  CHECK(UpstreamTarget(req) == "/process");
  // However it is encoded: authentication decodes the name, so stripping must too.
  req.query = "api%5Fkey=secret&x=1&%61pi_key=s2&api%5fkey=s3";
  CHECK(UpstreamTarget(req) == "/process?x=1");
  CHECK(req.Query("api_key") == "secret");
}

TEST_CASE("hop-by-hop response headers are dropped") {
  auto h = DownstreamHeaders({{"connection", "keep-alive"}, {"transfer-encoding", "chunked"}, {"content-type", "x"}});
  REQUIRE(h.size() == 1);
  CHECK(h[0].first == "content-type");
}
