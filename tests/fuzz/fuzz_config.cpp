// Configuration from the environment: each line of the input is one variable's value; every
// getter records a problem or returns a value in range, and never throws.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "suite/core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const char* kNames[] = {"FZ_INT", "FZ_BOOL", "FZ_PORT", "FZ_MS", "FZ_STR", "FZ_SECRET"};
  std::vector<std::string> values;
  std::size_t start = 0;
  while (values.size() < 6) {
    const auto nl = text.find('\n', start);
    values.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  for (std::size_t i = 0; i < 6; ++i) {
    if (i < values.size() && values[i].find('\0') == std::string::npos) setenv(kNames[i], values[i].c_str(), 1);
    else unsetenv(kNames[i]);
  }
  suite::core::Env env("fuzz");
  const auto n = env.Int("FZ_INT", 5, -10, 10);
  if (n < -10 || n > 10) __builtin_trap();
  (void)env.Bool("FZ_BOOL", true);
  (void)env.Port("FZ_PORT", 80);
  const auto ms = env.Millis("FZ_MS", 100, 1, 1000);
  if (ms.count() < 1 || ms.count() > 1000) __builtin_trap();
  (void)env.Str("FZ_STR");
  (void)env.Secret("FZ_SECRET", 8);
  return 0;
}
