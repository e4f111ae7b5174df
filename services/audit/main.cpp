// audit: consumes the audit stream into PostgreSQL and NDJSON; serves GET /audit/requests.
#include <unistd.h>

#include <csignal>

#include <string_view>

#include "consumer.hpp"
#include "routes.hpp"
#include "suite/db/migrations.hpp"
#include "suite/observability/log.hpp"
#include "suite/service/host.hpp"

namespace audit {
const std::vector<suite::db::Migration>& Migrations();
}

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--migrate")
    return suite::db::MigrateCommand("audit", "audit", audit::Migrations());
  // A file-size limit (RLIMIT_FSIZE) must fail the NDJSON append (EFBIG), which is retried
  // like a full disk, instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  suite::core::Env env("audit");
  auto host_config = suite::service::HostConfig::FromEnv(env, "audit", 8083);
  const auto database_url = env.Secret("DATABASE_URL", 1);
  // The schema owner's (audit_owner): the service's own role may only add and read records, so
  // a new migration needs the owner. Without it the service's role migrates, which succeeds
  // when nothing is pending (the deployment's migrate job ran) or when it owns the schema.
  const auto migrate_url = env.OptionalSecret("MIGRATE_DATABASE_URL");
  // A streaming replica for the read routes, used while it is at most this far behind.
  const auto read_url = env.OptionalSecret("DATABASE_READ_URL");
  const auto read_max_lag = env.Millis("DATABASE_READ_MAX_LAG_MS", 5'000, 0, 3'600'000);
  const auto redis_options = suite::redis::OptionsFromEnv(env, "REDIS_URL");
  char hostname[256] = "audit";
  ::gethostname(hostname, sizeof hostname - 1);
  audit::ConsumerOptions consumer_options;
  consumer_options.ndjson_path = env.Str("AUDIT_LOG_FILE", "logs/requests.log");
  // Rotated at this size (0: never by size) and at the first line of each UTC day.
  consumer_options.ndjson_rotation.max_bytes = env.Int("AUDIT_LOG_MAX_BYTES", 104'857'600, 0, std::int64_t{1} << 50);
  consumer_options.ndjson_rotation.daily = env.Bool("AUDIT_LOG_ROTATE_DAILY", true);
  // Stable across restarts (a pod keeps its name), so a restarted replica finds its own pending
  // entries; those of replicas that went away are claimed after AUDIT_CLAIM_IDLE_MS.
  consumer_options.name = env.Str("AUDIT_CONSUMER_NAME", std::string(hostname));
  consumer_options.claim_idle = env.Millis("AUDIT_CLAIM_IDLE_MS", 60'000, 0, 86'400'000);
  // The chains' lane: AUDIT_CHAIN_LANE, else the number the consumer's name ends with (a
  // StatefulSet's ordinal: audit-0, audit-1 ...; compose's audit-1), else 0.
  consumer_options.lane = static_cast<int>(env.Int("AUDIT_CHAIN_LANE", audit::LaneOf(consumer_options.name), 0, 1023));
  consumer_options.retention_days = static_cast<int>(env.Int("AUDIT_RETENTION_DAYS", 0, 0, 36'500));
  consumer_options.retention_every = env.Millis("AUDIT_RETENTION_EVERY_MS", 3'600'000, 1'000, 86'400'000);
  env.Finish();

  std::unique_ptr<suite::db::Pool> read_pool;
  suite::service::Host host(std::move(host_config));
  auto& pool = host.Own<suite::db::Pool>(database_url, host.workers().threads(), std::chrono::milliseconds(2000));
  // The replica's pool is not the host's: its db_pool_* series would clash with the primary's;
  // the router's db_read_* series cover it. Made before the host, so it goes after it.
  if (read_url) read_pool = std::make_unique<suite::db::Pool>(*read_url, host.workers().threads(), std::chrono::milliseconds(2000));
  auto& reads = host.Own<suite::db::ReadRouter>(pool, read_pool.get(), read_max_lag);
  auto& redis = host.Own<suite::redis::Client>(host.io(), redis_options, "audit-consumer");
  host.readiness().Required("database", [&pool] { return pool.Ping(); });
  host.readiness().Optional("redis", [&redis] { return redis.connected(); });
  try {
    pool.WaitReachable(std::chrono::seconds(60));  // then a failure below is the reason to exit
    if (migrate_url) {
      pqxx::connection owner(*migrate_url);
      suite::db::Migrate(owner, "audit", audit::Migrations());
    } else {
      pool.With([](pqxx::connection& c) { return suite::db::Migrate(c, "audit", audit::Migrations()); });
    }
    redis.Start();
    // Drained before the loop stops; the Redis client's Stop() then fails its pending read
    // while the consumer still exists (every part stops before any is destroyed).
    host.Own<audit::Consumer>(redis, pool, host.workers(), consumer_options).Start(host.io());
  } catch (const std::exception& e) {
    suite::obs::Error("start-up failed", {{"error", e.what()}});
    return 1;
  }
  audit::Register(host.router(), host.workers(), reads);
  host.ServeApi();
  return host.Run();
}
