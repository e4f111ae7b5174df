#pragma once
#include "api_keys.hpp"
#include "signing_keys.hpp"
#include "suite/http/router.hpp"
#include "suite/service/worker_pool.hpp"
#include "throttle.hpp"
#include "users.hpp"

namespace auth {
/// POST /auth/register, /auth/login, /auth/refresh, /auth/logout, /auth/logout-all,
/// /auth/change-password; GET /auth/sessions; GET and PUT /users/me; e-mail links; the admin
/// routes under /users/; /api-keys and the gateway's POST /internal/api-keys/verify; the JWKS
/// and the admin's signing-key rotation.
struct Components {
  Users& users;
  Throttle& throttle;
  ApiKeys& keys;
  SigningKeys& signing;
};
void Register(suite::http::Router& router, suite::service::WorkerPool& workers, Components c);
}  // namespace auth
