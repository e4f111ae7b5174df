#pragma once
// What the auth-user database tests share: a pool on the test database with the migrations
// applied, one-statement SQL, and the error code a call throws.
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <string>

#include "suite/core/error.hpp"
#include "suite/db/migrations.hpp"
#include "suite/db/pool.hpp"
#include "suite/testing/env.hpp"

namespace auth {
const std::vector<suite::db::Migration>& Migrations();
}

namespace auth_test {

/// The test database, migrated; nullptr when TEST_DATABASE_URL is unset (tests/run sets it).
inline std::unique_ptr<suite::db::Pool> OpenPool() {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return nullptr;
  auto pool = std::make_unique<suite::db::Pool>(*dsn, 2, std::chrono::milliseconds(2000));
  pool->With([](pqxx::connection& c) { return suite::db::Migrate(c, "auth", auth::Migrations()); });
  return pool;
}

inline void Sql(suite::db::Pool& pool, const std::string& sql) {
  pool.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec(sql);
    tx.commit();
    return 0;
  });
}

inline long long Scalar(suite::db::Pool& pool, const std::string& sql) {
  return pool.With([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec1(sql)[0].as<long long>();
  });
}

/// The ApiError code `f` throws (and a test failure when it throws none).
inline suite::core::ErrorCode CodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const suite::core::ApiError& e) {
    return e.code();
  }
  FAIL("no ApiError");
  return suite::core::ErrorCode::kInternal;
}

}  // namespace auth_test
