#include "service_request.hpp"

#include "suite/core/ids.hpp"

namespace gateway {

suite::http::ClientRequest ServiceRequest(const suite::security::IdentitySigner& signer, std::string method,
                                          std::string target) {
  suite::http::ClientRequest req;
  const std::string rid = suite::core::NewUuid();
  suite::security::Identity self;
  self.subject = "gateway";
  self.method = "service";
  req.headers = {{"x-request-id", rid}, {suite::security::kIdentityHeader, signer.Sign(self, {rid, method, target})}};
  req.method = std::move(method);
  req.target = std::move(target);
  return req;
}

}  // namespace gateway
