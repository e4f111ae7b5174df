// Query and form decoding, and the gateway's credential stripping: whatever the encoding, a
// query from which UpstreamTarget removed the API key never yields an `api_key` parameter; and
// whatever a client's header values hold, the upstream's header lines stay one field a line,
// with no credential among them.
#include <cstddef>
#include <cstdint>
#include <algorithm>
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
  {
    // The input as header fields (name and value halves of each line): what the upstream gets.
    suite::http::Request h;
    std::size_t at = 0;
    while (at < text.size() && h.headers.size() < 64) {
      const auto end = std::min(text.find('\x01', at), text.size());
      const auto line = text.substr(at, end - at);
      const auto mid = line.find(':');
      // Names arrive lowercased from the server, as here.
      h.headers.emplace_back(h.Keep(line.substr(0, mid), true), h.Keep(mid == std::string::npos ? "" : line.substr(mid + 1)));
      at = end + 1;
    }
    const std::string lines = gateway::UpstreamHeaderLines(h, "token", "00-trace");
    std::size_t pos = 0;
    while (pos < lines.size()) {
      const auto eol = lines.find("\r\n", pos);
      if (eol == std::string::npos) __builtin_trap();  // a line not ended
      const auto field = lines.substr(pos, eol - pos);
      const auto colon = field.find(": ");
      if (colon == std::string::npos || colon == 0) __builtin_trap();  // not "name: value"
      if (field.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) __builtin_trap();  // split or cut
      const auto name = field.substr(0, colon);
      if (name == "authorization" || name == "x-api-key" || name == "cookie") __builtin_trap();  // a credential went on
      pos = eol + 2;
    }
  }
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
