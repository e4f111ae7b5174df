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
  auto& h2 = o.http2;
  h2.enabled = env.Bool("HTTP2", true);
  h2.cleartext = env.Bool("H2C", true);
  const auto u32 = [&](const char* name, std::uint32_t fallback, std::int64_t lo, std::int64_t hi) {
    return static_cast<std::uint32_t>(env.Int(name, fallback, lo, hi));
  };
  h2.max_concurrent_streams = u32("H2_MAX_CONCURRENT_STREAMS", h2.max_concurrent_streams, 1, 10'000);
  // RFC 9113 6.5.2: up to 2^31-1; at least a frame's worth.
  h2.stream_window = u32("H2_STREAM_WINDOW", h2.stream_window, 16 * 1024, (1LL << 31) - 1);
  h2.connection_window = u32("H2_CONNECTION_WINDOW", h2.connection_window, 64 * 1024, (1LL << 31) - 1);
  h2.reset_burst = u32("H2_RESET_BURST", h2.reset_burst, 1, 1'000'000);
  h2.resets_per_second = u32("H2_RESETS_PER_SECOND", h2.resets_per_second, 0, 1'000'000);
  h2.control_burst = u32("H2_CONTROL_BURST", h2.control_burst, 1, 1'000'000);
  h2.control_per_second = u32("H2_CONTROL_PER_SECOND", h2.control_per_second, 0, 1'000'000);
  return o;
}

}  // namespace suite::http
