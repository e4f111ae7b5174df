// API_KEYS in both formats (JSON list with tiers, comma list): parsed or refused with a reason.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto store = gateway::ApiKeyStore::Parse(text, error);
  if (!store && error.empty()) __builtin_trap();
  if (store) (void)store->Find(text);
  return 0;
}
