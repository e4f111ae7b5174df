// TOTP second factor against real PostgreSQL; codes are computed as an authenticator app
// would, from the enrolment's base32 secret.
#include "pg_fixture.hpp"

#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "users.hpp"


using suite::core::ApiError;
using suite::core::ErrorCode;
using auth_test::CodeOf;

TEST_CASE("TOTP: enrol, confirm, log in with a code once, recovery codes, disable") {
  auto owned = auth_test::OpenPool();
  if (!owned) return;
  suite::db::Pool& pool = *owned;
  suite::security::PasswordHasher hasher({.ops_limit = 1, .mem_limit = 64 * 1024});
  suite::security::Hs256 jwt("0123456789abcdef0123456789abcdef");
  auth::Users users(pool, hasher, jwt, {});
  const auth::Totp totp(suite::security::SecretBox(std::string(40, 't')), "Suite Test");
  users.SetTotp(&totp);
  const std::string name = "t" + suite::core::RandomHex(5), pw = "SecurePass123!";
  users.Register(name, name + "@example.com", pw, {});
  const auth::ClientInfo client{"10.0.0.3", "ua"};

  CHECK(CodeOf([&] { users.TotpConfirm(name, "123456", client); }) == ErrorCode::kBadRequest);  // nothing pending
  const auto enrol = users.TotpEnroll(name, client);
  const std::string b32 = enrol["secret"];
  CHECK(enrol["otpauth_url"].get<std::string>().rfind("otpauth://totp/Suite%20Test:" + name + "?secret=" + b32, 0) == 0);
  const auto secret = auth::Totp::FromBase32(b32);
  CHECK(secret.size() == 20);
  // Pending: login does not ask for a code yet.
  CHECK(users.Login(name, pw, client).contains("access_token"));
  const auto now = std::time(nullptr);
  CHECK(CodeOf([&] { users.TotpConfirm(name, "abcdef", client); }) == ErrorCode::kBadRequest);
  const auto confirmed = users.TotpConfirm(name, auth::Totp::CodeAt(secret, now), client);
  REQUIRE(confirmed["recovery_codes"].size() == 10);
  CHECK(users.Me(name)["totp_enabled"] == true);
  CHECK(CodeOf([&] { users.TotpEnroll(name, client); }) == ErrorCode::kConflict);

  // A right password alone: MFA_REQUIRED, which is not a failure.
  CHECK(CodeOf([&] { users.Login(name, pw, client); }) == ErrorCode::kMfaRequired);
  // A wrong password is still just that (the code is not asked for).
  CHECK(CodeOf([&] { users.Login(name, "Wrong-pass1!", client, {}, "000000"); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Login(name, pw, client, {}, "12345"); }) == ErrorCode::kUnauthenticated);
  // The next step's code (one step of skew is allowed) logs in, once.
  const auto next = auth::Totp::CodeAt(secret, now + 30);
  CHECK(users.Login(name, pw, client, {}, next).contains("access_token"));
  CHECK(CodeOf([&] { users.Login(name, pw, client, {}, next); }) == ErrorCode::kUnauthenticated);  // replayed
  CHECK(CodeOf([&] { users.Login(name, pw, client, {}, auth::Totp::CodeAt(secret, now)); }) ==
        ErrorCode::kUnauthenticated);  // an older step
  // Recovery codes: each once.
  const std::string rc = confirmed["recovery_codes"][0];
  CHECK(users.Login(name, pw, client, {}, rc).contains("access_token"));
  CHECK(CodeOf([&] { users.Login(name, pw, client, {}, rc); }) == ErrorCode::kUnauthenticated);
  // Wrong codes count as failed logins: the lock bounds guessing (the reused recovery code was
  // the first failure since the last success; four more make five).
  for (int i = 0; i < 4; ++i) CodeOf([&] { users.Login(name, pw, client, {}, "999999"); });
  CHECK(CodeOf([&] { users.Login(name, pw, client, {}, confirmed["recovery_codes"][1].get<std::string>()); }) == ErrorCode::kForbidden);
  auth_test::Sql(pool, "UPDATE auth.users SET failed_attempts = 0, locked_until = NULL WHERE username = '" + name + "'");
  // The secret is sealed in the table.
  const auto stored_plain = pool.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    return tx.exec_params1("SELECT position($1::bytea in t.secret) > 0 FROM auth.user_totp t JOIN auth.users u ON "
                           "u.id = t.user_id WHERE u.username = $2",
                           pqxx::binarystring(secret.data(), secret.size()), name)[0]
        .as<bool>();
  });
  CHECK_FALSE(stored_plain);
  // Disabling takes the password and a code.
  const std::string rc2 = confirmed["recovery_codes"][2];
  CHECK(CodeOf([&] { users.TotpDisable(name, "Wrong-pass1!", rc2, client); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.TotpDisable(name, pw, "000000", client); }) == ErrorCode::kUnauthenticated);
  users.TotpDisable(name, pw, rc2, client);
  CHECK(users.Me(name)["totp_enabled"] == false);
  CHECK(users.Login(name, pw, client).contains("access_token"));
}
