// Query and form decoding, and the gateway's credential stripping: whatever the encoding, a
// query from which UpstreamTarget removed the API key never yields an `api_key` parameter.
#include <cstddef>
#include <cstdint>
#include <string>

#include "forwarding.hpp"
#include "suite/core/json.hpp"
#include "suite/http/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto form = suite::http::ParseForm(text);
  if (form)
    for (const auto& [k, v] : *form)
      if (!suite::core::IsCleanText(k) || !suite::core::IsCleanText(v)) __builtin_trap();
  (void)suite::http::PercentDecode(text);
  suite::http::Request req;
  req.path = "/p";
  req.query = text;
  if (!suite::http::ParseForm(req.query)) return 0;  // the gateway answers 400 first
  const std::string target = gateway::UpstreamTarget(req);
  const auto q = target.find('?');
  if (q != std::string::npos) {
    suite::http::Request forwarded;
    forwarded.query = target.substr(q + 1);
    if (forwarded.Query("api_key")) __builtin_trap();  // a credential would have leaked
  }
  return 0;
}
