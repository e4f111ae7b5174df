#pragma once
#include "suite/http/router.hpp"
#include "users.hpp"

namespace auth {
/// POST /auth/register, POST /auth/login.
void Register(suite::http::Router& router, suite::http::WorkerPool& workers, Users& users);
}  // namespace auth
