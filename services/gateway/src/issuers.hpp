#pragma once
/// Identity providers the gateway takes bearer tokens from beside its two built-in ones
/// (auth-user's ES256 keys, the default issuer, and seed 000's shared HS256 secret): any OIDC
/// issuer by its JWKS, as Envoy's jwt_authn and Kong's openid-connect take them (Keycloak,
/// Auth0, Entra ID, Google, Dex). Each is configured in the gateway's file ("issuers"): the `iss`
/// its tokens carry, where its keys are (a JWKS URL, or its discovery document), the audiences
/// and algorithms it may use, the clock skew, and where the subject, roles, scopes and tier are
/// in its claims. A token is matched to its issuer by `iss` before any key is tried: an `iss`
/// nobody configured is refused without a fetch. No Beast here: the logic is tested alone.
#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "suite/core/config_reader.hpp"
#include "suite/security/jwt.hpp"
#include "token_cache.hpp"

namespace gateway {

/// A claim's place in a token's payload: object members separated by dots ("realm_access.roles",
/// "scope"). A claim whose own name is the whole text is taken first, so that Auth0's namespaced
/// claims ("https://acme.example/roles") are found as they are. At most 8 segments of 1 to 128
/// printable bytes.
class ClaimPath {
 public:
  static std::optional<ClaimPath> Parse(std::string_view text);
  /// The value there, or nullptr.
  const nlohmann::json* Find(const nlohmann::json& claims) const;
  const std::string& text() const { return text_; }

 private:
  std::vector<std::string> segments_;
  std::string text_;
};

struct IssuerSpec {
  std::string name;    ///< the issuer's name in this file: logs, route policies ("issuers")
  std::string issuer;  ///< the `iss` its tokens carry, exactly
  /// Where its keys come from: its discovery document (…/.well-known/openid-configuration, whose
  /// `issuer` must equal `issuer` and whose `jwks_uri` is then fetched), or the JWKS URL itself.
  std::optional<std::string> discovery_url, jwks_uri;
  std::vector<std::string> audiences;  ///< `aud` must hold one of them (at least one configured)
  std::vector<std::string> algorithms{"RS256", "ES256"};  ///< of RS256, PS256, ES256, EdDSA
  std::chrono::seconds clock_skew{30};
  std::optional<std::chrono::seconds> max_lifetime;
  ClaimPath subject = *ClaimPath::Parse("sub");
  std::optional<ClaimPath> roles, scopes, tier;
  std::string default_tier = "free";  ///< the tier when its tier claim is absent or unknown
  std::optional<std::string> ca_file;  ///< the CA bundle its TLS certificates chain to (else the system's)
  std::chrono::seconds refresh{300}, retry{2}, min_refetch{5};
  std::chrono::milliseconds fetch_timeout{5000};
  std::size_t max_document_bytes = 256 * 1024;

  /// The checks its tokens get (issuer, audiences, algorithms, skew, lifetime).
  suite::security::JwtOptions Options() const;
};

/// A name in the gateway's file (upstream, issuer, role): 1 to 64 of a-z 0-9 '-' '_'.
bool IsConfigName(const std::string& s);

/// The tiers a token's tier claim may name: those of callers who identified themselves.
inline const std::set<std::string> kTokenTiers = {"free", "pro", "enterprise"};

/// Reads "issuers" of the gateway's file; `tiers` are the configured tier names.
std::vector<IssuerSpec> ReadIssuers(suite::core::ConfigReader& root, const std::set<std::string>& tiers);

/// Limits on what a token may bring: roles and scopes beyond these are not taken.
inline constexpr std::size_t kMaxClaimValues = 64, kMaxClaimValueBytes = 256;

/// A claim's values: an array of strings, or one space-separated string; at most
/// kMaxClaimValues of at most kMaxClaimValueBytes each (longer ones skipped), no repeats.
std::vector<std::string> ClaimValues(const nlohmann::json* v);

/// What a verified token of `spec` says about its holder, by the issuer's claim paths: the
/// subject (required: JwtError without one; "<issuer name>:<sub>", so that no provider's user is
/// taken for auth-user's user of the same name), roles and scopes (an array of strings, or one
/// space-separated string: Keycloak's realm_access.roles, OAuth's `scope`, Auth0's
/// `permissions`, Entra ID's `roles` and `scp`), and a tier that must be one of `tiers`.
VerifiedToken MapClaims(const IssuerSpec& spec, const nlohmann::json& claims, const std::set<std::string>& tiers);

/// The configured issuers, found by `iss`.
class IssuerSet {
 public:
  IssuerSet() = default;
  explicit IssuerSet(std::vector<IssuerSpec> specs);
  bool empty() const { return specs_.empty(); }
  std::size_t size() const { return specs_.size(); }
  /// The index of the issuer whose `issuer` is `iss`, or -1.
  int Find(std::string_view iss) const;
  const IssuerSpec& spec(std::size_t i) const { return specs_[i]; }
  const suite::security::JwtOptions& options(std::size_t i) const { return options_[i]; }

 private:
  std::vector<IssuerSpec> specs_;
  std::vector<suite::security::JwtOptions> options_;
};

/// The `jwks_uri` a discovery document names for `spec`: it must be a JSON object whose `issuer`
/// is `spec.issuer` (OpenID Connect Discovery 4.3) and whose `jwks_uri` is an http(s) URL, https
/// when the document came over https. nullopt with `error` otherwise.
std::optional<std::string> JwksUriOf(const IssuerSpec& spec, std::string_view discovery, std::string& error);

/// The `iss` of a token's payload as sent (not verified yet: it only picks the keys to try), or
/// nullopt when the payload is no JSON object or has no string `iss`.
std::optional<std::string> PeekIssuer(std::string_view payload);

}  // namespace gateway
