#include <catch2/catch.hpp>

#include "trusted_hosts.hpp"

using gateway::TrustedHosts;

TEST_CASE("trusted hosts: exact names, *.domain, ports, case") {
  std::string err;
  const auto t = TrustedHosts::Parse("localhost, 127.0.0.1,*.Example.com,[::1]", err);
  REQUIRE(err.empty());
  CHECK(t.Allows("localhost"));
  CHECK(t.Allows("LOCALHOST:8443"));
  CHECK(t.Allows("127.0.0.1:443"));
  CHECK(t.Allows("api.example.com"));
  CHECK(t.Allows("a.b.example.com:8443"));
  CHECK(t.Allows("[::1]:8443"));
  CHECK_FALSE(t.Allows("example.com"));  // *.example.com is the subdomains
  CHECK_FALSE(t.Allows("evil.example"));
  CHECK_FALSE(t.Allows("localhost.evil.example"));
  CHECK_FALSE(t.Allows("evilexample.com"));
  CHECK_FALSE(t.Allows(""));
  CHECK_FALSE(t.Allows("[::1"));
}

TEST_CASE("trusted hosts: * allows any, bad entries are configuration errors") {
  std::string err;
  CHECK(TrustedHosts().Allows("anything.example"));
  CHECK(TrustedHosts::Parse("*", err).Allows("evil.example"));
  CHECK(err.empty());
  TrustedHosts::Parse("good.example, bad host", err);
  CHECK(err == "not a host name, address or *.domain: bad host");
  err.clear();
  TrustedHosts::Parse(" , ", err);
  CHECK(err == "lists no host");
}
