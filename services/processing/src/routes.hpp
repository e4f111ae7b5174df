#pragma once
#include "suite/audit/publisher.hpp"
#include "suite/core/json.hpp"
#include "suite/http/router.hpp"

namespace processing {

class JobStore;
class JobRunner;
class Idempotency;

/// POST /process (with Idempotency-Key) and POST /api/test; /process runs on `workers` (the
/// key is a database lookup).
void Register(suite::http::Router& router, suite::http::Offload& workers, suite::audit::Publisher& publisher,
              Idempotency& idempotency, suite::core::JsonLimits limits);
/// Seed 003's jobs: POST /jobs (202, with Idempotency-Key), GET /jobs/{id}, DELETE /jobs/{id};
/// database work runs on `workers`.
void RegisterJobs(suite::http::Router& router, suite::http::Offload& workers, JobStore& store, JobRunner& runner,
                  Idempotency& idempotency, suite::core::JsonLimits limits);

}  // namespace processing
