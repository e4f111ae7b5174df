#include <catch2/catch.hpp>

#include <thread>

#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "suite/db/migrations.hpp"
#include "suite/db/pool.hpp"
#include "suite/testing/env.hpp"

using namespace suite::db;

TEST_CASE("migrations apply once, in order, even from racing replicas") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return;
  const std::string schema = "t_" + suite::core::RandomHex(6);
  const std::vector<Migration> ms = {
      {2, "002_add.sql", "ALTER TABLE items ADD COLUMN qty integer NOT NULL DEFAULT 0;"},
      {1, "001_init.sql", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);"},
  };
  std::atomic<int> total{0};
  std::vector<std::thread> replicas;
  for (int i = 0; i < 3; ++i)
    replicas.emplace_back([&] {
      pqxx::connection c(*dsn);
      total += Migrate(c, schema, ms);
    });
  for (auto& t : replicas) t.join();
  CHECK(total == 2);
  pqxx::connection c(*dsn);
  CHECK(Migrate(c, schema, ms) == 0);
  pqxx::work tx(c);
  tx.exec("INSERT INTO " + schema + ".items (name, qty) VALUES ('a', 3)");
  CHECK(tx.exec1("SELECT qty FROM " + schema + ".items")[0].as<int>() == 3);
  CHECK(tx.exec1("SELECT count(*) FROM " + schema + ".schema_migrations")[0].as<int>() == 2);
  tx.exec("DROP SCHEMA " + schema + " CASCADE");
  tx.commit();
}

TEST_CASE("a failed migration rolls back and leaves the lock free") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return;
  const std::string schema = "t_" + suite::core::RandomHex(6);
  pqxx::connection c(*dsn);
  CHECK_THROWS(Migrate(c, schema, {{1, "001_bad.sql", "CREATE TABLE x (id int); SELEC 1;"}}));
  CHECK(Migrate(c, schema, {{1, "001_ok.sql", "CREATE TABLE x (id int);"}}) == 1);
  pqxx::work tx(c);
  tx.exec("DROP SCHEMA " + schema + " CASCADE");
  tx.commit();
}

TEST_CASE("pool bounds connections and answers 503 past its deadline") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return;
  Pool pool(*dsn, 1, std::chrono::milliseconds(100));
  CHECK(pool.Ping());
  std::atomic<bool> held{false};
  std::thread holder([&] {
    pool.With([&](pqxx::connection&) {
      held = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      return 0;
    });
  });
  while (!held) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  try {
    pool.With([](pqxx::connection&) { return 0; });
    FAIL("expected the pool to refuse");
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kServiceUnavailable);
  }
  holder.join();
  CHECK(pool.Ping());
  Pool bad("host=127.0.0.1 port=1 connect_timeout=1", 1, std::chrono::milliseconds(100));
  CHECK_FALSE(bad.Ping());
}
