#pragma once
/// Who is calling: seed 000's dual authentication (API key from `api_key` or X-API-Key, and
/// a bearer JWT with `exp`), or either one, or nobody, as the route's policy says.
/// Roles come only from auth-user's ES256 tokens: a shared-secret HS256 token (seed 000)
/// authenticates its holder but grants no role (whoever has JWT_SECRET could mint any).
#include "api_keys.hpp"
#include "suite/http/message.hpp"
#include "suite/security/identity.hpp"
#include "suite/security/es256.hpp"
#include "suite/security/jwt.hpp"

namespace gateway {

enum class Policy {
  kPublic,        ///< no credentials needed (anonymous identity)
  kApiKeyAndJwt,  ///< seed 000's POST /process: both required
  kAny,           ///< an API key or a JWT
};

/// How bearer tokens are checked: HS256 with the shared secret (seed 000), ES256 with
/// auth-user's published keys (its access tokens), each with its own options.
struct JwtVerifiers {
  const suite::security::Hs256& hs256;
  const suite::security::JwtOptions& hs256_options;  ///< lifetime cap (JWT_MAX_LIFETIME_SECONDS)
  const suite::security::JwkSet* es256 = nullptr;
  const suite::security::JwtOptions* es256_options = nullptr;  ///< issuer and audience of auth-user's tokens
};

/// A bearer token that does not verify: 401 with `WWW-Authenticate: Bearer error="invalid_token"`
/// (RFC 6750 3.1).
class InvalidToken : public suite::core::ApiError {
 public:
  using ApiError::ApiError;
};

/// A token signed with a key the gateway does not hold yet: fetch the keys, then try again.
class UnknownSigningKey : public InvalidToken {
 public:
  using InvalidToken::InvalidToken;
};

/// Throws ApiError(kUnauthenticated) with the seed's messages (UnknownSigningKey for an ES256
/// token whose kid is not among the keys).
suite::security::Identity Authenticate(const suite::http::Request& req, Policy policy,
                                       const ApiKeyStore& keys, const JwtVerifiers& jwt);

}  // namespace gateway
