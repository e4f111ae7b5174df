// Request JSON under limits: never crashes, never exceeds its limits, and whatever it accepts
// serialises and re-parses to the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "suite/core/json.hpp"

namespace {
std::size_t Depth(const nlohmann::json& j) {
  std::size_t d = 0;
  if (j.is_structured())
    for (const auto& v : j) d = std::max(d, Depth(v));
  return j.is_structured() ? d + 1 : 0;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const suite::core::JsonLimits limits{.max_bytes = 1 << 16, .max_depth = 16, .max_elements = 2000, .max_string = 512};
  auto r = suite::core::ParseJson(text, limits);
  if (!r.ok()) {
    if (!r.value.is_null()) __builtin_trap();
    return 0;
  }
  if (Depth(r.value) > limits.max_depth) __builtin_trap();
  const std::string out = r.value.dump();
  auto again = suite::core::ParseJson(out, {.max_bytes = 1 << 20, .max_depth = 16, .max_elements = 2000, .max_string = 512});
  if (!again.ok() || again.value != r.value) __builtin_trap();
  (void)suite::core::IsValidUtf8(text);
  return 0;
}
