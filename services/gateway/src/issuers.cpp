#include "issuers.hpp"

#include <algorithm>

#include "suite/core/json.hpp"
#include "suite/core/url.hpp"
#include "suite/security/es256.hpp"

namespace gateway {

using suite::core::ConfigReader;

std::optional<ClaimPath> ClaimPath::Parse(std::string_view text) {
  ClaimPath p;
  p.text_ = std::string(text);
  std::size_t start = 0;
  for (;;) {
    const auto dot = text.find('.', start);
    const auto segment = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (segment.empty() || segment.size() > 128) return std::nullopt;
    for (unsigned char c : segment)
      if (c <= 0x20 || c >= 0x7f) return std::nullopt;
    p.segments_.emplace_back(segment);
    if (p.segments_.size() > 8) return std::nullopt;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return p;
}

const nlohmann::json* ClaimPath::Find(const nlohmann::json& claims) const {
  // A claim whose own name is the whole text first (Auth0's "https://acme.example/roles").
  if (segments_.size() > 1 && claims.is_object())
    if (const auto it = claims.find(text_); it != claims.end()) return &*it;
  const nlohmann::json* at = &claims;
  for (const auto& s : segments_) {
    if (!at->is_object()) return nullptr;
    const auto it = at->find(s);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

suite::security::JwtOptions IssuerSpec::Options() const {
  suite::security::JwtOptions o;
  o.issuer = issuer;
  o.audiences = audiences;
  o.algorithms = algorithms;
  o.leeway = clock_skew;
  o.max_lifetime = max_lifetime;
  return o;
}

bool IsConfigName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

namespace {

// An http(s) URL with a host, no user information or fragment.
// An http(s) URL of at most 2048 bytes, with a host and no user information.
std::optional<suite::core::Url> HttpUrl(std::string_view s) {
  if (s.size() > 2048) return std::nullopt;
  auto url = suite::core::ParseUrl(s);
  if (!url || (url->scheme != "https" && url->scheme != "http") || url->host.empty() || !url->user.empty() ||
      url->has_password)
    return std::nullopt;
  return url;
}

// One the file may name: no fragment either.
bool IsFetchUrl(const std::string& s) {
  const auto url = HttpUrl(s);
  return url && !url->has_fragment;
}

void ReadPath(ConfigReader& r, std::string_view key, std::optional<ClaimPath>& out) {
  std::optional<std::string> text;
  r.Optional(key, text);
  if (!text) return;
  out = ClaimPath::Parse(*text);
  if (!out) r.Fail(key, "must be claim names joined by dots (at most 8, each 1 to 128 printable bytes)");
}

}  // namespace

std::vector<IssuerSpec> ReadIssuers(ConfigReader& root, const std::set<std::string>& tiers) {
  std::vector<IssuerSpec> out;
  std::set<std::string> names, issuers;
  for (auto r : root.Items("issuers")) {
    if (!r.IsObject()) continue;
    r.OnlyKeys({"name", "issuer", "discovery_url", "jwks_uri", "audiences", "algorithms", "clock_skew_seconds",
                "max_lifetime_seconds", "claims", "default_tier", "ca_file", "refresh_seconds", "min_refetch_seconds",
                "fetch_timeout_ms", "max_document_bytes"});
    IssuerSpec spec;
    r.Required("name", spec.name);
    r.Required("issuer", spec.issuer);
    r.Optional("discovery_url", spec.discovery_url);
    r.Optional("jwks_uri", spec.jwks_uri);
    r.Optional("audiences", spec.audiences);
    r.Optional("algorithms", spec.algorithms);
    std::int64_t skew = spec.clock_skew.count();
    r.Optional("clock_skew_seconds", skew, 0, 300);
    spec.clock_skew = std::chrono::seconds(skew);
    std::optional<std::int64_t> lifetime;
    r.OptionalInt("max_lifetime_seconds", lifetime, 60, 7 * 86'400);
    if (lifetime) spec.max_lifetime = std::chrono::seconds(*lifetime);
    if (auto claims = r.At("claims"); claims && claims->IsObject()) {
      claims->OnlyKeys({"subject", "roles", "scopes", "tier"});
      std::optional<ClaimPath> subject;
      ReadPath(*claims, "subject", subject);
      if (subject) spec.subject = *subject;
      ReadPath(*claims, "roles", spec.roles);
      ReadPath(*claims, "scopes", spec.scopes);
      ReadPath(*claims, "tier", spec.tier);
    }
    r.Optional("default_tier", spec.default_tier);
    r.Optional("ca_file", spec.ca_file);
    std::int64_t refresh = spec.refresh.count(), min_refetch = spec.min_refetch.count(),
                 timeout = spec.fetch_timeout.count(), max_bytes = static_cast<std::int64_t>(spec.max_document_bytes);
    r.Optional("refresh_seconds", refresh, 5, 86'400);
    r.Optional("min_refetch_seconds", min_refetch, 1, 3'600);
    r.Optional("fetch_timeout_ms", timeout, 100, 60'000);
    r.Optional("max_document_bytes", max_bytes, 1'024, 4 << 20);
    spec.refresh = std::chrono::seconds(refresh);
    spec.min_refetch = std::chrono::seconds(min_refetch);
    spec.fetch_timeout = std::chrono::milliseconds(timeout);
    spec.max_document_bytes = static_cast<std::size_t>(max_bytes);

    if (!spec.name.empty() && !IsConfigName(spec.name))
      r.Fail("name", "must be 1 to 64 lowercase letters, digits, '-' or '_'");
    // Its subjects are "<name>:<sub>": a static API key's are "api-key:<name>"; auth-user and
    // shared-secret name the built-in issuers in routes' "require".
    if (spec.name == "api-key" || spec.name == "auth-user" || spec.name == "shared-secret")
      r.Fail("name", "\"" + spec.name + "\" is taken (api-key, auth-user and shared-secret are built in)");
    if (!spec.name.empty() && !names.insert(spec.name).second) r.Fail("name", "duplicate issuer \"" + spec.name + "\"");
    if (!spec.issuer.empty() && !issuers.insert(spec.issuer).second)
      r.Fail("issuer", "another issuer has the same iss: a token could not be matched to one");
    if (spec.issuer.size() > 1024) r.Fail("issuer", "at most 1024 bytes");
    if (spec.discovery_url.has_value() == spec.jwks_uri.has_value())
      r.Fail("", "one of discovery_url and jwks_uri is required (not both)");
    if (spec.discovery_url && !IsFetchUrl(*spec.discovery_url)) r.Fail("discovery_url", "must be an http(s) URL");
    if (spec.jwks_uri && !IsFetchUrl(*spec.jwks_uri)) r.Fail("jwks_uri", "must be an http(s) URL");
    // Without an audience, a token the provider issued to any other client would pass.
    if (spec.audiences.empty()) r.Fail("audiences", "at least one audience is required");
    for (const auto& a : spec.audiences)
      if (a.empty() || a.size() > 1024) r.Fail("audiences", "each is 1 to 1024 bytes");
    if (spec.algorithms.empty()) r.Fail("algorithms", "at least one algorithm is required");
    for (const auto& a : spec.algorithms)
      if (!suite::security::IsAsymmetricJwsAlgorithm(a))
        r.Fail("algorithms", "\"" + a + "\" is not one of RS256, PS256, ES256, EdDSA (never none or HS*)");
    if (!tiers.count(spec.default_tier)) r.Fail("default_tier", "must be a configured tier");
    out.push_back(std::move(spec));
  }
  return out;
}

std::vector<std::string> ClaimValues(const nlohmann::json* v) {
  std::vector<std::string> out;
  const auto take = [&out](std::string_view s) {
    if (!s.empty() && s.size() <= kMaxClaimValueBytes && out.size() < kMaxClaimValues &&
        std::find(out.begin(), out.end(), s) == out.end())
      out.emplace_back(s);
  };
  if (v == nullptr) return out;
  if (v->is_string()) {
    std::string_view s = v->get_ref<const std::string&>();
    while (!s.empty() && out.size() < kMaxClaimValues) {
      const auto space = s.find(' ');
      take(s.substr(0, space));
      if (space == std::string_view::npos) break;
      s.remove_prefix(space + 1);
    }
  } else if (v->is_array()) {
    for (const auto& e : *v)
      if (e.is_string()) take(e.get_ref<const std::string&>());
  }
  return out;
}

VerifiedToken MapClaims(const IssuerSpec& spec, const nlohmann::json& claims, const std::set<std::string>& tiers) {
  VerifiedToken t;
  t.from_jwks = true;  // the issuer's roles count: the operator configured where they are
  t.issuer = spec.name;
  const auto* sub = spec.subject.Find(claims);
  if (sub == nullptr || !sub->is_string() || sub->get_ref<const std::string&>().empty() ||
      sub->get_ref<const std::string&>().size() > kMaxClaimValueBytes)
    throw suite::security::JwtError("Token has no usable subject (" + spec.subject.text() + ")");
  // Named with its issuer: "keycloak:alice" is not auth-user's alice (whose name has no ':'),
  // and owns none of her jobs or keys.
  t.subject = spec.name + ":" + sub->get<std::string>();
  if (spec.roles) t.roles = ClaimValues(spec.roles->Find(claims));
  if (spec.scopes) t.scopes = ClaimValues(spec.scopes->Find(claims));
  t.tier = spec.default_tier;
  if (spec.tier)
    if (const auto* tier = spec.tier->Find(claims); tier != nullptr && tier->is_string() && tiers.count(tier->get<std::string>()))
      t.tier = tier->get<std::string>();
  return t;
}

IssuerSet::IssuerSet(std::vector<IssuerSpec> specs) : specs_(std::move(specs)) {
  for (const auto& s : specs_) options_.push_back(s.Options());
}

int IssuerSet::Find(std::string_view iss) const {
  for (std::size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].issuer == iss) return static_cast<int>(i);
  return -1;
}

std::optional<std::string> PeekIssuer(std::string_view payload) {
  // The limits the claims are parsed with once verified (suite/security/jwt.cpp).
  auto parsed = suite::core::ParseJson(payload, {.max_bytes = 8192, .max_depth = 8, .max_elements = 1024,
                                                 .max_string = 2048});
  if (!parsed.ok() || !parsed.value.is_object()) return std::nullopt;
  const auto it = parsed.value.find("iss");
  if (it == parsed.value.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<std::string> JwksUriOf(const IssuerSpec& spec, std::string_view discovery, std::string& error) {
  auto parsed = suite::core::ParseJson(discovery, {.max_bytes = spec.max_document_bytes, .max_depth = 16,
                                                   .max_elements = 10'000, .max_string = 4096});
  if (!parsed.ok() || !parsed.value.is_object()) {
    error = "the discovery document is not a JSON object";
    return std::nullopt;
  }
  const auto& doc = parsed.value;
  const auto issuer = doc.find("issuer");
  if (issuer == doc.end() || !issuer->is_string() || *issuer != spec.issuer) {
    error = "the discovery document names another issuer";
    return std::nullopt;
  }
  const auto jwks = doc.find("jwks_uri");
  const auto url = jwks != doc.end() && jwks->is_string() ? HttpUrl(jwks->get_ref<const std::string&>()) : std::nullopt;
  if (!url) {
    error = "the discovery document has no usable jwks_uri";
    return std::nullopt;
  }
  const auto from = spec.discovery_url ? suite::core::ParseUrl(*spec.discovery_url) : std::nullopt;
  if (from && from->scheme == "https" && url->scheme != "https") {
    error = "the discovery document, fetched over https, names a jwks_uri over http";
    return std::nullopt;
  }
  return jwks->get<std::string>();
}

}  // namespace gateway
