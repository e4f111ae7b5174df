#include "pg_fixture.hpp"

#include <mutex>
#include <thread>

#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "throttle.hpp"
#include "users.hpp"


using suite::core::ApiError;
using suite::core::ErrorCode;
using auth_test::CodeOf;

namespace {
struct Fixture {
  std::unique_ptr<suite::db::Pool> pool;
  suite::security::PasswordHasher hasher{{.ops_limit = 1, .mem_limit = 64 * 1024}};
  suite::security::Hs256 jwt{"0123456789abcdef0123456789abcdef"};
  std::string name = "u" + suite::core::RandomHex(5);
  const std::string password = "SecurePass123!";
  const auth::ClientInfo client{"10.0.0.1", "test-agent/1.0"};

  bool Ready() {
    pool = auth_test::OpenPool();
    if (!pool) return false;
    return true;
  }
  auth::Users MakeUsers(std::chrono::seconds grace = std::chrono::seconds(5)) {
    return auth::Users(*pool, hasher, jwt, {}, {.reuse_grace = grace});
  }
};

}  // namespace

TEST_CASE("login gives a refresh token, refresh rotates it, a replay ends the whole session") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers(std::chrono::seconds(0));
  users.Register(f.name, f.name + "@example.com", f.password, {});
  auto login = users.Login(f.name, f.password, f.client);
  const std::string r1 = login["refresh_token"];
  CHECK(r1.size() == 43);  // 32 bytes, base64url
  CHECK(f.jwt.Verify(login["access_token"].get<std::string>())["sub"] == f.name);

  auto next = users.Refresh(r1, f.client);
  const std::string r2 = next["refresh_token"];
  CHECK(r2 != r1);
  CHECK(f.jwt.Verify(next["access_token"].get<std::string>())["sub"] == f.name);
  CHECK(users.ListSessions(f.name)["count"] == 1);

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the (zero) grace window
  CHECK(CodeOf([&] { users.Refresh(r1, f.client); }) == ErrorCode::kUnauthenticated);  // replay
  // ... which revoked the family: the legitimate successor is dead too.
  CHECK(CodeOf([&] { users.Refresh(r2, f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(users.ListSessions(f.name)["count"] == 0);
  CHECK(CodeOf([&] { users.Refresh("not-a-token", f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Refresh(std::string(10'000, 'a'), f.client); }) == ErrorCode::kUnauthenticated);
}

TEST_CASE("two refreshes racing with one token, inside the grace window, both succeed") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers(std::chrono::seconds(5));
  users.Register(f.name, f.name + "@example.com", f.password, {});
  const std::string r1 = users.Login(f.name, f.password, f.client)["refresh_token"];
  const std::string a = users.Refresh(r1, f.client)["refresh_token"];
  const std::string b = users.Refresh(r1, f.client)["refresh_token"];  // the concurrent second one
  CHECK(a != b);
  CHECK(users.Refresh(a, f.client).contains("access_token"));
  CHECK(users.Refresh(b, f.client).contains("access_token"));
  CHECK(users.ListSessions(f.name)["count"] == 1);  // still one session
}

TEST_CASE("logout ends one session, logout-all and a password change end all") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  users.Register(f.name, f.name + "@example.com", f.password, {});
  const std::string s1 = users.Login(f.name, f.password, f.client)["refresh_token"];
  const std::string s2 = users.Login(f.name, f.password, {"10.0.0.2", "other"})["refresh_token"];
  const std::string s3 = users.Login(f.name, f.password, f.client)["refresh_token"];
  auto list = users.ListSessions(f.name);
  REQUIRE(list["count"] == 3);
  CHECK(list["sessions"][0]["user_agent"].is_string());

  users.Logout(s1);
  CHECK(CodeOf([&] { users.Refresh(s1, f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Logout("unknown"); }) == ErrorCode::kUnauthenticated);
  CHECK(users.ListSessions(f.name)["count"] == 2);

  CHECK(CodeOf([&] { users.ChangePassword(f.name, "wrong-Pass1!", "NewSecure456!"); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.ChangePassword(f.name, f.password, "weak"); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { users.ChangePassword(f.name, f.password, f.password); }) == ErrorCode::kValidation);
  users.ChangePassword(f.name, f.password, "NewSecure456!");
  CHECK(CodeOf([&] { users.Refresh(s2, f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Refresh(s3, f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Login(f.name, f.password, f.client); }) == ErrorCode::kUnauthenticated);
  const std::string s4 = users.Login(f.name, "NewSecure456!", f.client)["refresh_token"];
  CHECK(users.LogoutAll(f.name) == 1);
  CHECK(CodeOf([&] { users.Refresh(s4, f.client); }) == ErrorCode::kUnauthenticated);
}

TEST_CASE("the caller's profile: read, update, conflicts and validation") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  users.Register(f.name, f.name + "@example.com", f.password, {});
  const std::string other = f.name + "x";
  users.Register(other, other + "@example.com", f.password, {});
  CHECK(users.Me(f.name)["email"] == f.name + "@example.com");
  CHECK_FALSE(users.Me(f.name).contains("password_hash"));
  auto updated = users.UpdateMe(f.name, std::nullopt, std::string(f.name + "@new.example.com"));
  CHECK(updated["email"] == f.name + "@new.example.com");
  CHECK(updated["username"] == f.name);
  CHECK(CodeOf([&] { users.UpdateMe(f.name, other, std::nullopt); }) == ErrorCode::kConflict);
  CHECK(CodeOf([&] { users.UpdateMe(f.name, std::nullopt, std::string("not-an-email")); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { users.Me("nobody-" + f.name); }) == ErrorCode::kNotFound);
}

TEST_CASE("administration: list with filters, update, deactivate, unlock, delete") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  const std::string admin = f.name + "adm";
  users.Register(admin, admin + "@example.com", f.password, {}, {.admin = true});
  const auto u = users.Register(f.name, f.name + "@example.com", f.password, {});
  const long long id = u["id"];

  auto page = users.ListUsers({.search = f.name, .limit = 1});
  CHECK(page["total"] == 2);
  CHECK(page["items"].size() == 1);
  CHECK(users.ListUsers({.search = f.name, .role = std::string("admin")})["total"] == 1);
  CHECK(users.ListUsers({.search = f.name + "%"})["total"] == 0);
  CHECK(users.GetUser(id)["username"] == f.name);
  CHECK(CodeOf([&] { users.GetUser(1LL << 60); }) == ErrorCode::kNotFound);

  auto changed = users.UpdateUser(id, {.is_verified = true, .is_superuser = true}, admin);
  CHECK(changed["is_verified"] == true);
  CHECK(changed["roles"] == nlohmann::json({"admin", "user"}));
  CHECK(CodeOf([&] { users.UpdateUser(id, {.username = admin}, admin); }) == ErrorCode::kConflict);
  CHECK(CodeOf([&] { users.UpdateUser(id, {.password = std::string("weak")}, admin); }) == ErrorCode::kValidation);
  const auto self = users.ListUsers({.search = admin})["items"][0]["id"].get<long long>();
  CHECK(CodeOf([&] { users.UpdateUser(self, {.is_superuser = false}, admin); }) == ErrorCode::kConflict);
  CHECK(CodeOf([&] { users.SetState(self, "deactivate", admin); }) == ErrorCode::kConflict);
  CHECK(CodeOf([&] { users.DeleteUser(self, admin); }) == ErrorCode::kConflict);

  const std::string refresh = users.Login(f.name, f.password, f.client)["refresh_token"];
  CHECK(users.SetState(id, "deactivate", admin)["is_active"] == false);
  CHECK(CodeOf([&] { users.Refresh(refresh, f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Login(f.name, f.password, f.client); }) == ErrorCode::kForbidden);
  users.SetState(id, "activate", admin);
  for (int i = 0; i < 5; ++i) CHECK(CodeOf([&] { users.Login(f.name, "Wrong-pass1!", f.client); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Login(f.name, f.password, f.client); }) == ErrorCode::kForbidden);  // locked
  users.SetState(id, "unlock", admin);
  CHECK(users.Login(f.name, f.password, f.client).contains("access_token"));
  CHECK(CodeOf([&] { users.SetState(id, "explode", admin); }) == ErrorCode::kNotFound);
  users.DeleteUser(id, admin);
  CHECK(CodeOf([&] { users.GetUser(id); }) == ErrorCode::kNotFound);
}

TEST_CASE("unknown names lock exactly like real ones") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  users.Register(f.name, f.name + "@example.com", f.password, {});
  const std::string ghost = "ghost-" + f.name;
  auto message = [&](const std::string& login) {
    try {
      users.Login(login, "Wrong-pass1!", f.client);
    } catch (const ApiError& e) {
      return std::to_string(suite::core::HttpStatus(e.code())) + " " + e.what() +
             (e.details().contains("retry_after_seconds") ? " retry" : "");
    }
    return std::string("no error");
  };
  for (int i = 0; i < 5; ++i) CHECK(message(f.name) == message(ghost));  // 401 and 401
  const auto real = message(f.name), unknown = message(ghost);
  CHECK(real.rfind("403 Account locked", 0) == 0);
  CHECK(real == unknown);
  CHECK(users.Me(f.name)["username"] == f.name);  // nothing created for the ghost
  CHECK(CodeOf([&] { users.Me(ghost); }) == ErrorCode::kNotFound);
}

TEST_CASE("a stranger's failures do not lock out the owner's known device") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers();
  users.Register(f.name, f.name + "@example.com", f.password, {});
  const std::string device = users.Login(f.name, f.password, f.client)["device_token"];
  REQUIRE_FALSE(device.empty());
  for (int i = 0; i < 5; ++i)  // a stranger, from anywhere, without the device token
    CHECK(CodeOf([&] { users.Login(f.name, "Wrong-pass1!", {"203.0.113.9", "x"}); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Login(f.name, f.password, f.client); }) == ErrorCode::kForbidden);  // unknown clients: locked
  auto ok = users.Login(f.name, f.password, f.client, device);  // the owner's device: not held
  CHECK(ok["device_token"] == device);
  // A forged or foreign device token is no device token.
  CHECK(CodeOf([&] { users.Login(f.name, f.password, f.client, device + "x"); }) == ErrorCode::kForbidden);
  // The device is held by its own failures only.
  for (int i = 0; i < 5; ++i)
    CHECK(CodeOf([&] { users.Login(f.name, "Wrong-pass1!", f.client, device); }) == ErrorCode::kUnauthenticated);
  CHECK(CodeOf([&] { users.Login(f.name, f.password, f.client, device); }) == ErrorCode::kForbidden);
}

TEST_CASE("login and registration attempts are limited per client address and minute") {
  Fixture f;
  if (!f.Ready()) return;
  auth::Throttle throttle(*f.pool, 3, 1);
  const std::string ip = "198.51.100." + std::to_string(std::rand() % 250);
  const std::string other = "2001:db8::" + f.name.substr(1);
  // Stay inside one minute window: start right after a boundary if this one is about to end.
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() % 60;
  if (s > 55) std::this_thread::sleep_for(std::chrono::seconds(61 - s));
  for (int i = 0; i < 3; ++i) CHECK_NOTHROW(throttle.Login(ip + f.name));
  try {
    throttle.Login(ip + f.name);
    FAIL("not throttled");
  } catch (const ApiError& e) {
    CHECK(e.code() == ErrorCode::kRateLimited);
    const auto retry = e.details()["retry_after_seconds"].get<int>();
    CHECK(retry >= 1);
    CHECK(retry <= 60);
  }
  CHECK_NOTHROW(throttle.Login(other));  // another client is not held
  CHECK_NOTHROW(throttle.Register(ip + f.name));  // another action has its own count
  CHECK(CodeOf([&] { throttle.Register(ip + f.name); }) == ErrorCode::kRateLimited);
  auth::Throttle off(*f.pool, 0, 0);
  for (int i = 0; i < 10; ++i) CHECK_NOTHROW(off.Login(ip + f.name));
}

TEST_CASE("security events: what happened, to whom, from where, and never a secret") {
  Fixture f;
  if (!f.Ready()) return;
  auto users = f.MakeUsers(std::chrono::seconds(0));
  std::vector<nlohmann::json> events;
  std::mutex mu;
  users.SetEventSink([&](suite::audit::Event e) {
    std::lock_guard lock(mu);
    events.push_back(nlohmann::json::parse(e.ToLine()));  // what the stream would carry
  });
  const auth::ClientInfo client{"192.0.2.7", "agent/2", "rid-" + f.name};
  users.Register(f.name, f.name + "@example.com", f.password, {});
  const auto login = users.Login(f.name, f.password, client);
  const std::string refresh = login["refresh_token"], device = login["device_token"];
  users.Refresh(refresh, client);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(CodeOf([&] { users.Refresh(refresh, client); }) == ErrorCode::kUnauthenticated);  // reuse
  for (int i = 0; i < 5; ++i) CodeOf([&] { users.Login(f.name, "Wrong-pass1!", client); });
  CodeOf([&] { users.Login("ghost-" + f.name, f.password, client); });
  users.ChangePassword(f.name, f.password, "NewSecure456!", client);

  auto of = [&](const std::string& type) {
    std::vector<nlohmann::json> out;
    for (const auto& e : events)
      if (e["event_type"] == type) out.push_back(e);
    return out;
  };
  REQUIRE(of("login_success").size() == 1);
  const auto ok = of("login_success")[0];
  CHECK(ok["type"] == "security");
  CHECK(ok["severity"] == "INFO");
  CHECK(ok["username"] == f.name);
  CHECK(ok["client"] == "192.0.2.7");
  CHECK(ok["user_agent"] == "agent/2");
  CHECK(ok["request_id"] == "rid-" + f.name);
  CHECK(ok["user_id"].is_number_integer());
  CHECK(of("refresh_token_reuse").size() == 1);
  CHECK(of("refresh_token_reuse")[0]["severity"] == "CRITICAL");
  CHECK(of("login_failure").size() == 6);
  CHECK(of("account_locked").size() == 1);
  CHECK(of("password_change").size() == 1);
  // The unknown name's failure does not carry the name typed (it may be a password).
  for (const auto& e : of("login_failure"))
    if (e["details"]["reason"] == "unknown account") CHECK(e["username"].is_null());

  std::string all;
  for (const auto& e : events) all += e.dump();
  for (const std::string& secret : {f.password, std::string("NewSecure456!"), std::string("Wrong-pass1!"), refresh, device,
                                    login["access_token"].get<std::string>(), std::string("$argon2id$")})
    CHECK(all.find(secret) == std::string::npos);
}
