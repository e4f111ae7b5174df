#include "suite/service/identity_guard.hpp"

#include "suite/observability/log.hpp"

namespace suite::service {

using namespace http;

Handler WithIdentity(const Router& router, const security::IdentitySigner& verifier) {
  return [&router, &verifier](RequestPtr req, Reply reply) {
    if (req->path != "/health" && req->path != "/ready" && req->path != "/metrics") {
      try {
        req->identity = verifier
                            .Verify(req->Header(security::kIdentityHeader),
                                    {req->request_id, req->method, req->path})
                            .ToJson();
      } catch (const security::JwtError& e) {
        obs::Warn("request without a valid internal identity",
                  {{"request_id", req->request_id}, {"reason", e.what()}, {"client", req->remote_ip}});
        req->route = "unauthenticated";
        reply(Response::Error(core::ErrorCode::kUnauthenticated,
                              "Requests must come through the gateway", req->request_id));
        return;
      }
    }
    router.Dispatch(std::move(req), std::move(reply));
  };
}

security::Identity IdentityOf(const Request& req) { return security::Identity::FromJson(req.identity); }

}  // namespace suite::service
