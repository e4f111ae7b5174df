// REDIS_URL: redis[s]:// and redis[s]+sentinel:// (a list of sentinels split by hand before each
// host is parsed). Never crashes; what it accepts is in range.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "suite/redis/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto o = suite::redis::ParseUrl(text);
  if (!o) return 0;
  if (o->db < 0 || o->db > 15) __builtin_trap();
  if (!o->username.empty() && o->password.empty()) __builtin_trap();
  if (o->sentinels.size() > 16) __builtin_trap();
  if (!o->sentinels.empty() && (o->master_name.empty() || o->master_name.size() > 128)) __builtin_trap();
  for (const auto& s : o->sentinels)
    if (s.host.empty() || s.port == 0) __builtin_trap();
  return 0;
}
