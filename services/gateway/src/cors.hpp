#pragma once
/// CORS as seed 001 configures it (CORS_ORIGINS): listed origins, credentials allowed, the
/// methods the gateway routes, any request header, preflights cached 10 minutes. A preflight
/// (OPTIONS with Access-Control-Request-Method) is answered here, before any credential is
/// asked for: a browser never sends credentials on one. "*" allows any origin, without
/// credentials (a browser refuses credentials with a wildcard, and echoing every origin with
/// credentials would hand any site the user's session).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "context.hpp"
#include "suite/http/message.hpp"

namespace gateway {

class Cors {
 public:
  Cors() = default;  ///< no origin allowed: no CORS headers at all
  /// From "https://app.example.com,http://localhost:3000" or "*"; `error` names a bad entry.
  static Cors Parse(std::string_view list, std::string& error);
  bool enabled() const { return any_ || !origins_.empty(); }
  const std::vector<std::string>& origins() const { return origins_; }
  /// The answer to a preflight, or nullopt when `req` is not one.
  std::optional<suite::http::Response> Preflight(const suite::http::Request& req) const;
  /// Adds the CORS headers for `origin` (the request's Origin) when it is allowed.
  void Decorate(suite::http::Response& res, std::string_view origin) const;
  bool Allows(std::string_view origin) const;

 private:
  bool any_ = false;
  std::vector<std::string> origins_;
};

/// Answers preflights before any credential is asked for; adds the CORS headers of an allowed
/// origin to every answer, refusals included.
class CorsFilter final : public SyncFilter {
 public:
  explicit CorsFilter(Cors cors) : cors_(std::move(cors)) {}
  FilterStatus OnRequest(RequestContext& ctx) override;
  void OnResponse(RequestContext& ctx, suite::http::Response& res) override;

 private:
  const Cors cors_;
};

}  // namespace gateway
