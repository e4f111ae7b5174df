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

}  // namespace suite::db
