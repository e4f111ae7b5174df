#pragma once
#include "suite/http/router.hpp"
#include "throttle.hpp"
#include "users.hpp"

namespace auth {
/// POST /auth/register, /auth/login, /auth/refresh, /auth/logout, /auth/logout-all,
/// /auth/change-password; GET /auth/sessions; GET and PUT /users/me.
void Register(suite::http::Router& router, suite::http::WorkerPool& workers, Users& users, Throttle& throttle);
}  // namespace auth
