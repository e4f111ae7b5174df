#pragma once
/// The internal services' door: every request but the probes must carry the identity the
/// gateway signed for it (X-Internal-Identity).
#include "suite/http/router.hpp"
#include "suite/security/identity.hpp"

namespace suite::service {

/// Routes a request after verifying X-Internal-Identity (except the probes), before its body
/// is read; the identity is then the request's (`req->identity`). Without a valid one: 401 in
/// the envelope. Bodies are read whole under the cap the gateway admitted the request for (the
/// identity's `body_limit`, at most `body_limit_max`), else under `body_limit`.
http::HeadHandler WithIdentity(const http::Router& router, const security::IdentitySigner& verifier,
                               std::size_t body_limit, std::size_t body_limit_max);

}  // namespace suite::service
