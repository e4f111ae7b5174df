#include "suite/core/url.hpp"

// Boost.URL is compiled here, once (Debian ships its headers, not a library).
#include <boost/url/src.hpp>

#include <cctype>
#include <charconv>

namespace suite::core {

namespace {
// "scheme://": our URLs all have an authority. Checked before Boost.URL 1.81 sees the text: its
// parser asserts (in builds with assertions on) on some URIs without one ("s:?", "s:[") instead
// of answering, and those are refused below anyway.
bool HasAuthority(std::string_view text) {
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0 || !std::isalpha(static_cast<unsigned char>(text[0]))) return false;
  for (const char c : text.substr(0, sep))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  return true;
}
}  // namespace

std::optional<Url> ParseUrl(std::string_view text) {
  if (!HasAuthority(text)) return std::nullopt;
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed || !parsed->has_authority()) return std::nullopt;
  const auto& u = *parsed;
  Url out;
  out.scheme = std::string(u.scheme());
  for (auto& c : out.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.has_userinfo()) {
    out.user = u.user();
    out.has_password = u.has_password();
    if (out.has_password) out.password = u.password();
  }
  switch (u.host_type()) {
    case boost::urls::host_type::name: out.host = u.host_name(); break;
    case boost::urls::host_type::ipv4: out.host = u.host_ipv4_address().to_string(); break;
    case boost::urls::host_type::ipv6: out.host = u.host_ipv6_address().to_string(); break;
    default: return std::nullopt;  // none, or an IPvFuture
  }
  if (out.host.empty()) return std::nullopt;
  if (u.has_port()) {
    const auto text = u.port();
    unsigned long port = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (text.empty() || text.size() > 5 || ec != std::errc{} || p != text.data() + text.size() || port == 0 || port > 65535)
      return std::nullopt;
    out.port = static_cast<std::uint16_t>(port);
  }
  out.path = u.path();
  out.has_query = u.has_query();
  out.has_fragment = u.has_fragment();
  return out;
}

}  // namespace suite::core
