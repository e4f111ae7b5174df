#pragma once
/// URLs of our own configuration (upstreams, REDIS_URL) parsed by Boost.URL (RFC 3986) rather
/// than by hand: a Redis ACL user, a percent-encoded password, an IPv6 host in brackets.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace suite::core {

struct Url {
  std::string scheme;             ///< lowercase
  std::string user, password;     ///< percent-decoded userinfo
  bool has_password = false;
  std::string host;               ///< a name, an IPv4 address, or an IPv6 address without brackets
  std::optional<std::uint16_t> port;
  std::string path;               ///< percent-decoded; "" or "/..." 
  bool has_query = false, has_fragment = false;
};

/// nullopt unless `text` is an absolute URI with an authority and a valid port (1-65535).
std::optional<Url> ParseUrl(std::string_view text);

}  // namespace suite::core
