// Service accounts (OAuth client_credentials) against real PostgreSQL.
#include "pg_fixture.hpp"

#include "clients.hpp"
#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "suite/security/jwt.hpp"

using auth_test::CodeOf;
using suite::core::ErrorCode;

TEST_CASE("service clients: the secret is shown once and stored hashed, and authenticates only as itself") {
  auto pool = auth_test::OpenPool();
  if (!pool) return;
  auth::ServiceClients clients(*pool, {.token_ttl = std::chrono::seconds(60), .max_clients = 1000});
  const std::string name = "reporting-" + suite::core::RandomHex(4);
  const auto made = clients.Create("admin", name, {"process:write", "jobs:read"}, "pro");
  const std::string id = made["client_id"], secret = made["client_secret"];
  CHECK(id.rfind("svc_", 0) == 0);
  CHECK(secret.size() == 3 + 64);
  CHECK(made["tier"] == "pro");
  CHECK(made["scopes"] == nlohmann::json::array({"process:write", "jobs:read"}));
  // Stored as its SHA-256; never listed.
  CHECK(auth_test::Scalar(*pool, "SELECT count(*) FROM auth.service_clients WHERE client_id = '" + id +
                                     "' AND secret_hash = '" + suite::security::Sha256Hex(secret) + "'") == 1);
  const auto list = clients.List();
  CHECK(list.dump().find(secret) == std::string::npos);
  CHECK(list.dump().find(suite::security::Sha256Hex(secret)) == std::string::npos);
  CHECK(list.dump().find(id) != std::string::npos);

  const auto ok = clients.Authenticate(id, secret);
  REQUIRE(ok);
  CHECK(ok->tier == "pro");
  CHECK(ok->scopes == std::vector<std::string>{"process:write", "jobs:read"});
  CHECK_FALSE(clients.Authenticate(id, secret + "x"));
  CHECK_FALSE(clients.Authenticate(id, ""));
  CHECK_FALSE(clients.Authenticate("svc_unknown", secret));
  CHECK_FALSE(clients.Authenticate(id, std::string(10'000, 'a')));
  const auto other = clients.Create("admin", name + "-2", {}, "free");
  CHECK_FALSE(clients.Authenticate(id, other["client_secret"].get<std::string>()));
  // Revoked: no longer authenticates, and a second revocation is 404.
  clients.Revoke(id);
  CHECK_FALSE(clients.Authenticate(id, secret));
  CHECK(CodeOf([&] { clients.Revoke(id); }) == ErrorCode::kNotFound);
  // Bad input: 422.
  CHECK(CodeOf([&] { clients.Create("admin", "", {}, "free"); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { clients.Create("admin", "x", {"has space"}, "free"); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { clients.Create("admin", "x", {"quote\""}, "free"); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { clients.Create("admin", "x", std::vector<std::string>(33, "a"), "free"); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { clients.Create("admin", "x", {}, "gold"); }) == ErrorCode::kValidation);
}

TEST_CASE("service clients: a token asks for some of its client's scopes, or all of them, never another") {
  const auth::VerifiedClient c{"svc_1", "n", "free", {"process:write", "jobs:read"}};
  CHECK(auth::GrantedScopes(c, "") == std::vector<std::string>{"process:write", "jobs:read"});
  CHECK(auth::GrantedScopes(c, "jobs:read") == std::vector<std::string>{"jobs:read"});
  CHECK(auth::GrantedScopes(c, " jobs:read  jobs:read ") == std::vector<std::string>{"jobs:read"});
  CHECK_FALSE(auth::GrantedScopes(c, "jobs:read admin"));
  const auth::VerifiedClient none{"svc_2", "n", "free", {}};
  CHECK(auth::GrantedScopes(none, "")->empty());
  CHECK_FALSE(auth::GrantedScopes(none, "a"));
  CHECK(auth::IsScope("process:write"));
  CHECK(auth::IsScope("https://api.example/read"));
  CHECK_FALSE(auth::IsScope(""));
  CHECK_FALSE(auth::IsScope(std::string(65, 'a')));
  CHECK_FALSE(auth::IsScope("a,b"));
}
