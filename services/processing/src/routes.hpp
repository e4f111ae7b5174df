#pragma once
#include "suite/audit/publisher.hpp"
#include "suite/core/json.hpp"
#include "suite/http/router.hpp"

namespace processing {

/// POST /process and POST /api/test.
void Register(suite::http::Router& router, suite::audit::Publisher& publisher, suite::core::JsonLimits limits);

}  // namespace processing
