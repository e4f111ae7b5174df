// processing: seed 000's POST /process (and seed 001's POST /api/test); every outcome is
// published to the audit stream.
#include "routes.hpp"
#include "suite/redis/client.hpp"
#include "suite/service/host.hpp"

int main() {
  suite::core::Env env("processing");
  auto host_config = suite::service::HostConfig::FromEnv(env, "processing", 8082);
  const auto redis_options = suite::redis::OptionsFromEnv(env, "REDIS_URL");
  env.Finish();

  suite::service::Host host(std::move(host_config));
  auto& redis = host.Own<suite::redis::Client>(host.io(), redis_options, "audit-publisher");
  auto& publisher = host.Own<suite::audit::Publisher>(redis);
  redis.Start();
  host.readiness().Optional("redis", [&redis] { return redis.connected(); });
  processing::Register(host.router(), publisher, host.config().json);
  host.ServeApi();
  return host.Run();
}
