#pragma once
#include "api_keys.hpp"
#include "clients.hpp"
#include "signing_keys.hpp"
#include "suite/http/router.hpp"
#include "suite/service/worker_pool.hpp"
#include "throttle.hpp"
#include "users.hpp"

namespace auth {
/// POST /auth/register, /auth/login, /auth/refresh, /auth/logout, /auth/logout-all,
/// /auth/change-password; GET /auth/sessions; GET and PUT /users/me; e-mail links; the admin
/// routes under /users/; /api-keys and the gateway's POST /internal/api-keys/verify; the JWKS
/// and the admin's signing-key rotation; OpenID discovery, OAuth's token endpoint
/// (client_credentials) and the service accounts under /auth/clients.
struct Components {
  Users& users;
  Throttle& throttle;
  ApiKeys& keys;
  SigningKeys& signing;
  ServiceClients& clients;
  std::string public_base_url;  ///< the discovery document's URLs (PUBLIC_BASE_URL)
  std::string algorithm;        ///< what signs access tokens (ES256 or HS256)
};
void Register(suite::http::Router& router, suite::service::WorkerPool& workers, Components c);
}  // namespace auth
