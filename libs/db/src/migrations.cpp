#include "suite/db/migrations.hpp"

#include <pqxx/pqxx>

#include <algorithm>

#include "suite/core/config.hpp"
#include "suite/observability/log.hpp"

namespace suite::db {

namespace {
// True when every migration is recorded: then nothing is created or locked, so a role that may
// only use the schema (audit's, which does not own its tables) starts without DDL rights.
bool AllApplied(pqxx::connection& conn, const std::string& schema, const std::vector<Migration>& migrations) {
  pqxx::read_transaction tx(conn);
  const std::string table = tx.quote_name(schema) + ".schema_migrations";
  if (tx.exec_params1("SELECT to_regclass($1) IS NULL", table)[0].as<bool>()) return false;
  for (const auto& m : migrations)
    if (tx.exec_params1("SELECT count(*) FROM " + table + " WHERE version = $1", m.version)[0].as<int>() == 0)
      return false;
  return true;
}
}  // namespace

int Migrate(pqxx::connection& conn, const std::string& schema,
            const std::vector<Migration>& migrations) {
  if (AllApplied(conn, schema, migrations)) return 0;
  pqxx::nontransaction session(conn);
  const std::string lock_key = "suite.migrate." + schema;
  session.exec_params("SELECT pg_advisory_lock(hashtext($1))", lock_key);
  int applied = 0;
  try {
    const std::string s = session.quote_name(schema);
    session.exec("CREATE SCHEMA IF NOT EXISTS " + s);
    session.exec("CREATE TABLE IF NOT EXISTS " + s +
                 ".schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                 "applied_at timestamptz NOT NULL DEFAULT now())");
    session.commit();
    auto sorted = migrations;
    std::sort(sorted.begin(), sorted.end(),
              [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (const auto& m : sorted) {
      pqxx::work tx(conn);
      const bool done = tx.exec_params1("SELECT count(*) FROM " + s +
                                            ".schema_migrations WHERE version = $1",
                                        m.version)[0].as<int>() > 0;
      if (done) continue;
      tx.exec("SET LOCAL search_path TO " + s);
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO " + s + ".schema_migrations (version, name) VALUES ($1, $2)",
                     m.version, std::string(m.name));
      tx.commit();
      ++applied;
      obs::Info("migration applied", {{"schema", schema}, {"version", m.version}, {"name", m.name}});
    }
  } catch (...) {
    pqxx::nontransaction unlock(conn);
    unlock.exec_params("SELECT pg_advisory_unlock(hashtext($1))", lock_key);
    throw;
  }
  pqxx::nontransaction unlock(conn);
  unlock.exec_params("SELECT pg_advisory_unlock(hashtext($1))", lock_key);
  return applied;
}

int MigrateCommand(const char* service, const std::string& schema, const std::vector<Migration>& migrations) {
  obs::SetService(service);
  core::Env env(service);
  // The owner's URL when the service's own role may not change its schema (audit's).
  const auto owner = env.OptionalSecret("MIGRATE_DATABASE_URL");
  const auto url = owner ? *owner : env.Secret("DATABASE_URL", 1);
  env.Finish();
  try {
    pqxx::connection conn(url);
    const int applied = Migrate(conn, schema, migrations);
    obs::Info("migrations done", {{"schema", schema}, {"applied", applied}});
    return 0;
  } catch (const std::exception& e) {
    obs::Error("migrations failed", {{"schema", schema}, {"error", e.what()}});
    return 1;
  }
}

}  // namespace suite::db
