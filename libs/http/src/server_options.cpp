#include "suite/http/server.hpp"

namespace suite::http {

ServerOptions ServerOptionsFromEnv(core::Env& env, std::size_t default_per_client) {
  ServerOptions o;
  o.body_limit = static_cast<std::size_t>(env.Int("BODY_LIMIT_BYTES", 1024 * 1024, 1024, 1LL << 30));
  o.header_timeout = env.Millis("HEADER_TIMEOUT_MS", 10'000, 100, 600'000);
  o.body_timeout = env.Millis("BODY_TIMEOUT_MS", 30'000, 100, 3'600'000);
  o.idle_timeout = env.Millis("IDLE_TIMEOUT_MS", 75'000, 100, 3'600'000);
  o.write_timeout = env.Millis("WRITE_TIMEOUT_MS", 30'000, 100, 3'600'000);
  o.drain_idle_grace = env.Millis("DRAIN_IDLE_GRACE_MS", 1000, 0, 60'000);
  o.max_connections = static_cast<std::size_t>(env.Int("MAX_CONNECTIONS", 10'000, 1, 1'000'000));
  o.max_connections_per_client =
      static_cast<std::size_t>(env.Int("MAX_CONNECTIONS_PER_CLIENT", static_cast<std::int64_t>(default_per_client),
                                       1, 1'000'000));
  return o;
}

}  // namespace suite::http
