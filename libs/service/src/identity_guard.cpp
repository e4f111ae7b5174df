#include "suite/service/identity_guard.hpp"

#include "suite/observability/log.hpp"

namespace suite::service {

using namespace http;

namespace {

bool IsProbe(const std::string& path) { return path == "/health" || path == "/ready" || path == "/metrics"; }

// The caller, verified into the request; an answer when there is none.
std::optional<Response> Admit(Request& req, const security::IdentitySigner& verifier) {
  if (IsProbe(req.path)) return std::nullopt;
  try {
    req.identity = verifier.Verify(req.Header(security::kIdentityHeader), {req.request_id, req.method, req.path});
    return std::nullopt;
  } catch (const security::JwtError& e) {
    obs::Warn("request without a valid internal identity",
              {{"request_id", req.request_id}, {"reason", e.what()}, {"client", req.remote_ip}});
    req.route = "unauthenticated";
    return Response::Error(core::ErrorCode::kUnauthenticated, "Requests must come through the gateway",
                           req.request_id);
  }
}

Task<Response> Guarded(const Router& router, const security::IdentitySigner& verifier, std::size_t body_limit,
                       RequestPtr req, BodyReader& body) {
  if (auto refusal = Admit(*req, verifier)) co_return std::move(*refusal);
  co_return co_await router.Handle(std::move(req), body, body_limit);
}

}  // namespace

HeadHandler WithIdentity(const Router& router, const security::IdentitySigner& verifier, std::size_t body_limit) {
  return [&router, &verifier, body_limit](RequestPtr req, BodyReader& body) {
    return Guarded(router, verifier, body_limit, std::move(req), body);
  };
}

}  // namespace suite::service
