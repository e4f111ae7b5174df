#pragma once
/// The internal identity token: the gateway's statement of who is calling, signed with the
/// shared INTERNAL_TOKEN_SECRET and valid for seconds. Services trust nothing else.
#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "suite/security/jwt.hpp"

namespace suite::security {

inline constexpr const char* kIdentityHeader = "x-internal-identity";

struct Identity {
  std::string subject;             ///< user id / username / API-key name
  std::vector<std::string> roles;
  std::string tier;                ///< free | pro | enterprise | anonymous
  std::string method;              ///< api_key | jwt | api_key+jwt | none
  std::string api_key_id;
  std::string client_ip;
  std::vector<std::string> scopes;  ///< the bearer token's (the gateway's route policies)
  std::string issuer;               ///< whose token: auth-user, shared-secret, a configured issuer; empty: none
  /// The body cap the gateway admitted this request under (its tier's, or its route's): the
  /// service reads up to it, within its own BODY_LIMIT_MAX_BYTES. 0: not said.
  std::uint64_t body_limit = 0;
  bool HasRole(std::string_view r) const;
  nlohmann::json ToJson() const;
  static Identity FromJson(const nlohmann::json& j);
};

/// The request a token speaks for: a token is valid for that request id, method and path only.
struct Binding {
  std::string_view request_id, method, path;
};

class IdentitySigner {
 public:
  /// `ttl`: the gateway's upstream timeout (a token need not outlive the request it carries).
  /// Verify refuses tokens that claim more than 600 s, the longest upstream timeout.
  explicit IdentitySigner(std::string secret, std::chrono::seconds ttl = std::chrono::seconds(30))
      : jwt_(std::move(secret)), ttl_(ttl) {}
  std::string Sign(const Identity& id, const Binding& to) const;
  /// Throws JwtError when the token is missing, forged, expired, for another audience or for
  /// another request.
  Identity Verify(std::string_view token, const Binding& to) const;

 private:
  Hs256 jwt_;
  std::chrono::seconds ttl_;
};

}  // namespace suite::security
