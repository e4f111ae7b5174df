// E-mail links and the outbox against real PostgreSQL (the SMTP exchange itself is covered end
// to end with a real server in tests/e2e/seed000.sh).
#include "pg_fixture.hpp"

#include <regex>

#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "users.hpp"


using suite::core::ApiError;
using suite::core::ErrorCode;
using auth_test::CodeOf;

namespace {
struct Fixture {
  std::unique_ptr<suite::db::Pool> pool;
  suite::security::PasswordHasher hasher{{.ops_limit = 1, .mem_limit = 64 * 1024}};
  suite::security::Hs256 jwt{"0123456789abcdef0123456789abcdef"};
  std::string name = "m" + suite::core::RandomHex(5);
  std::string email = name + "@example.com";
  const std::string password = "SecurePass123!";
  const auth::ClientInfo client{"10.0.0.2", "test-agent/1.0"};
  // Nothing listens on port 1: every delivery fails, so rows stay readable.
  auth::SmtpSender sender{{.host = "127.0.0.1", .port = 1, .timeout = std::chrono::seconds(2)}};
  std::unique_ptr<auth::Outbox> outbox;

  bool Ready() {
    pool = auth_test::OpenPool();
    if (!pool) return false;
    outbox = std::make_unique<auth::Outbox>(*pool, sender, 2);
    return true;
  }
  auth::Users MakeUsers(bool require = true) {
    auth::Users users(*pool, hasher, jwt, {}, {}, {.require_verification = require});
    users.SetOutbox(outbox.get());
    return users;
  }
  // Bodies of the queued mails to `to`, oldest first.
  std::vector<std::string> Mails(const std::string& to) {
    return pool->With([&](pqxx::connection& c) {
      pqxx::work tx(c);
      std::vector<std::string> out;
      for (const auto& r : tx.exec_params("SELECT body FROM auth.outbox WHERE recipient = $1 ORDER BY id", to))
        out.emplace_back(r[0].c_str());
      return out;
    });
  }
  std::string TokenIn(const std::string& body) {
    std::smatch m;
    static const std::regex re(R"(token[=": ]+([A-Za-z0-9_-]{43}))");
    return std::regex_search(body, m, re) ? m[1].str() : std::string();
  }
  void Sql(const std::string& sql) { auth_test::Sql(*pool, sql); }
};

}  // namespace

TEST_CASE("verification: login waits for the link, which works once") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  const auto user = users.Register(f.name, f.email, f.password, f.client);
  CHECK_FALSE(user["is_verified"].get<bool>());
  CHECK(CodeOf([&] { users.Login(f.name, f.password, f.client); }) == ErrorCode::kEmailNotVerified);
  CHECK(CodeOf([&] { users.Login(f.name, "Wrong-pass1!", f.client); }) == ErrorCode::kUnauthenticated);
  const auto mails = f.Mails(f.email);
  REQUIRE(mails.size() == 1);
  const auto token = f.TokenIn(mails[0]);
  REQUIRE(token.size() == 43);
  CHECK(CodeOf([&] { users.VerifyEmail(token + "x", f.client); }) == ErrorCode::kBadRequest);
  CHECK(users.VerifyEmail(token, f.client)["user"]["is_verified"] == true);
  CHECK(CodeOf([&] { users.VerifyEmail(token, f.client); }) == ErrorCode::kBadRequest);
  CHECK(users.Login(f.name, f.password, f.client).contains("access_token"));
  // The digest is stored, never the token.
  const auto stored = f.pool->With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    return tx.exec_params1("SELECT count(*) FROM auth.email_tokens WHERE token_hash = $1", token)[0].as<int>();
  });
  CHECK(stored == 0);
}

TEST_CASE("verification: an expired link, or one to a replaced address, is refused") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  users.Register(f.name, f.email, f.password, f.client);
  const auto first = f.TokenIn(f.Mails(f.email).at(0));
  // A new address voids the link sent to the old one; its own link confirms it.
  const std::string next = "n" + f.email;
  users.UpdateMe(f.name, std::nullopt, next);
  CHECK(CodeOf([&] { users.VerifyEmail(first, f.client); }) == ErrorCode::kBadRequest);
  const auto second = f.TokenIn(f.Mails(next).at(0));
  f.Sql("UPDATE auth.email_tokens SET expires_at = now() - interval '1 second', created_at = now() - interval '2 minutes' WHERE user_id = (SELECT id FROM "
        "auth.users WHERE username = '" + f.name + "')");
  CHECK(CodeOf([&] { users.VerifyEmail(second, f.client); }) == ErrorCode::kBadRequest);
  // A new link (resend) works; a second resend within the interval sends nothing.
  users.ResendVerification(next, f.client);
  users.ResendVerification(next, f.client);
  const auto mails = f.Mails(next);
  REQUIRE(mails.size() == 2);
  CHECK(users.VerifyEmail(f.TokenIn(mails[1]), f.client)["user"]["email"] == next);
}

TEST_CASE("registration does not reveal a taken address when verification is on") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  const auto owner = users.Register(f.name, f.email, f.password, f.client);
  const auto other = "o" + f.name;
  const auto answer = users.Register(other, f.email, f.password, f.client);
  CHECK(answer["username"] == other);
  CHECK(answer["id"].get<long long>() > owner["id"].get<long long>());
  CHECK(answer.size() == owner.size());
  CHECK(CodeOf([&] { users.Login(other, f.password, f.client); }) == ErrorCode::kUnauthenticated);
  const auto mails = f.Mails(f.email);
  REQUIRE(mails.size() == 2);
  CHECK(mails[1].find("Someone tried to create a new account") != std::string::npos);
  // A taken username is reported: the person must choose another.
  CHECK(CodeOf([&] { users.Register(f.name, "x" + f.email, f.password, f.client); }) == ErrorCode::kConflict);
  // Without verification both are conflicts, as in seed 002.
  auto plain = f.MakeUsers(false);
  CHECK(CodeOf([&] { plain.Register("p" + f.name, f.email, f.password, f.client); }) == ErrorCode::kConflict);
}

