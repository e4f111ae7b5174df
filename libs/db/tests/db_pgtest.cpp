#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <thread>

#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "suite/db/migrations.hpp"
#include "suite/db/pool.hpp"
#include "suite/db/read_router.hpp"
#include "suite/testing/env.hpp"
#include "suite/testing/loop.hpp"

using suite::testing::Eventually;

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

namespace {
// The pool's DSN, tagged so that its backends can be found (and ended) from another session.
std::string Tagged(const std::string& dsn, const std::string& tag) {
  return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "application_name=" + tag;
}
// Ends every backend of `tag` as a server shutdown does (57P01, then the socket closes).
int Terminate(const std::string& dsn, const std::string& tag) {
  pqxx::connection admin(dsn);
  pqxx::nontransaction tx(admin);
  return tx.exec_params1("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                         tag)[0].as<int>();
}
int Backend(pqxx::connection& c) {
  pqxx::work tx(c);
  return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
}
}  // namespace

TEST_CASE("pool: connections the server ended while idle are replaced, no caller sees an error") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return;
  const std::string tag = "pool_idle_" + suite::core::RandomHex(4);
  Pool pool(Tagged(*dsn, tag), 3, std::chrono::milliseconds(500));
  // Three connections open at once, then idle in the pool.
  std::vector<std::thread> users;
  std::atomic<int> inside{0};
  std::set<int> first;
  std::mutex mu;
  for (int i = 0; i < 3; ++i)
    users.emplace_back([&] {
      pool.With([&](pqxx::connection& c) {
        ++inside;
        while (inside < 3) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        std::lock_guard lock(mu);
        first.insert(Backend(c));
        return 0;
      });
    });
  for (auto& t : users) t.join();
  REQUIRE(first.size() == 3);
  REQUIRE(Terminate(*dsn, tag) == 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the FATAL message reaches the sockets
  for (int i = 0; i < 3; ++i) {
    const int pid = pool.With([](pqxx::connection& c) { return Backend(c); });
    CHECK(first.count(pid) == 0);  // a new backend, not one of the ended ones
  }
}

TEST_CASE("pool: a connection that breaks under a statement is retried once on a new one, then 503") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return;
  const std::string tag = "pool_busy_" + suite::core::RandomHex(4);
  Pool pool(Tagged(*dsn, tag), 2, std::chrono::milliseconds(500));
  int attempts = 0;
  const int ok = pool.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (++attempts == 1) {  // the first attempt loses its backend mid-transaction
      Terminate(*dsn, tag);
    }
    const int v = tx.exec1("SELECT 41 + 1")[0].as<int>();
    tx.commit();
    return v;
  });
  CHECK(ok == 42);
  CHECK(attempts == 2);

  attempts = 0;
  try {
    pool.With([&](pqxx::connection& c) {
      ++attempts;
      pqxx::work tx(c);
      Terminate(*dsn, tag);
      return tx.exec1("SELECT 1")[0].as<int>();
    });
    FAIL("expected 503");
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kServiceUnavailable);
    CHECK(e.retry_after() >= 1);
    CHECK(std::string(e.what()).find("retry") != std::string::npos);
  }
  CHECK(attempts == 2);
  CHECK(pool.Ping());  // and the pool recovers
}

TEST_CASE("pool: an SQL error is not a disconnection, and is not retried") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  if (!dsn) return;
  Pool pool(*dsn, 1, std::chrono::milliseconds(500));
  int attempts = 0;
  CHECK_THROWS_AS(pool.With([&](pqxx::connection& c) {
                    ++attempts;
                    pqxx::work tx(c);
                    return tx.exec1("SELECT 1/0")[0].as<int>();
                  }),
                  pqxx::data_exception);
  CHECK(attempts == 1);
  CHECK(pool.Ping());
}

namespace {
// Replay paused on the replica for as long as this lives.
struct ReplayPaused {
  pqxx::connection& replica;
  explicit ReplayPaused(pqxx::connection& c) : replica(c) {
    pqxx::nontransaction(replica).exec("SELECT pg_wal_replay_pause()");
  }
  ~ReplayPaused() {
    try {
      pqxx::nontransaction(replica).exec("SELECT pg_wal_replay_resume()");
    } catch (...) {
    }
  }
};

}  // namespace

