#pragma once
/// The internal services' door: every request but the probes must carry the identity the
/// gateway signed for it (X-Internal-Identity).
#include "suite/http/router.hpp"
#include "suite/security/identity.hpp"

namespace suite::service {

/// Routes a request after verifying X-Internal-Identity (except the probes); stores the
/// identity in `req->identity`. Without a valid one: 401 in the envelope.
http::Handler WithIdentity(const http::Router& router, const security::IdentitySigner& verifier);

/// The identity a guarded handler runs as.
security::Identity IdentityOf(const http::Request& req);

}  // namespace suite::service
