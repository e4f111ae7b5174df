#pragma once
/// Routes are data: a path prefix, the methods it serves, who may call it, where it goes and
/// its own limits. RouteFilter finds the request's route (or the not-found one, which is still
/// authenticated as anonymous and rate limited: a scan of unknown paths pays like any caller).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "context.hpp"
#include "suite/http/upgrade.hpp"

namespace suite::http {
class Upstream;
}

namespace gateway {

enum class AuthPolicy {
  kNone,          ///< no credentials needed (anonymous identity)
  kApiKey,        ///< an API key
  kJwt,           ///< a bearer JWT
  kApiKeyAndJwt,  ///< both (seed 000's POST /process)
  kAny,           ///< an API key or a JWT
};

/// What a route asks of an authenticated caller beyond its auth policy: every scope and every
/// role listed, and a token from one of the issuers listed ("auth-user", "shared-secret", or a
/// configured issuer's name). Empty lists ask nothing.
struct RouteRequirement {
  std::vector<std::string> scopes, roles, issuers;
  bool empty() const { return scopes.empty() && roles.empty() && issuers.empty(); }
};

struct Route {
  std::string prefix;   ///< exact path, or a prefix when it ends with '/' ("/auth/" also matches "/auth")
  std::string methods;  ///< the Allow list ("GET, POST"); HEAD is allowed wherever GET is
  AuthPolicy auth = AuthPolicy::kAny;
  suite::http::Upstream* upstream = nullptr;  ///< nullptr: answered by the gateway itself
  bool rate_limited = true;                   ///< false for health checks only
  std::optional<int> rate_limit;              ///< requests per period for this route, below the tier's
  std::optional<std::size_t> body_limit;      ///< bytes, below the tier's
  std::string role;                           ///< a role the caller must hold (403 otherwise); empty: none
  RouteRequirement require;                   ///< scopes, roles, issuers (403 naming what is missing)
  bool pass_authorization = false;            ///< auth "none" only: the client's Authorization reaches the upstream
  int unauthenticated_status = 401;           ///< 403 for seed 001's clients (FastAPI's APIKeyHeader answers 403)
  std::optional<std::chrono::milliseconds> timeout;  ///< the upstream's answer deadline for this route
  bool not_found = false;                     ///< the route of every unknown path: answers 404
  bool websocket = false;                     ///< a GET with `Upgrade: websocket` is relayed after its 101
  suite::http::RelayLimits relay;             ///< that relay's idle limit and lifetime

  bool Matches(std::string_view path) const;
  bool Allows(std::string_view method) const;
};

/// 403 for an authenticated caller without the route's role, or what its `require` lists (roles
/// come only from published keys: auth-user's tokens and the keys it issued, a configured
/// issuer's tokens). The answer names what is missing, never the token; a missing scope also
/// says so in WWW-Authenticate (RFC 6750 3.1, insufficient_scope). The service checks again;
/// this keeps the request from reaching it at all.
class AuthorizationFilter final : public SyncFilter {
 public:
  FilterStatus OnRequest(RequestContext& ctx) override;
};

class RouteFilter final : public SyncFilter {
 public:
  explicit RouteFilter(std::vector<Route> routes);
  FilterStatus OnRequest(RequestContext& ctx) override;
  const Route* Find(std::string_view path) const;

 private:
  std::vector<Route> routes_;
  Route not_found_;
};

}  // namespace gateway
