#include "suite/security/identity.hpp"

#include "suite/core/json.hpp"

#include <algorithm>

namespace suite::security {

namespace {
constexpr const char* kIssuer = "suite-gateway";
constexpr const char* kAudience = "suite-internal";
// The longest upstream timeout a gateway may be configured with: no token may claim more.
constexpr std::chrono::seconds kMaxTtl{600};
}  // namespace

bool Identity::HasRole(std::string_view r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

nlohmann::json Identity::ToJson() const {
  return {{"subject", subject}, {"roles", roles},           {"tier", tier},
          {"method", method},   {"api_key_id", api_key_id}, {"client_ip", client_ip}};
}

Identity Identity::FromJson(const nlohmann::json& j) {
  Identity id;
  if (!j.is_object()) return id;
  auto text = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  id.subject = text("subject");
  if (j.contains("roles") && j["roles"].is_array())
    for (const auto& r : j["roles"])
      if (r.is_string()) id.roles.push_back(r.get<std::string>());
  id.tier = text("tier");
  id.method = text("method");
  id.api_key_id = text("api_key_id");
  id.client_ip = text("client_ip");
  return id;
}

std::string IdentitySigner::Sign(const Identity& id, const Binding& to) const {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  // Written per request: the claims as text, without a JSON document.
  std::string claims;
  claims.reserve(384);
  const auto text = [&claims](const char* key, std::string_view value) {
    claims += claims.empty() ? "{\"" : ",\"";
    claims += key;
    claims += "\":";
    core::AppendJsonString(claims, value);
  };
  text("iss", kIssuer);
  text("aud", kAudience);
  text("sub", id.subject);
  claims += ",\"roles\":[";
  for (std::size_t i = 0; i < id.roles.size(); ++i) {
    if (i > 0) claims += ',';
    core::AppendJsonString(claims, id.roles[i]);
  }
  claims += ']';
  text("tier", id.tier);
  text("amr", id.method);
  text("kid", id.api_key_id);
  text("cip", id.client_ip);
  text("rid", to.request_id);
  text("mth", to.method);
  text("pth", to.path);
  if (id.body_limit > 0) claims += ",\"blim\":" + std::to_string(id.body_limit);
  claims += ",\"iat\":" + std::to_string(now) + ",\"exp\":" + std::to_string(now + ttl_.count()) + "}";
  return jwt_.SignPayload(claims);
}

Identity IdentitySigner::Verify(std::string_view token, const Binding& to) const {
  if (token.empty()) throw JwtError("missing internal identity");
  auto c = jwt_.Verify(token, {.issuer = kIssuer, .audience = kAudience,
                               .leeway = std::chrono::seconds(5), .max_lifetime = kMaxTtl});
  // Bound to one request: replayed with another id, method or path, it proves nothing.
  auto bound = [&](const char* k, std::string_view want) {
    const auto it = c.find(k);
    return it != c.end() && it->is_string() && it->get_ref<const std::string&>() == want;
  };
  if (!bound("rid", to.request_id) || !bound("mth", to.method) || !bound("pth", to.path))
    throw JwtError("internal identity issued for another request");
  // The token carries short claim names; map them onto the identity's fields.
  auto id = Identity::FromJson({{"subject", c.value("sub", nlohmann::json())},
                                {"roles", c.value("roles", nlohmann::json())},
                                {"tier", c.value("tier", nlohmann::json())},
                                {"method", c.value("amr", nlohmann::json())},
                                {"api_key_id", c.value("kid", nlohmann::json())},
                                {"client_ip", c.value("cip", nlohmann::json())}});
  if (const auto it = c.find("blim"); it != c.end() && it->is_number_unsigned()) id.body_limit = it->get<std::uint64_t>();
  return id;
}

}  // namespace suite::security
