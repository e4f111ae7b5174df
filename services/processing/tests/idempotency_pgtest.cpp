#include <catch2/catch.hpp>

#include <thread>

#include "idempotency.hpp"
#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "suite/db/migrations.hpp"
#include "suite/testing/env.hpp"

namespace processing {
const std::vector<suite::db::Migration>& Migrations();
}

using namespace processing;

TEST_CASE("idempotency: a retry gets the kept answer, another body a 409, a key in flight a 409 with Retry-After") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return;
  suite::db::Pool pool(*dsn, 2, std::chrono::milliseconds(2000));
  pool.With([](pqxx::connection& c) { return suite::db::Migrate(c, "processing", Migrations()); });
  Idempotency idem(pool);
  const std::string owner = "user:" + suite::core::RandomHex(4), key = "key-" + suite::core::RandomHex(4);
  CHECK_FALSE(idem.Begin(owner, "POST /process", key, "{\"a\":1}"));  // ours to answer
  try {
    idem.Begin(owner, "POST /process", key, "{\"a\":1}");
    FAIL("a second request while the first is answered");
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kConflict);
    CHECK(e.retry_after() >= 1);
  }
  idem.Finish(owner, "POST /process", key, {200, "{\"status\":\"success\"}"});
  const auto kept = idem.Begin(owner, "POST /process", key, "{\"a\":1}");
  REQUIRE(kept);
  CHECK(kept->status == 200);
  CHECK(kept->body == "{\"status\":\"success\"}");
  try {
    idem.Begin(owner, "POST /process", key, "{\"a\":2}");
    FAIL("another body under the same key");
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kConflict);
    CHECK(std::string(e.what()) == "Idempotency-Key already used with a different request body");
  }
  // Scoped: another caller, or another route, with the same key is a new request.
  CHECK_FALSE(idem.Begin("user:other-" + owner, "POST /process", key, "{\"a\":2}"));
  CHECK_FALSE(idem.Begin(owner, "POST /jobs", key, "{\"a\":2}"));
  // Released (a 422): the key can be used again, with a corrected body.
  const std::string fixable = key + "-2";
  CHECK_FALSE(idem.Begin(owner, "POST /process", fixable, "{bad"));
  idem.Release(owner, "POST /process", fixable);
  CHECK_FALSE(idem.Begin(owner, "POST /process", fixable, "{\"good\":1}"));
}

TEST_CASE("idempotency: an expired key, or one its process left unanswered, is taken again") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return;
  suite::db::Pool pool(*dsn, 2, std::chrono::milliseconds(2000));
  pool.With([](pqxx::connection& c) { return suite::db::Migrate(c, "processing", Migrations()); });
  Idempotency idem(pool, std::chrono::hours(24), std::chrono::seconds(0));
  const std::string owner = "user:" + suite::core::RandomHex(4);
  CHECK_FALSE(idem.Begin(owner, "POST /process", "k", "{}"));  // then its process dies
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(idem.Begin(owner, "POST /process", "k", "{}"));  // abandoned: taken over
  idem.Finish(owner, "POST /process", "k", {200, "{}"});
  pool.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("UPDATE processing.idempotency_keys SET created_at = now() - interval '25 hours' WHERE owner = $1", owner);
    tx.commit();
    return 0;
  });
  CHECK_FALSE(idem.Begin(owner, "POST /process", "k", "{\"other\":1}"));  // expired: a new request
  CHECK_THROWS_AS(Idempotency::CheckKey(""), suite::core::ApiError);
  CHECK_THROWS_AS(Idempotency::CheckKey(std::string(256, 'k')), suite::core::ApiError);
  CHECK_THROWS_AS(Idempotency::CheckKey("with space"), suite::core::ApiError);
  CHECK_NOTHROW(Idempotency::CheckKey("9f1c-ABC_~"));
}
