// redis:// URLs: REDIS_URL and the like, into a client's Options.
#include <charconv>

#include "suite/core/url.hpp"
#include "suite/redis/client.hpp"

namespace suite::redis {

Options OptionsFromEnv(core::Env& env, const char* name) {
  const std::string url = env.Str(name);
  if (url.empty()) return {};  // already recorded as missing
  auto o = ParseUrl(url);
  if (!o) env.Fail(name, "must look like redis://[[user]:password@]host[:port][/db]");
  return o.value_or(Options{});
}

std::optional<Options> ParseUrl(std::string_view text) {
  const auto url = core::ParseUrl(text);
  if (!url || url->scheme != "redis" || url->has_query || url->has_fragment) return std::nullopt;
  Options o;
  o.host = url->host;
  if (url->port) o.port = *url->port;
  o.username = url->user;  // a Redis 6 ACL user ("" : the default user)
  o.password = url->password;
  if (!o.username.empty() && o.password.empty()) return std::nullopt;  // AUTH needs both
  if (url->path.size() > 1) {
    const std::string_view db = std::string_view(url->path).substr(1);
    auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), o.db);
    if (ec != std::errc{} || p != db.data() + db.size() || o.db < 0 || o.db > 15) return std::nullopt;
  }
  return o;
}

}  // namespace suite::redis
