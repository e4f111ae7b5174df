#include <catch2/catch.hpp>

#include "suite/security/identity.hpp"

using namespace suite::security;

TEST_CASE("identity tokens round-trip and refuse other secrets and plain JWTs") {
  IdentitySigner signer("internal-secret-internal-secret-32");
  Identity id{.subject = "alice", .roles = {"admin", "user"}, .tier = "pro", .method = "jwt",
              .api_key_id = "k1", .client_ip = "10.0.0.7"};
  const Binding req{"rid-1", "POST", "/process"};
  auto back = signer.Verify(signer.Sign(id, req), req);
  CHECK(back.subject == "alice");
  CHECK(back.HasRole("admin"));
  CHECK_FALSE(back.HasRole("root"));
  CHECK(back.tier == "pro");
  CHECK(back.client_ip == "10.0.0.7");
  IdentitySigner other("another-secret-another-secret-32b");
  CHECK_THROWS_AS(other.Verify(signer.Sign(id, req), req), JwtError);
  // A user's access token, even signed with the same secret, lacks the internal audience.
  Hs256 same("internal-secret-internal-secret-32");
  CHECK_THROWS_AS(signer.Verify(same.Sign({{"sub", "x"}, {"exp", 9999999999}}), req), JwtError);
  CHECK_THROWS_AS(signer.Verify("", req), JwtError);
}

TEST_CASE("an identity token is bound to its request id, method and path") {
  IdentitySigner signer("internal-secret-internal-secret-32");
  Identity id{.subject = "alice", .roles = {"admin"}};
  const std::string token = signer.Sign(id, {"rid-1", "GET", "/audit/requests"});
  CHECK(signer.Verify(token, {"rid-1", "GET", "/audit/requests"}).subject == "alice");
  CHECK_THROWS_WITH(signer.Verify(token, {"rid-2", "GET", "/audit/requests"}),
                    "internal identity issued for another request");
  CHECK_THROWS_AS(signer.Verify(token, {"rid-1", "POST", "/audit/requests"}), JwtError);
  CHECK_THROWS_AS(signer.Verify(token, {"rid-1", "GET", "/users/1"}), JwtError);
}

TEST_CASE("an identity token claiming a long life is refused") {
  Hs256 raw("internal-secret-internal-secret-32");
  IdentitySigner signer("internal-secret-internal-secret-32", std::chrono::seconds(10));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  auto forge = [&](std::int64_t exp) {
    return raw.Sign({{"iss", "suite-gateway"}, {"aud", "suite-internal"}, {"sub", "x"}, {"rid", "r"},
                     {"mth", "GET"}, {"pth", "/p"}, {"iat", now}, {"exp", exp}});
  };
  CHECK(signer.Verify(forge(now + 10), {"r", "GET", "/p"}).subject == "x");
  CHECK_THROWS_AS(signer.Verify(forge(now + 3600), {"r", "GET", "/p"}), JwtError);
}
