#pragma once
/// Who is calling: seed 000's dual authentication (API key from `api_key` or X-API-Key, and
/// a bearer JWT with `exp`), or either one, or nobody, as the route's policy says.
/// Roles come only from tokens signed with published keys (auth-user's, or a configured
/// issuer's, where its configuration says): a shared-secret HS256 token (seed 000)
/// authenticates its holder but grants no role (whoever has JWT_SECRET could mint any).
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api_keys.hpp"
#include "issuers.hpp"
#include "routes.hpp"
#include "token_cache.hpp"
#include "user_keys.hpp"
#include "suite/http/message.hpp"
#include "suite/security/identity.hpp"
#include "suite/security/es256.hpp"
#include "suite/security/jwt.hpp"

namespace gateway {

/// Where an issuer's signing keys come from (the JWKS cache; a fixed set in tests).
class SigningKeys {
 public:
  virtual ~SigningKeys() = default;
  /// The current keys (a snapshot; never null).
  virtual std::shared_ptr<const suite::security::JwkSet> Keys() const = 0;
  /// Fetches them again (rate-limited by the source) and resumes when that fetch has ended.
  virtual suite::http::Task<bool> Refetch() = 0;
};

/// The issuers configured beside auth-user (issuers.hpp), each with its keys.
struct ForeignIssuers {
  const IssuerSet& set;
  std::vector<SigningKeys*> keys;  ///< by the issuer's index in `set`
  std::set<std::string> tiers;     ///< the tiers a token's tier claim may name
};

/// How bearer tokens are checked: HS256 with the shared secret (seed 000), an asymmetric
/// algorithm with auth-user's published keys (its access tokens) or, when the token's `iss` is a
/// configured issuer's, with that issuer's keys; each with its own options.
struct JwtVerifiers {
  const suite::security::Hs256& hs256;
  const suite::security::JwtOptions& hs256_options;  ///< lifetime cap (JWT_MAX_LIFETIME_SECONDS)
  const suite::security::JwkSet* es256 = nullptr;              ///< auth-user's JWKS: ES256 and RS256 keys
  const suite::security::JwtOptions* es256_options = nullptr;  ///< issuer and audience of auth-user's tokens
  TokenCache* cache = nullptr;  ///< tokens that verified (nullptr: check every time)
  const ForeignIssuers* foreign = nullptr;  ///< the configured issuers (nullptr: none)
};

/// A bearer token that does not verify: 401 with `WWW-Authenticate: Bearer error="invalid_token"`
/// (RFC 6750 3.1).
class InvalidToken : public suite::core::ApiError {
 public:
  explicit InvalidToken(std::string message)
      : ApiError(suite::core::ErrorCode::kUnauthenticated, std::move(message)) {
    Challenge("Bearer realm=\"api\", error=\"invalid_token\"");
  }
};

/// A token signed with a key the gateway does not hold yet: fetch the keys, then try again.
class UnknownSigningKey : public InvalidToken {
 public:
  /// `issuer`: the configured issuer's index whose keys to fetch; -1: auth-user's.
  explicit UnknownSigningKey(std::string message, int issuer = -1) : InvalidToken(std::move(message)), issuer(issuer) {}
  int issuer;
};

/// Throws ApiError(kUnauthenticated) with the seed's messages (UnknownSigningKey for an ES256
/// token whose kid is not among the keys).
/// The API key a request presents (X-API-Key, else the api_key query parameter), if any.
std::optional<std::string> PresentedKey(const suite::http::Request& req);

struct PresentedApiKey {
  bool presented = false;
  std::optional<ApiKey> found;  ///< what it is, when it is one
};

/// With the presented key already looked up (static, or verified by auth-user).
suite::security::Identity Authenticate(const suite::http::Request& req, AuthPolicy policy,
                                       const PresentedApiKey& key, const JwtVerifiers& jwt);
/// The same, looking the key up among the static ones.
suite::security::Identity Authenticate(const suite::http::Request& req, AuthPolicy policy,
                                       const ApiKeyStore& keys, const JwtVerifiers& jwt);

/// Establishes `ctx.identity` by the route's policy: 401 (with its WWW-Authenticate) otherwise.
/// A token signed with a key we do not hold yet: the keys are fetched again, and the token is
/// checked once more.
class AuthnFilter final : public AsyncFilter {
 public:
  struct Config {
    const ApiKeyStore& api_keys;
    const suite::security::Hs256& hs256;
    const suite::security::JwtOptions& hs256_options;
    const suite::security::JwtOptions& es256_options;
    const ForeignIssuers* foreign = nullptr;  ///< the configured issuers
  };
  /// `user_keys`: keys auth-user issued (nullptr: static keys only).
  AuthnFilter(Config config, SigningKeys& keys, UserKeys* user_keys = nullptr)
      : config_(config), keys_(keys), user_keys_(user_keys) {}
  suite::http::Task<FilterStatus> OnRequest(RequestContext& ctx) override;

 private:
  /// nullopt: an unknown signing key (`issuer` says whose: -1 auth-user, else a configured one).
  std::optional<FilterStatus> Try(RequestContext& ctx, const PresentedApiKey& key, bool last, int& issuer);
  Config config_;
  TokenCache tokens_;
  SigningKeys& keys_;
  UserKeys* user_keys_;
};

}  // namespace gateway
