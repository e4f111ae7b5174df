// End-user API keys against real PostgreSQL.
#include "pg_fixture.hpp"

#include "api_keys.hpp"
#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "suite/security/api_key.hpp"
#include "users.hpp"


using suite::core::ApiError;
using suite::core::ErrorCode;
using auth_test::CodeOf;

namespace {
struct Fixture {
  std::unique_ptr<suite::db::Pool> pool;
  suite::security::PasswordHasher hasher{{.ops_limit = 1, .mem_limit = 64 * 1024}};
  suite::security::Hs256 jwt{"0123456789abcdef0123456789abcdef"};
  std::string name = "k" + suite::core::RandomHex(5);
  std::vector<nlohmann::json> notices;

  bool Ready() {
    pool = auth_test::OpenPool();
    if (!pool) return false;
    return true;
  }
  long long MakeUser(const std::string& username) {
    auth::Users users(*pool, hasher, jwt, {});
    return users.Register(username, username + "@example.com", "SecurePass123!", {})["id"].get<long long>();
  }
  auth::ApiKeys Keys(int max = 3) {
    auth::ApiKeys keys(*pool, {.max_per_user = max});
    keys.SetRevocationSink([this](const nlohmann::json& n) { notices.push_back(n); });
    return keys;
  }
  void Sql(const std::string& sql) { auth_test::Sql(*pool, sql); }
};

}  // namespace

TEST_CASE("API keys: shown once, stored hashed, verified with the owner's roles and tier") {
  Fixture f;
  if (!f.Ready()) return;
  const auto uid = f.MakeUser(f.name);
  auto keys = f.Keys();
  const auth::Actor me{f.name, false};
  const auto made = keys.Create(me, "ci runner", std::nullopt, std::nullopt);
  const std::string key = made["key"];
  CHECK(suite::security::IsApiKeyShaped(key));
  CHECK(made["tier"] == "free");
  CHECK(made["prefix"] == suite::security::ApiKeyPrefix(key));
  CHECK(made["expires_at"].is_null());
  const auto stored = f.pool->With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    return tx.exec_params1("SELECT key_hash FROM auth.api_keys WHERE id = $1", made["id"].get<long long>())[0]
        .as<std::string>();
  });
  CHECK(stored == suite::security::ApiKeyHash(key));
  CHECK(stored.find(key) == std::string::npos);
  const auto list = keys.List(me);
  REQUIRE(list["count"] == 1);
  CHECK_FALSE(list["items"][0].contains("key"));
  CHECK(list["items"][0]["last_used_at"].is_null());
  const auto v = keys.Verify(key);
  REQUIRE(v);
  CHECK((*v)["user_id"] == uid);
  CHECK((*v)["username"] == f.name);
  CHECK((*v)["roles"] == nlohmann::json{"user"});
  CHECK((*v)["tier"] == "free");
  CHECK_FALSE(keys.List(me)["items"][0]["last_used_at"].is_null());
  // Garbage and near misses are refused without a lookup.
  CHECK_FALSE(keys.Verify(""));
  CHECK_FALSE(keys.Verify(key.substr(0, 54) + (key.back() == 'A' ? "B" : "A")));
  CHECK_FALSE(keys.Verify(std::string(100'000, 'a')));
}

TEST_CASE("API keys: tiers are an admin's to give, names are checked, live keys are capped") {
  Fixture f;
  if (!f.Ready()) return;
  f.MakeUser(f.name);
  auto keys = f.Keys(2);
  const auth::Actor me{f.name, false};
  CHECK(CodeOf([&] { keys.Create(me, "k", std::string("enterprise"), std::nullopt); }) == ErrorCode::kForbidden);
  CHECK(CodeOf([&] { keys.Create(me, "k", std::string("platinum"), std::nullopt); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { keys.Create(me, "", std::nullopt, std::nullopt); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { keys.Create(me, std::string(65, 'n'), std::nullopt, std::nullopt); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { keys.Create(me, "k", std::nullopt, 0); }) == ErrorCode::kValidation);
  CHECK(CodeOf([&] { keys.Create(me, "k", std::nullopt, 366); }) == ErrorCode::kValidation);
  const auto admin_made = keys.Create({f.name, true}, "partner", std::string("enterprise"), 30);
  CHECK(admin_made["tier"] == "enterprise");
  CHECK_FALSE(admin_made["expires_at"].is_null());
  const auto second = keys.Create(me, "second", std::nullopt, std::nullopt);
  CHECK(CodeOf([&] { keys.Create(me, "third", std::nullopt, std::nullopt); }) == ErrorCode::kConflict);
  keys.Revoke(me, second["id"]);
  CHECK(keys.Create(me, "third", std::nullopt, std::nullopt).contains("key"));  // a revoked key frees a place
}

TEST_CASE("API keys: revocation, expiry and an inactive owner end a key, and revocations are announced") {
  Fixture f;
  if (!f.Ready()) return;
  const auto uid = f.MakeUser(f.name);
  const auto other = "o" + f.name;
  f.MakeUser(other);
  auto keys = f.Keys();
  const auth::Actor me{f.name, false};
  const auto a = keys.Create(me, "a", std::nullopt, std::nullopt);
  const auto b = keys.Create(me, "b", std::nullopt, std::nullopt);
  // Someone else's key is "not found", to them; an admin may revoke it.
  CHECK(CodeOf([&] { keys.Revoke({other, false}, a["id"]); }) == ErrorCode::kNotFound);
  CHECK(keys.Verify(a["key"]));
  keys.Revoke({other, true}, a["id"]);
  CHECK_FALSE(keys.Verify(a["key"]));
  CHECK(CodeOf([&] { keys.Revoke(me, a["id"]); }) == ErrorCode::kNotFound);  // once
  REQUIRE(f.notices.size() == 1);
  CHECK(f.notices[0]["key_hash"] == suite::security::ApiKeyHash(a["key"].get<std::string>()));
  CHECK(f.notices[0].dump().find(a["key"].get<std::string>()) == std::string::npos);
  // Expired.
  f.Sql("UPDATE auth.api_keys SET expires_at = now() - interval '1 second' WHERE id = " + b["id"].dump());
  CHECK_FALSE(keys.Verify(b["key"]));
  // An inactive owner.
  const auto c = keys.Create(me, "c", std::nullopt, std::nullopt);
  CHECK(keys.Verify(c["key"]));
  f.Sql("UPDATE auth.users SET is_active = false WHERE id = " + std::to_string(uid));
  CHECK_FALSE(keys.Verify(c["key"]));
  keys.AnnounceUserRevoked(uid);
  CHECK(f.notices.back() == nlohmann::json{{"user_id", uid}});
}
