// Audit stream records: read into the typed event, or refused with a reason. What is accepted is
// written back to a line that reads back to the same event (the writer's clipping and escaping
// never make a line its own reader refuses).
#include <cstddef>
#include <cstdint>
#include <string>

#include "suite/audit/event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  const auto event = suite::audit::Event::Parse(text, why);
  if (!event) {
    if (why.empty()) __builtin_trap();
    return 0;
  }
  const auto line = event->ToLine();
  const auto again = suite::audit::Event::Parse(line, why);
  if (!again || again->ToLine() != line) __builtin_trap();
  return 0;
}
