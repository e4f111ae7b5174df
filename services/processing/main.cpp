// processing: seed 000's POST /process (and seed 001's POST /api/test), every outcome published
// to the audit stream; seed 003's jobs, queued in PostgreSQL and run by this replica's workers.
#include <unistd.h>

#include <string_view>

#include "idempotency.hpp"
#include "jobs.hpp"
#include "routes.hpp"
#include "suite/core/ids.hpp"
#include "suite/db/migrations.hpp"
#include "suite/observability/log.hpp"
#include "suite/redis/client.hpp"
#include "suite/service/host.hpp"

namespace processing {
const std::vector<suite::db::Migration>& Migrations();
}

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--migrate")
    return suite::db::MigrateCommand("processing", "processing", processing::Migrations());
  suite::core::Env env("processing");
  auto host_config = suite::service::HostConfig::FromEnv(env, "processing", 8082);
  const auto redis_options = suite::redis::OptionsFromEnv(env, "REDIS_URL");
  const auto database_url = env.Secret("DATABASE_URL", 1);
  auto audit_options = suite::audit::PublisherOptionsFromEnv(env, "processing");
  processing::JobsOptions jobs;
  jobs.workers = static_cast<std::size_t>(env.Int("JOBS_WORKERS", 2, 0, 64));
  jobs.max_attempts = static_cast<int>(env.Int("JOBS_MAX_ATTEMPTS", 3, 1, 100));
  jobs.retry_base = env.Millis("JOBS_RETRY_BASE_MS", 1000, 1, 3'600'000);
  jobs.heartbeat = env.Millis("JOBS_HEARTBEAT_MS", 5000, 10, 600'000);
  jobs.stale_after = env.Millis("JOBS_STALE_MS", 30'000, 50, 86'400'000);
  jobs.poll = env.Millis("JOBS_POLL_MS", 500, 5, 60'000);
  jobs.max_open_per_owner = static_cast<std::size_t>(env.Int("JOBS_MAX_OPEN_PER_OWNER", 100, 1, 1'000'000));
  jobs.retention = std::chrono::hours(env.Int("JOBS_RETENTION_HOURS", 168, 1, 24 * 3650));
  env.Finish();
  char hostname[256] = "processing";
  ::gethostname(hostname, sizeof hostname - 1);
  jobs.worker_name = std::string(hostname) + ":" + std::to_string(::getpid()) + ":" + suite::core::RandomHex(4);

  suite::service::Host host(std::move(host_config));
  auto& redis = host.Own<suite::redis::Client>(host.io(), redis_options, "audit-publisher");
  audit_options.sync_on = &host.workers();  // the spool's msync waits for the disk: never on the loop
  auto& publisher = host.Own<suite::audit::Publisher>(redis, audit_options);
  auto& pool = host.Own<suite::db::Pool>(database_url, host.workers().threads() + jobs.workers + 1,
                                         std::chrono::milliseconds(2000));
  redis.Start();
  host.readiness().Optional("redis", [&redis] { return redis.connected(); });
  // /process needs no database: without one the replica still serves it (degraded), and /jobs
  // answers 503 until the database is back.
  host.readiness().Optional("database", [&pool] { return pool.Ping(); });
  try {
    pool.WaitReachable(std::chrono::seconds(60));  // then a failure below is the reason to exit
    pool.With([](pqxx::connection& c) { return suite::db::Migrate(c, "processing", processing::Migrations()); });
  } catch (const std::exception& e) {
    suite::obs::Error("start-up failed", {{"error", e.what()}});
    return 1;
  }
  auto& store = host.Own<processing::JobStore>(pool, jobs);
  auto& runner = host.Own<processing::JobRunner>(store, publisher, jobs);
  auto& idempotency = host.Own<processing::Idempotency>(pool);
  runner.OnHousekeeping([&idempotency] { idempotency.Purge(); });
  runner.Start();
  processing::Register(host.router(), host.workers(), publisher, idempotency, host.config().json);
  processing::RegisterJobs(host.router(), host.workers(), store, runner, idempotency, host.config().json);
  host.ServeApi();
  return host.Run();
}
