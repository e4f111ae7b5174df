#include <catch2/catch.hpp>

#include "suite/security/password.hpp"

using namespace suite::security;

TEST_CASE("argon2id hashes verify, reject wrong passwords and report old parameters") {
  PasswordHasher fast({.ops_limit = 1, .mem_limit = 8 * 1024});
  const auto phc = fast.Hash("S3cure!pass");
  CHECK(phc.rfind("$argon2id$v=19$m=8,t=1,p=1$", 0) == 0);
  CHECK(fast.Verify(phc, "S3cure!pass"));
  CHECK_FALSE(fast.Verify(phc, "S3cure!pasS"));
  CHECK_FALSE(fast.Verify("not-a-hash", "x"));
  CHECK(fast.Hash("S3cure!pass") != phc);  // salted
  CHECK_FALSE(fast.NeedsRehash(phc));
  PasswordHasher stronger({.ops_limit = 2, .mem_limit = 8 * 1024});
  CHECK(stronger.NeedsRehash(phc));
  CHECK(stronger.Verify(phc, "S3cure!pass"));
}
