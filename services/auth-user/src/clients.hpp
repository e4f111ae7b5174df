#pragma once
/// Service accounts (OAuth 2.0 client_credentials, RFC 6749 4.4): an administrator creates a
/// client with its scopes and tier; the client trades its id and secret at POST /oauth/token for
/// an access token signed like a user's (the gateway verifies it with auth-user's JWKS), whose
/// subject is "client:<client_id>" and whose `scope` is what it asked for of its own scopes.
/// Blocking: worker threads only.
#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "suite/db/pool.hpp"

namespace auth {

struct ClientConfig {
  std::chrono::seconds token_ttl{900};
  int max_clients = 1000;  ///< live clients in all
};

/// A client that authenticated: what its token may carry.
struct VerifiedClient {
  std::string client_id, name, tier;
  std::vector<std::string> scopes;
};

class ServiceClients {
 public:
  ServiceClients(suite::db::Pool& pool, ClientConfig config = {}) : pool_(pool), config_(config) {}
  /// 201 body: the client and its secret (shown once). 422 for a bad name, scope or tier; 409
  /// past max_clients.
  nlohmann::json Create(const std::string& admin, const std::string& name, const std::vector<std::string>& scopes,
                        const std::string& tier);
  /// The live clients, newest first (never a secret or its hash).
  nlohmann::json List();
  /// Revokes the client (404 when unknown or revoked already); its tokens end at their `exp`.
  nlohmann::json Revoke(const std::string& client_id);
  /// The client these credentials are, or nullopt (unknown, revoked, or another secret:
  /// compared in constant time). Records last_used_at (at most once a minute).
  std::optional<VerifiedClient> Authenticate(std::string_view client_id, std::string_view secret);
  const ClientConfig& config() const { return config_; }

 private:
  suite::db::Pool& pool_;
  ClientConfig config_;
};

/// A scope: 1 to 64 of A-Z a-z 0-9 and : . _ - / (RFC 6749 3.3 allows more; these are what
/// routes' `require` can name).
bool IsScope(std::string_view s);

/// The scopes a token asks for (`scope`, space-separated; empty: all of the client's) that the
/// client holds; nullopt when it asks for one it does not hold (invalid_scope).
std::optional<std::vector<std::string>> GrantedScopes(const VerifiedClient& client, std::string_view requested);

}  // namespace auth