TEST_CASE("read router: reads go to a replica that keeps up, to the primary past the lag bound, when it is away or not one") {
  auto dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  auto read_dsn = suite::testing::ServerUrl("TEST_DATABASE_READ_URL");
  if (!dsn || !read_dsn) return;
  const std::string table = "rr_" + suite::core::RandomHex(6);
  pqxx::connection writer(*dsn), replica_admin(*read_dsn);
  pqxx::nontransaction(writer).exec0("CREATE TABLE " + table + " (id int)");
  Pool primary(*dsn, 2, std::chrono::milliseconds(2000)), replica(*read_dsn, 2, std::chrono::milliseconds(2000));
  auto count = [&](Pool& pool) {
    return pool.With([&](pqxx::connection& c) { pqxx::read_transaction tx(c);
      return tx.exec1("SELECT count(*) FROM " + table)[0].as<int>(); });
  };
  auto insert = [&] {
    pqxx::work tx(writer);
    tx.exec0("INSERT INTO " + table + " VALUES (1)");
    tx.commit();
    pqxx::nontransaction q(writer);
    // The insert position: past the commit record even when it is not written out yet
    // (synchronous_commit=off, as tests/run runs PostgreSQL).
    return q.exec1("SELECT pg_current_wal_insert_lsn()::text")[0].as<std::string>();
  };
  // Sampled at every read: each read follows the replica's state as it is then.
  ReadRouter patient(primary, &replica, std::chrono::minutes(1), std::chrono::milliseconds(0));
  ReadRouter strict(primary, &replica, std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  ReadFrom from{};

  insert();
  REQUIRE(Eventually([&] { return count(replica) == 1; }));
  CHECK(patient.Read(count, from) == 1);
  CHECK(from == ReadFrom::kReplica);
  REQUIRE(patient.lag());

  {
    // Replay stops; the primary moves on; the replica receives the change but does not apply it.
    ReplayPaused paused(replica_admin);
    REQUIRE(Eventually([&] {
      pqxx::nontransaction q(replica_admin);
      return q.exec1("SELECT pg_get_wal_replay_pause_state()")[0].as<std::string>() == "paused";
    }));
    const auto lsn = insert();
    REQUIRE(Eventually([&] {
      pqxx::nontransaction q(replica_admin);
      return q.exec1("SELECT pg_last_wal_receive_lsn() >= '" + lsn + "'::pg_lsn")[0].as<bool>();
    }));
    // Within a minute's bound the replica serves, and does not have the row yet: the read ran there.
    CHECK(patient.Read(count, from) == 1);
    CHECK(from == ReadFrom::kReplica);
    // Past a bound of 0 the primary serves, with the row.
    CHECK(strict.Read(count, from) == 2);
    CHECK(from == ReadFrom::kPrimary);
    REQUIRE(strict.lag());
    CHECK(strict.lag()->count() > 0);
  }
  // Replay resumes: the replica catches up and serves again.
  CHECK(Eventually([&] { return patient.Read(count, from) == 2 && from == ReadFrom::kReplica; }));

  // A replica that does not answer: the primary, at once.
  Pool away("postgresql://postgres:postgres@127.0.0.1:1/none", 1, std::chrono::milliseconds(500));
  ReadRouter gone(primary, &away, std::chrono::minutes(1));
  CHECK(gone.Read(count, from) == 2);
  CHECK(from == ReadFrom::kPrimary);
  CHECK_FALSE(gone.lag());
  // A "replica" that is a primary (promoted, or named by mistake) is not read from.
  Pool not_a_replica(*dsn, 1, std::chrono::milliseconds(2000));
  ReadRouter wrong(primary, &not_a_replica, std::chrono::minutes(1));
  CHECK(wrong.Read(count, from) == 2);
  CHECK(from == ReadFrom::kPrimary);
  // Without a replica: the primary.
  ReadRouter none(primary, nullptr, std::chrono::minutes(1));
  CHECK(none.Read(count, from) == 2);
  CHECK(from == ReadFrom::kPrimary);
  pqxx::nontransaction(writer).exec0("DROP TABLE " + table);
}
