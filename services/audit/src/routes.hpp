#pragma once
#include "suite/db/pool.hpp"
#include "suite/http/router.hpp"

namespace audit {
/// GET /audit/requests (admin only).
void Register(suite::http::Router& router, suite::http::WorkerPool& workers, suite::db::Pool& pool);
}  // namespace audit