TEST_CASE("password reset: one link, the policy, sessions ended, lock lifted") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers(false);
  users.Register(f.name, f.email, f.password, f.client);
  const auto login = users.Login(f.name, f.password, f.client);
  for (int i = 0; i < 5; ++i) CodeOf([&] { users.Login(f.name, "Wrong-pass1!", {"10.9.9.9", "x"}); });
  CHECK(CodeOf([&] { users.Login(f.name, f.password, {"10.9.9.9", "x"}); }) == ErrorCode::kForbidden);
  users.ForgotPassword("nobody-" + f.email, f.client);  // no such address: nothing queued, no error
  CHECK(f.Mails("nobody-" + f.email).empty());
  users.ForgotPassword(f.email, f.client);
  const auto mails = f.Mails(f.email);
  REQUIRE(mails.size() == 2);  // verification, reset
  const auto token = f.TokenIn(mails[1]);
  CHECK(CodeOf([&] { users.ResetPassword(token, "short", f.client); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { users.ResetPassword(token, f.name + "Pass1!", f.client); }) == ErrorCode::kValidation);
  users.ResetPassword(token, "Brand-New-Secret9", f.client);
  CHECK(CodeOf([&] { users.ResetPassword(token, "Other-New-Secret9", f.client); }) == ErrorCode::kBadRequest);
  CHECK(CodeOf([&] { users.Refresh(login["refresh_token"], f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Login(f.name, f.password, f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(users.Login(f.name, "Brand-New-Secret9", {"10.9.9.9", "x"}).contains("access_token"));  // lock lifted
  CHECK(users.Me(f.name)["is_verified"] == true);  // the mailbox was proven
}

TEST_CASE("outbox: a failed delivery is kept and retried later, then given up without its body") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  users.Register(f.name, f.email, f.password, f.client);
  // Only this test's row is made due; the sender cannot connect.
  f.Sql("UPDATE auth.outbox SET next_attempt_at = now() - interval '1 hour' WHERE recipient = '" + f.email + "'");
  CHECK(f.outbox->DeliverDue() == 0);
  auto row = [&] {
    return f.pool->With([&](pqxx::connection& c) {
      pqxx::work tx(c);
      return tx.exec_params1("SELECT attempts, next_attempt_at > now(), last_error IS NOT NULL, body <> '', "
                             "next_attempt_at = 'infinity' FROM auth.outbox WHERE recipient = $1",
                             f.email);
    });
  };
  auto r = row();
  CHECK(r[0].as<int>() >= 1);
  CHECK(r[1].as<bool>());
  CHECK(r[2].as<bool>());
  CHECK(r[3].as<bool>());
  f.Sql("UPDATE auth.outbox SET attempts = 1, next_attempt_at = now() - interval '1 hour' WHERE recipient = '" +
        f.email + "'");
  CHECK(f.outbox->DeliverDue() == 0);
  r = row();
  CHECK(r[0].as<int>() == 2);
  CHECK_FALSE(r[3].as<bool>());  // the link is gone
  CHECK(r[4].as<bool>());        // never tried again
}

TEST_CASE("a mail header cannot be split by a line break") {
  auth::SmtpSender sender({.host = "127.0.0.1", .from = "no-reply@example.com"});
  CHECK_THROWS(sender.Render({"a@example.com\r\nBcc: victim@example.com", "s", "b"}));
  CHECK_THROWS(sender.Render({"a@example.com", "s\nX: y", "b"}));
  const auto msg = sender.Render({"a@example.com", "Hello", "line one\nline two"});
  CHECK(msg.find("To: a@example.com\r\n") != std::string::npos);
  CHECK(msg.find("line one\r\nline two\r\n") != std::string::npos);
}

TEST_CASE("e-mail addresses are one address whatever their case: one account per mailbox, found either way") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  std::string upper = f.email;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  users.Register(f.name, f.email, f.password, f.client);
  // The same mailbox in capitals: answered as a new account (the address stays secret), none made.
  users.Register("u" + f.name, upper, f.password, f.client);
  CHECK(auth_test::Scalar(*f.pool, "SELECT count(*) FROM auth.users WHERE lower(email) = lower('" + f.email + "')") == 1);
  CHECK(f.Mails(f.email).size() == 2);  // the owner is told someone tried
  // Without verification: a conflict, as for the same spelling.
  auto plain = f.MakeUsers(false);
  CHECK(CodeOf([&] { plain.Register("p" + f.name, upper, f.password, f.client); }) == ErrorCode::kConflict);
  // Another account cannot take it in capitals either (409, not a server error).
  const auto other = "q" + f.name;
  plain.Register(other, other + "@example.com", f.password, f.client);
  CHECK(CodeOf([&] { plain.UpdateMe(other, std::nullopt, upper); }) == ErrorCode::kConflict);
  // The forgotten-password mail goes to the account whatever the case typed.
  users.ForgotPassword(upper, f.client);
  CHECK(f.Mails(f.email).size() == 3);
}
