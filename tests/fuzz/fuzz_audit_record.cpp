// Audit stream records: decoded with their types checked, or refused with a reason; what is
// accepted can be read the way the store reads it without a type error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto event = audit::ParseStreamEvent(text, why);
  if (!event) {
    if (why.empty()) __builtin_trap();
    return 0;
  }
  const auto& e = *event;
  // The store's reads: these throw nlohmann::type_error on a wrong type.
  (void)e.value("event_id", "");
  (void)e.value("type", "");
  (void)e.value("timestamp", "");
  (void)e.value("request_id", "");
  (void)e.value("status", "failure");
  (void)e.value("duration_ms", 0);
  (void)e.value("http_status", 0);
  if (e.contains("output")) (void)e["output"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
