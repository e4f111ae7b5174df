#include "authn.hpp"

#include "suite/core/error.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::security::Identity;

namespace {

std::optional<std::string> PresentedKey(const suite::http::Request& req) {
  if (req.HasHeader("x-api-key")) return std::string(req.Header("x-api-key"));
  if (auto q = req.Query("api_key")) return q;
  return std::nullopt;
}

std::optional<std::string_view> BearerToken(const suite::http::Request& req) {
  auto h = req.Header("authorization");
  if (h.size() < 7) return std::nullopt;
  std::string scheme(h.substr(0, 7));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return std::nullopt;
  auto token = h.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return token;
}

void ApplyKey(Identity& id, const ApiKey& key) {
  id.api_key_id = key.name;
  id.tier = key.tier;
  if (id.subject.empty()) id.subject = "api-key:" + key.name;
}

void ApplyJwt(Identity& id, const nlohmann::json& claims, bool signed_by_auth_user) {
  if (claims.contains("sub") && claims["sub"].is_string()) id.subject = claims["sub"];
  if (signed_by_auth_user && claims.contains("roles") && claims["roles"].is_array())
    for (const auto& r : claims["roles"])
      if (r.is_string()) id.roles.push_back(r);
}

}  // namespace

Identity Authenticate(const suite::http::Request& req, Policy policy, const ApiKeyStore& keys,
                      const JwtVerifiers& jwt) {
  Identity id;
  id.client_ip = req.remote_ip;
  id.tier = "anonymous";
  id.method = "none";
  if (policy == Policy::kPublic) return id;

  const auto presented = PresentedKey(req);
  std::optional<ApiKey> key;
  if (presented) {
    key = keys.Find(*presented);
    if (!key) throw ApiError(ErrorCode::kUnauthenticated, "Invalid API key");
  }
  const auto token = BearerToken(req);
  nlohmann::json claims;
  bool es256 = false;
  if (policy == Policy::kApiKeyAndJwt && !key)
    throw ApiError(ErrorCode::kUnauthenticated, "API key required (query param 'api_key' or header 'X-API-Key')");
  if (token) {
    try {
      // Split once; the header's alg only picks the verifier, each pins its own algorithm.
      const auto parts = suite::security::detail::SplitToken(*token);
      const auto alg = parts.header.find("alg");
      es256 = jwt.es256 && jwt.es256_options && alg != parts.header.end() && *alg == "ES256";
      if (es256)
        claims = jwt.es256->Verify(parts, *jwt.es256_options);
      else
        claims = jwt.hs256.Verify(parts, jwt.hs256_options);
    } catch (const suite::security::UnknownKeyError& e) {
      throw UnknownSigningKey(ErrorCode::kUnauthenticated, std::string("Invalid JWT token: ") + e.what());
    } catch (const suite::security::JwtError& e) {
      throw InvalidToken(ErrorCode::kUnauthenticated, std::string("Invalid JWT token: ") + e.what());
    }
  } else if (policy == Policy::kApiKeyAndJwt || !key) {
    throw ApiError(ErrorCode::kUnauthenticated,
                   policy == Policy::kApiKeyAndJwt
                       ? "JWT required (header 'Authorization: Bearer <token>')"
                       : "Authentication required (API key or 'Authorization: Bearer <token>')");
  }
  if (!claims.is_null()) ApplyJwt(id, claims, es256);
  if (key) ApplyKey(id, *key);
  if (key && !claims.is_null()) id.method = "api_key+jwt";
  else id.method = key ? "api_key" : "jwt";
  if (!key) id.tier = "free";
  return id;
}

}  // namespace gateway
