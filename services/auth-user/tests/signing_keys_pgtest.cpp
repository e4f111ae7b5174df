// ES256 access tokens, the JWKS and key rotation against real PostgreSQL. One test case: the
// signing keys are shared by the whole schema, and ctest runs test cases in parallel.
#include "pg_fixture.hpp"

#include "signing_keys.hpp"
#include "suite/core/ids.hpp"
#include "users.hpp"


using suite::security::JwkSet;

TEST_CASE("signing keys: ES256 tokens verify with the JWKS, and after a rotation old tokens stay valid until expiry") {
  auto owned = auth_test::OpenPool();
  if (!owned) return;
  suite::db::Pool& pool = *owned;
  const std::string secret(40, 's');
  auto ring = std::make_unique<auth::SigningKeys>(pool, suite::security::SecretBox(secret), std::chrono::seconds(900));
  ring->EnsureKey();
  ring->EnsureKey();  // idempotent
  suite::security::PasswordHasher hasher({.ops_limit = 1, .mem_limit = 64 * 1024});
  suite::security::Hs256 hs("0123456789abcdef0123456789abcdef");
  auth::Users users(pool, hasher, hs, {});
  users.SetSigner([&](const nlohmann::json& claims) { return ring->Sign(claims); });
  const std::string name = "s" + suite::core::RandomHex(5);
  users.Register(name, name + "@example.com", "SecurePass123!", {});
  const suite::security::JwtOptions opts{.issuer = std::string("suite-auth"), .audience = std::string("suite-api")};

  const std::string before = users.Login(name, "SecurePass123!", {})["access_token"];
  auto jwks = ring->Jwks();
  CHECK(JwkSet::FromJwks(jwks).Verify(before, opts)["sub"] == name);
  for (const auto& k : jwks["keys"]) {
    CHECK_FALSE(k.contains("d"));  // never the private part
    CHECK(k["alg"] == "ES256");
  }
  // The key material is sealed in the table.
  const auto plain_pem = pool.With([](pqxx::connection& c) {
    pqxx::work tx(c);
    return tx.exec("SELECT count(*) FROM auth.signing_keys WHERE position(convert_to('PRIVATE KEY', 'UTF8') "
                   "in private_key) > 0")[0][0].as<int>();
  });
  CHECK(plain_pem == 0);
  // HS256 tokens are not what the JWKS verifies.
  CHECK_THROWS(JwkSet::FromJwks(jwks).Verify(hs.Sign({{"sub", name}, {"exp", 9'999'999'999}})));

  const auto rotated = ring->Rotate();
  const std::string after = users.Login(name, "SecurePass123!", {})["access_token"];
  CHECK(after != before);
  const auto both = JwkSet::FromJwks(ring->Jwks());
  CHECK(both.Contains(rotated["kid"]));
  CHECK(both.Verify(before, opts)["sub"] == name);  // the retired key is still published
  CHECK(both.Verify(after, opts)["sub"] == name);
  CHECK(ring->List()["items"][0]["current"] == true);

  // Once every token the old key signed has expired, it leaves the JWKS (a new replica's view).
  auth_test::Sql(pool, "UPDATE auth.signing_keys SET retired_at = now() - interval '1 day' WHERE retired_at IS NOT NULL");
  ring = std::make_unique<auth::SigningKeys>(pool, suite::security::SecretBox(secret), std::chrono::seconds(900));
  const auto later = JwkSet::FromJwks(ring->Jwks());
  CHECK_THROWS_WITH(later.Verify(before, opts), "Unknown signing key");
  CHECK(later.Verify(ring->Sign({{"iss", "suite-auth"}, {"aud", "suite-api"}, {"exp", 9'999'999'999}}), opts)
            .contains("exp"));

  // Another secret cannot open the stored key: the service refuses to start.
  auth::SigningKeys wrong(pool, suite::security::SecretBox(std::string(40, 'w')), std::chrono::seconds(900));
  CHECK_THROWS(wrong.EnsureKey());
}
