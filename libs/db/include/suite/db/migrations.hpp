#pragma once
#include <string>
#include <vector>

#include <pqxx/connection>

namespace suite::db {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

/// Applies, in version order, each migration not yet recorded in `<schema>.schema_migrations`,
/// each in its own transaction, under a PostgreSQL advisory lock keyed by the schema so that
/// replicas starting together apply each migration once. Returns how many were applied.
int Migrate(pqxx::connection& conn, const std::string& schema,
            const std::vector<Migration>& migrations);

/// Nothing is created or locked when every migration is already recorded, so a role that may only
/// use its schema starts without DDL rights.
///
/// `<service> --migrate`: reads MIGRATE_DATABASE_URL (the schema owner's, when the service's
/// role may not change its schema) or else DATABASE_URL, applies the migrations, logs what it did,
/// and returns the exit code (0, or 1 on any failure). A deployment runs it as a Job before the
/// new version's pods start; the services still migrate at start, so it is never required.
int MigrateCommand(const char* service, const std::string& schema, const std::vector<Migration>& migrations);

}  // namespace suite::db
