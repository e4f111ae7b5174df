#pragma once
/// A request the gateway itself makes to one of the suite's services (auth-user's JWKS, its key
/// verification): a fresh request id, and the gateway's own service identity signed for it.
#include <string>

#include "suite/http/client.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

suite::http::ClientRequest ServiceRequest(const suite::security::IdentitySigner& signer, std::string method,
                                          std::string target);

}  // namespace gateway
