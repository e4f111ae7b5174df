#include "suite/security/identity.hpp"

#include <algorithm>

namespace suite::security {

namespace {
constexpr const char* kIssuer = "suite-gateway";
constexpr const char* kAudience = "suite-internal";
}  // namespace

bool Identity::HasRole(std::string_view r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

nlohmann::json Identity::ToJson() const {
  return {{"subject", subject}, {"roles", roles},           {"tier", tier},
          {"method", method},   {"api_key_id", api_key_id}, {"client_ip", client_ip}};
}

std::string IdentitySigner::Sign(const Identity& id, const std::string& request_id) const {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  return jwt_.Sign({{"iss", kIssuer},       {"aud", kAudience},      {"sub", id.subject},
                    {"roles", id.roles},     {"tier", id.tier},       {"amr", id.method},
                    {"kid", id.api_key_id},  {"cip", id.client_ip},   {"rid", request_id},
                    {"iat", now},            {"exp", now + ttl_.count()}});
}

Identity IdentitySigner::Verify(std::string_view token) const {
  if (token.empty()) throw JwtError("missing internal identity");
  auto c = jwt_.Verify(token, {.issuer = kIssuer, .audience = kAudience,
                               .leeway = std::chrono::seconds(5)});
  Identity id;
  id.subject = c.value("sub", "");
  if (c.contains("roles") && c["roles"].is_array())
    for (const auto& r : c["roles"])
      if (r.is_string()) id.roles.push_back(r.get<std::string>());
  id.tier = c.value("tier", "");
  id.method = c.value("amr", "");
  id.api_key_id = c.value("kid", "");
  id.client_ip = c.value("cip", "");
  return id;
}

}  // namespace suite::security
