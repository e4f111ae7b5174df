#pragma once
#include "suite/db/read_router.hpp"
#include "suite/http/router.hpp"
#include "suite/service/worker_pool.hpp"

namespace audit {
/// GET /audit/* (admin only), /security/events (admin only) and /security/health: reads, on
/// the replica while it keeps up (X-Read-From says where each ran).
void Register(suite::http::Router& router, suite::service::WorkerPool& workers, suite::db::ReadRouter& reads);
}  // namespace audit
