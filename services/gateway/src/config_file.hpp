#pragma once
/// The gateway's configuration file (GATEWAY_CONFIG, JSON): routes, upstreams, tiers, rate
/// limits, CORS, trusted hosts and proxies. Secrets, ports and TLS files stay in the
/// environment. Without a file the suite's own routes apply (kDefaultConfig, the same as
/// deploy/gateway/gateway.json). Validated as a whole: every error is listed with its JSON path,
/// unknown keys are errors. `gateway --check-config FILE` does only that.
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>

#include "suite/http/upgrade.hpp"
#include <optional>
#include <string>
#include <vector>

#include "issuers.hpp"
#include "rate_limit_config.hpp"
#include "routes.hpp"

namespace gateway {

struct RouteSpec {
  std::string prefix;                  ///< "/jobs/": that prefix (and "/jobs"); "/process": exactly
  std::vector<std::string> methods;    ///< GET, POST, PUT, PATCH, DELETE, OPTIONS (HEAD with GET)
  std::string upstream;                ///< a name from "upstreams", or "gateway" (answered here)
  AuthPolicy auth = AuthPolicy::kAny;
  bool rate_limited = true;
  std::optional<int> rate_limit;       ///< requests per period, below the tier's
  std::optional<std::size_t> body_limit;
  std::string role;                    ///< required role (403 without it)
  RouteRequirement require;            ///< scopes, roles, issuers (403 without them)
  bool pass_authorization = false;     ///< auth "none": Authorization forwarded (OAuth's token endpoint)
  int unauthenticated_status = 401;    ///< missing or bad credentials: 401, or seed 001's 403
  std::optional<std::chrono::milliseconds> timeout;  ///< below the upstream's (and UPSTREAM_TIMEOUT_MS)
  bool websocket = false;              ///< a GET asking `Upgrade: websocket` is relayed after its 101
  suite::http::RelayLimits relay;      ///< a relayed connection's idle limit and lifetime
};

struct UpstreamSpec {
  std::string name;
  std::optional<std::string> url;      ///< http://host:port; the three services default from the environment
  std::optional<std::chrono::milliseconds> timeout;
  bool http2 = false;  ///< "protocol": "h2": HTTP/2 (gRPC services): h2c, or by ALPN over https://
  std::optional<std::string> ca_file;  ///< https://: the CA bundle its certificate must chain to
};

struct TierSpec {
  std::optional<int> requests;
  std::optional<long long> daily_quota;
  std::optional<std::size_t> body_limit;
};

struct FileConfig {
  std::vector<UpstreamSpec> upstreams;
  std::vector<RouteSpec> routes;
  std::map<std::string, TierSpec> tiers;  ///< anonymous, free, pro, enterprise
  std::optional<bool> rate_limit_enabled, daily_quotas;
  std::optional<int> period_seconds, replicas;
  std::optional<FailureMode> failure_mode;
  std::optional<std::vector<std::string>> cors_origins, trusted_hosts, trusted_proxies;
  std::vector<IssuerSpec> issuers;  ///< identity providers beside auth-user (issuers.hpp)

  /// Reads and validates `j`; appends "<json path>: <problem>" to `errors`.
  static FileConfig Read(const nlohmann::json& j, std::vector<std::string>& errors);
  /// Reads the file at `path` (at most 1 MiB of JSON).
  static FileConfig Load(const std::string& path, std::vector<std::string>& errors);
  static FileConfig Default();
};

/// `gateway --check-config FILE`: validates the file alone (no secrets needed), prints every
/// error with its JSON path; returns the exit code (2 on any error).
int CheckConfigFile(const char* path);

/// The suite's routes and upstreams: what runs without GATEWAY_CONFIG.
extern const char* const kDefaultConfig;

}  // namespace gateway
