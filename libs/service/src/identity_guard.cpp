#include "suite/service/identity_guard.hpp"

#include <algorithm>

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

// The body is read up to what the gateway admitted the caller for (its tier's cap, signed in
// the identity), never past `body_limit_max`; a request that says nothing gets `body_limit`.
Task<Response> Guarded(const Router& router, const security::IdentitySigner& verifier, std::size_t body_limit,
                       std::size_t body_limit_max, RequestPtr req, BodyReader& body) {
  if (auto refusal = Admit(*req, verifier)) co_return std::move(*refusal);
  const auto admitted = req->identity.body_limit;
  const std::size_t limit =
      admitted > 0 ? static_cast<std::size_t>(std::min<std::uint64_t>(admitted, body_limit_max)) : body_limit;
  co_return co_await router.Handle(std::move(req), body, limit);
}

}  // namespace

HeadHandler WithIdentity(const Router& router, const security::IdentitySigner& verifier, std::size_t body_limit,
                         std::size_t body_limit_max) {
  return [&router, &verifier, body_limit, body_limit_max](RequestPtr req, BodyReader& body) {
    return Guarded(router, verifier, body_limit, body_limit_max, std::move(req), body);
  };
}

}  // namespace suite::service
