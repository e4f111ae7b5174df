// processing: seed 000's POST /process (and seed 001's POST /api/test); every outcome is
// published to the audit stream.
#include "routes.hpp"
#include "suite/http/host.hpp"
#include "suite/redis/client.hpp"

int main() {
  suite::core::Env env("processing");
  auto host_config = suite::http::HostConfig::FromEnv(env, "processing", 8082);
  const auto redis_options = suite::redis::OptionsFromEnv(env, "REDIS_URL");
  env.Finish();

  suite::http::ServiceHost host(std::move(host_config));
  suite::redis::Client redis(host.runtime().io(), redis_options, "audit-publisher");
  redis.Start();
  suite::audit::Publisher publisher(redis);
  host.runtime().OnStop(nullptr, [&] { return publisher.Drained(); });
  processing::Register(host.router(), publisher, host.config().json);
  const int rc = host.Run([&] {
    return nlohmann::json{{"redis", redis.connected() ? "ok" : "unavailable"}};
  });
  publisher.Stop();
  redis.Stop();
  return rc;
}
