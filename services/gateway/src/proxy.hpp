#pragma once
/// The end of the chain: the request goes to its route's upstream with the signed identity
/// (503 when it cannot be reached, 502 when it fails, 504 when it is too slow), or to the
/// gateway's own handlers, or is answered 404.
#include <prometheus/counter.h>

#include "context.hpp"
#include "suite/http/client.hpp"
#include "suite/http/router.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

class Proxy {
 public:
  /// `max_timeout`: the longest a route's deadline may be (the identity token's lifetime).
  Proxy(const suite::security::IdentitySigner& signer, const suite::http::Router& local, suite::obs::Metrics& metrics,
        std::chrono::milliseconds max_timeout = std::chrono::milliseconds(600'000));
  suite::http::Task<suite::http::Response> Forward(RequestContext& ctx) const;

 private:
  suite::http::Task<suite::http::Response> Local(RequestContext& ctx) const;
  suite::http::Response Failed(RequestContext& ctx, const suite::http::Upstream& upstream,
                               const suite::http::ClientResult& r) const;
  std::chrono::milliseconds max_timeout_;
  const suite::security::IdentitySigner& signer_;
  const suite::http::Router& local_;
  prometheus::Family<prometheus::Counter>& errors_;  ///< {upstream, kind}: both from closed sets
};

}  // namespace gateway
