// redis:// and redis+sentinel:// URLs: REDIS_URL and the like, into a client's Options.
#include <charconv>
#include <fstream>

#include "suite/core/url.hpp"
#include "suite/redis/client.hpp"

namespace suite::redis {

namespace {
constexpr std::string_view kSentinelScheme = "redis+sentinel://", kTlsSentinelScheme = "rediss+sentinel://";
constexpr std::uint16_t kSentinelPort = 26379;

bool ParseDb(std::string_view text, int& db) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), db);
  return ec == std::errc{} && p == text.data() + text.size() && db >= 0 && db <= 15;
}

// One host of the list, checked as a whole redis:// URL of its own (the same userinfo).
std::optional<core::Url> ParseHost(std::string_view userinfo, std::string_view host) {
  std::string one = "redis://";
  if (!userinfo.empty()) (one += userinfo) += '@';
  one += host;
  auto url = core::ParseUrl(one);
  if (!url || !url->path.empty() || url->has_query || url->has_fragment) return std::nullopt;
  return url;
}

// redis+sentinel://[userinfo@]host[:port][,host[:port]...]/master_name[/db]
std::optional<Options> ParseSentinelUrl(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;  // the primary's name is required
  std::string_view authority = text.substr(0, slash), path = text.substr(slash + 1);
  std::string_view userinfo;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
  }
  Options o;
  std::optional<core::Url> first;
  while (!authority.empty() || o.sentinels.empty()) {
    const auto comma = authority.find(',');
    auto url = ParseHost(userinfo, authority.substr(0, comma));
    if (!url || o.sentinels.size() == 16) return std::nullopt;
    o.sentinels.push_back({url->host, url->port.value_or(kSentinelPort)});
    if (!first) first = std::move(url);
    if (comma == std::string_view::npos) break;
    authority.remove_prefix(comma + 1);
    if (authority.empty()) return std::nullopt;  // a trailing comma
  }
  o.username = first->user;
  o.password = first->password;
  const auto db = path.find('/');
  o.master_name = std::string(path.substr(0, db));
  if (o.master_name.empty() || o.master_name.size() > 128 ||
      o.master_name.find_first_of("?#% \t\r\n") != std::string::npos)
    return std::nullopt;
  if (db != std::string_view::npos && !ParseDb(path.substr(db + 1), o.db)) return std::nullopt;
  return o;
}

bool Readable(const std::string& path) { return std::ifstream(path).good(); }
}  // namespace

Options OptionsFromEnv(core::Env& env, const char* name) {
  const std::string url = env.Str(name);
  if (url.empty()) return {};  // already recorded as missing
  auto o = ParseUrl(url);
  if (!o) {
    env.Fail(name, "must look like redis[s]://[[user]:password@]host[:port][/db] or "
                   "redis[s]+sentinel://[[user]:password@]host[:port][,host[:port]...]/primary_name[/db]");
    return {};
  }
  o->tls_ca_file = env.Str("REDIS_CA_FILE", "");
  o->tls_cert_file = env.Str("REDIS_CERT_FILE", "");
  o->tls_key_file = env.Str("REDIS_KEY_FILE", "");
  const std::pair<const char*, const std::string*> files[] = {
      {"REDIS_CA_FILE", &o->tls_ca_file}, {"REDIS_CERT_FILE", &o->tls_cert_file}, {"REDIS_KEY_FILE", &o->tls_key_file}};
  for (const auto& [var, path] : files) {
    if (path->empty()) continue;
    if (!o->tls) env.Fail(var, std::string("is for TLS: ") + name + " must then start with rediss://");
    else if (!Readable(*path)) env.Fail(var, "cannot be read");
  }
  if (o->tls_cert_file.empty() != o->tls_key_file.empty())
    env.Fail("REDIS_CERT_FILE", "and REDIS_KEY_FILE go together (a client certificate and its key)");
  return *o;
}

std::optional<Options> ParseUrl(std::string_view text) {
  std::optional<Options> parsed;
  if (text.substr(0, kSentinelScheme.size()) == kSentinelScheme) {
    parsed = ParseSentinelUrl(text.substr(kSentinelScheme.size()));
  } else if (text.substr(0, kTlsSentinelScheme.size()) == kTlsSentinelScheme) {
    parsed = ParseSentinelUrl(text.substr(kTlsSentinelScheme.size()));
    if (parsed) parsed->tls = true;
  } else {
    const auto url = core::ParseUrl(text);
    if (!url || (url->scheme != "redis" && url->scheme != "rediss") || url->has_query || url->has_fragment)
      return std::nullopt;
    Options o;
    o.tls = url->scheme == "rediss";
    o.host = url->host;
    if (url->port) o.port = *url->port;
    o.username = url->user;  // a Redis 6 ACL user ("" : the default user)
    o.password = url->password;
    if (url->path.size() > 1 && !ParseDb(std::string_view(url->path).substr(1), o.db)) return std::nullopt;
    parsed = std::move(o);
  }
  if (parsed && !parsed->username.empty() && parsed->password.empty()) return std::nullopt;  // AUTH needs both
  return parsed;
}

}  // namespace suite::redis
