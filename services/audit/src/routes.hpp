#pragma once
#include "suite/db/pool.hpp"
#include "suite/http/router.hpp"
#include "suite/service/worker_pool.hpp"

namespace audit {
/// GET /audit/requests (admin only).
void Register(suite::http::Router& router, suite::service::WorkerPool& workers, suite::db::Pool& pool);
}  // namespace audit
