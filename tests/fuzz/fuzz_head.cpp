// Our parser (libs/http/src/message_parser.hpp), for requests and for answers, against Beast's
// own parser, byte for byte: both accept or both refuse (with the same error), and when
// they accept they agree on the method and target (or the status), version, every field (name
// lowercased, value, each name's values in order; ours keep the wire's order across names too),
// keep-alive, the body's framing (chunked, Content-Length) and the body itself. The input is fed whole, then again split at a point the input chooses, as a socket delivers it.
// The framing checks the parser adds (Host, Transfer-Encoding) are checked against a reading
// of Beast's fields. Trailer fields never join the head.
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "message_parser.hpp"
#include "suite/core/json.hpp"

namespace bhttp = boost::beast::http;
using suite::http::detail::MessageParser;

namespace {

constexpr std::uint32_t kHeaderLimit = 4096;
constexpr std::uint64_t kBodyLimit = 16384;

// Feeds `in` to `p` as a socket would, in two deliveries split at `split`; returns the error
// that stopped it (need_more when the input ended first).
template <class Parser>
boost::beast::error_code Feed(Parser& p, std::string_view in, std::size_t split, bool head_only = false) {
  p.header_limit(kHeaderLimit);
  p.body_limit(kBodyLimit);
  p.eager(!head_only);
  std::string buffer;  // what arrived and was not consumed yet
  boost::beast::error_code ec;
  const std::string_view parts[2] = {in.substr(0, split), in.substr(split)};
  for (const auto part : parts) {
    if (part.empty()) continue;  // a parser that asked for more is called again only with more (its contract)
    buffer.append(part);
    while (!p.is_done() && !(head_only && p.is_header_done()) && !buffer.empty()) {
      ec = {};
      const auto used = p.put(boost::asio::buffer(buffer.data(), buffer.size()), ec);
      buffer.erase(0, used);
      if (ec == bhttp::error::need_more) break;
      if (ec) return ec;
      if (used == 0) break;
    }
  }
  if (p.is_done()) return {};
  return ec ? ec : bhttp::error::need_more;
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// The framing rules, read from Beast's fields (what the session checked before the parser of its own).
const char* FramingOf(const bhttp::request<bhttp::string_body>& m) {
  const auto hosts = m.count(bhttp::field::host);
  if (m.version() >= 11 ? hosts != 1 : hosts > 1) return "host";
  const auto te = m.count(bhttp::field::transfer_encoding);
  if (te == 0) return nullptr;
  if (m.version() < 11) return "te10";
  if (m.count(bhttp::field::content_length) > 0) return "te+cl";
  const auto v = m[bhttp::field::transfer_encoding];
  if (te != 1 || !boost::beast::iequals(suite::core::TrimSpace(std::string_view(v.data(), v.size())), "chunked"))
    return "te";
  return nullptr;
}

template <bool isRequest>
void Compare(std::string_view in, std::size_t split) {
  typename MessageParser<isRequest>::Message msg;
  MessageParser<isRequest> ours(msg);
  bhttp::parser<isRequest, bhttp::string_body> beast;
  const auto ec_ours = Feed(ours, in, split);
  const auto ec_beast = Feed(beast, in, split);
  Check(ec_ours == ec_beast);
  Check(ours.is_header_done() == beast.is_header_done());
  if (!beast.is_header_done()) return;
  // The head's fields as Beast had them when the head ended (a chunked body's trailers, which it
  // adds later, are dropped by ours).
  bhttp::parser<isRequest, bhttp::string_body> beast_head;
  Feed(beast_head, in, split, true);
  Check(beast_head.is_header_done());
  const auto& m = beast.get();
  if constexpr (isRequest) {
    Check(msg.method == std::string_view(m.method_string()));
    Check(msg.target == std::string_view(m.target()));
    const char* ours_framing = ours.FramingError();
    const char* beast_framing = FramingOf(beast_head.get());  // the head's fields, not the trailers
    Check((ours_framing == nullptr) == (beast_framing == nullptr));
    Check(ours.expects_continue() == boost::beast::iequals(beast_head.get()[bhttp::field::expect], "100-continue"));
  } else {
    Check(msg.status == static_cast<int>(m.result_int()));
  }
  Check(ours.version() == m.version());
  Check(ours.keep_alive() == beast.keep_alive());
  Check(ours.chunked() == beast.chunked());
  Check(ours.content_length() == beast.content_length());
  // Beast files a repeated name after its first occurrence; ours keep the wire's order. The
  // same fields, and each name's values in the same order: equal once stably sorted by name.
  auto theirs = suite::http::Headers();
  for (const auto& f : beast_head.get()) theirs.emplace_back(suite::core::AsciiLower(f.name_string()), std::string(f.value()));
  auto mine = suite::http::Headers();  // a request's fields are views, an answer's strings
  for (const auto& [k, v] : msg.headers) mine.emplace_back(std::string(k), std::string(v));
  const auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(mine.begin(), mine.end(), by_name);
  std::stable_sort(theirs.begin(), theirs.end(), by_name);
  Check(mine == theirs);
  Check(ours.is_done() == beast.is_done());
  if (beast.is_done()) Check(msg.body == m.body());
}

}  // namespace

// The first byte: its top bit picks an answer (the upstream pool's parser) over a request (the
// server's); the rest of it, where the second delivery begins.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = in.empty() ? 0 : (data[0] & 0x7f) % in.size();
  if ((data[0] & 0x80) == 0) {
    Compare<true>(in, in.size());  // all at once
    Compare<true>(in, split);      // in two deliveries
  } else {
    Compare<false>(in, in.size());
    Compare<false>(in, split);
  }
  return 0;
}
