// audit: consumes the audit stream into PostgreSQL and NDJSON; serves GET /audit/requests.
#include <unistd.h>

#include "consumer.hpp"
#include "routes.hpp"
#include "suite/db/migrations.hpp"
#include "suite/http/host.hpp"
#include "suite/observability/log.hpp"

namespace audit {
const std::vector<suite::db::Migration>& Migrations();
}

int main() {
  suite::core::Env env("audit");
  auto host_config = suite::http::HostConfig::FromEnv(env, "audit", 8083);
  const auto database_url = env.Secret("DATABASE_URL", 1);
  const auto redis_options = suite::redis::OptionsFromEnv(env, "REDIS_URL");
  const auto ndjson = env.Str("AUDIT_LOG_FILE", "logs/requests.log");
  char host[256] = "audit";
  ::gethostname(host, sizeof host - 1);
  audit::ConsumerOptions consumer_options;
  consumer_options.ndjson_path = ndjson;
  // Stable across restarts (a pod keeps its name), so a restarted replica finds its own pending
  // entries; those of replicas that went away are claimed after AUDIT_CLAIM_IDLE_MS.
  consumer_options.name = env.Str("AUDIT_CONSUMER_NAME", std::string(host));
  consumer_options.claim_idle = env.Millis("AUDIT_CLAIM_IDLE_MS", 60'000, 0, 86'400'000);
  env.Finish();

  suite::http::ServiceHost svc(std::move(host_config));
  suite::db::Pool pool(database_url, svc.workers().threads(), std::chrono::milliseconds(2000));
  try {
    pool.With([](pqxx::connection& c) { return suite::db::Migrate(c, "audit", audit::Migrations()); });
  } catch (const std::exception& e) {
    suite::obs::Error("migrations failed", {{"error", e.what()}});
    return 1;
  }
  suite::redis::Client redis(svc.runtime().io(), redis_options, "audit-consumer");
  redis.Start();
  std::unique_ptr<audit::Consumer> consumer;
  try {
    consumer = std::make_unique<audit::Consumer>(redis, pool, svc.workers(), consumer_options);
  } catch (const std::exception& e) {
    suite::obs::Error("cannot start consumer", {{"error", e.what()}});
    return 1;
  }
  consumer->Start();
  svc.runtime().OnStop([&] { consumer->Stop(); }, [&] { return consumer->Idle(); });
  audit::Register(svc.router(), svc.workers(), pool);
  const int rc = svc.Run([&] {
    return nlohmann::json{{"database", pool.Ping() ? "ok" : "unavailable"},
                          {"redis", redis.connected() ? "ok" : "unavailable"}};
  });
  redis.Stop();  // fails the pending read while the consumer still exists
  return rc;
}
