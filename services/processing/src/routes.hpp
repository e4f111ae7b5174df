#pragma once
#include "suite/audit/publisher.hpp"
#include "suite/core/json.hpp"
#include "suite/http/router.hpp"

namespace processing {

class JobStore;
class JobRunner;

/// POST /process and POST /api/test.
void Register(suite::http::Router& router, suite::audit::Publisher& publisher, suite::core::JsonLimits limits);
/// Seed 003's jobs: POST /jobs (202), GET /jobs/{id}, DELETE /jobs/{id}; database work runs on `workers`.
void RegisterJobs(suite::http::Router& router, suite::http::Offload& workers, JobStore& store, JobRunner& runner,
                  suite::core::JsonLimits limits);

}  // namespace processing
