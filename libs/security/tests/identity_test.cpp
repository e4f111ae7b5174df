#include <catch2/catch.hpp>

#include "suite/security/identity.hpp"

using namespace suite::security;

TEST_CASE("identity tokens round-trip and refuse other secrets and plain JWTs") {
  IdentitySigner signer("internal-secret-internal-secret-32");
  Identity id{.subject = "alice", .roles = {"admin", "user"}, .tier = "pro", .method = "jwt",
              .api_key_id = "k1", .client_ip = "10.0.0.7"};
  auto back = signer.Verify(signer.Sign(id, "rid-1"));
  CHECK(back.subject == "alice");
  CHECK(back.HasRole("admin"));
  CHECK_FALSE(back.HasRole("root"));
  CHECK(back.tier == "pro");
  CHECK(back.client_ip == "10.0.0.7");
  IdentitySigner other("another-secret-another-secret-32b");
  CHECK_THROWS_AS(other.Verify(signer.Sign(id, "r")), JwtError);
  // A user's access token, even signed with the same secret, lacks the internal audience.
  Hs256 same("internal-secret-internal-secret-32");
  CHECK_THROWS_AS(signer.Verify(same.Sign({{"sub", "x"}, {"exp", 9999999999}})), JwtError);
  CHECK_THROWS_AS(signer.Verify(""), JwtError);
}
