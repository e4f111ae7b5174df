// What a configured issuer sends and what its tokens carry (services/gateway/src/issuers.hpp):
// any input as a JWKS document (keys taken or skipped, a token then checked against them), as a
// discovery document (a jwks_uri or a reason), as a token payload's `iss`, as claims mapped by
// Keycloak's paths, and as a claim path; refused with an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "issuers.hpp"
#include "suite/core/json.hpp"
#include "suite/security/es256.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const gateway::IssuerSpec spec = [] {
    gateway::IssuerSpec s;
    s.name = "fuzz";
    s.issuer = "https://idp.example";
    s.discovery_url = "https://idp.example/.well-known/openid-configuration";
    s.audiences = {"api"};
    s.roles = gateway::ClaimPath::Parse("realm_access.roles");
    s.scopes = gateway::ClaimPath::Parse("scope");
    s.tier = gateway::ClaimPath::Parse("https://idp.example/tier");
    return s;
  }();
  static const auto rsa = suite::security::RsaKey::Generate(2048);
  static const std::string token = suite::security::SignRs256(
      rsa, "k", {{"iss", "https://idp.example"}, {"aud", "api"}, {"sub", "s"}, {"exp", 4'000'000'000}});
  auto parsed = suite::core::ParseJson(text, {.max_bytes = spec.max_document_bytes, .max_depth = 8,
                                              .max_elements = 10'000, .max_string = 4096});
  if (parsed.ok()) {
    try {
      const auto set = suite::security::JwkSet::FromJwks(parsed.value);
      try {
        (void)set.Verify(token, spec.Options());
      } catch (const suite::security::JwtError&) {
      }
    } catch (const std::invalid_argument&) {
    }
    try {
      (void)gateway::MapClaims(spec, parsed.value, {"free", "pro", "enterprise"});
    } catch (const suite::security::JwtError&) {
    }
  }
  std::string error;
  (void)gateway::JwksUriOf(spec, text, error);
  (void)gateway::PeekIssuer(text);
  if (const auto path = gateway::ClaimPath::Parse(text); path && parsed.ok()) (void)path->Find(parsed.value);
  return 0;
}
