#pragma once
/// Who is calling: seed 000's dual authentication (API key from `api_key` or X-API-Key, and
/// an HS256 bearer JWT with `exp`), or either one, or nobody, as the route's policy says.
#include "api_keys.hpp"
#include "suite/http/message.hpp"
#include "suite/security/identity.hpp"
#include "suite/security/jwt.hpp"

namespace gateway {

enum class Policy {
  kPublic,        ///< no credentials needed (anonymous identity)
  kApiKeyAndJwt,  ///< seed 000's POST /process: both required
  kAny,           ///< an API key or a JWT
};

/// Throws ApiError(kUnauthenticated) with the seed's messages.
/// `jwt_options` carries the lifetime cap of shared-secret tokens (JWT_MAX_LIFETIME_SECONDS).
suite::security::Identity Authenticate(const suite::http::Request& req, Policy policy,
                                       const ApiKeyStore& keys, const suite::security::Hs256& jwt,
                                       const suite::security::JwtOptions& jwt_options = {});

}  // namespace gateway
