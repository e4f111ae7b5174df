#include "authn.hpp"

#include "suite/core/error.hpp"
#include "suite/observability/log.hpp"
#include "suite/security/api_key.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::http::Task;
using suite::core::ErrorCode;
using suite::security::Identity;

namespace {


std::optional<std::string_view> BearerToken(const suite::http::Request& req) {
  auto h = req.Header("authorization");
  if (h.size() < 7) return std::nullopt;
  std::string scheme(h.substr(0, 7));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return std::nullopt;
  auto token = h.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return token;
}

void ApplyKey(Identity& id, const ApiKey& key) {
  id.api_key_id = key.name;
  id.tier = key.tier;
  if (id.subject.empty()) id.subject = key.subject.empty() ? "api-key:" + key.name : key.subject;
  // A key auth-user issued acts for its owner, with the roles auth-user vouched for.
  for (const auto& role : key.roles)
    if (!id.HasRole(role)) id.roles.push_back(role);
}

// auth-user's tokens (roles, and OAuth's space-separated `scope`), or a shared-secret one.
VerifiedToken FromClaims(const nlohmann::json& claims, bool from_jwks) {
  VerifiedToken t;
  t.from_jwks = from_jwks;
  t.issuer = from_jwks ? "auth-user" : "shared-secret";
  if (claims.contains("sub") && claims["sub"].is_string()) t.subject = claims["sub"].get<std::string>();
  if (claims.contains("roles") && claims["roles"].is_array())
    for (const auto& r : claims["roles"])
      if (r.is_string()) t.roles.push_back(r.get<std::string>());
  if (from_jwks) {
    if (const auto scope = claims.find("scope"); scope != claims.end()) t.scopes = ClaimValues(&*scope);
    // A service account's token carries the tier its administrator gave it.
    if (const auto tier = claims.find("tier"); tier != claims.end() && tier->is_string() &&
                                               kTokenTiers.count(tier->get_ref<const std::string&>()))
      t.tier = tier->get<std::string>();
  }
  return t;
}

// `token` is this request's own copy (verified now, or taken from the cache): moved, not copied.
void ApplyJwt(Identity& id, VerifiedToken& token) {
  if (token.subject) id.subject = std::move(*token.subject);
  if (token.from_jwks)  // roles only from published keys
    for (auto& r : token.roles) id.roles.push_back(std::move(r));
  id.scopes = std::move(token.scopes);
  id.issuer = std::move(token.issuer);
}

// A token signed with a key its configured issuer has not published (yet).
class ForeignUnknownKey : public suite::security::UnknownKeyError {
 public:
  ForeignUnknownKey(const std::string& what, int issuer) : UnknownKeyError(what), issuer(issuer) {}
  int issuer;
};

void Cache(std::string_view token, const VerifiedToken& verified, const nlohmann::json& claims,
           const suite::security::JwtOptions& options, TokenCache* cache, std::chrono::system_clock::time_point now) {
  if (cache != nullptr && claims.contains("exp") && claims["exp"].is_number_integer())
    cache->Put(token, verified,
               std::chrono::system_clock::time_point(std::chrono::seconds(claims["exp"].get<std::int64_t>())) +
                   options.leeway,
               now);
}

// A bearer token's claims: from the cache, or verified (and then cached until its exp).
VerifiedToken Verify(std::string_view token, const JwtVerifiers& jwt) {
  const auto now = std::chrono::system_clock::now();
  if (jwt.cache != nullptr)
    if (auto hit = jwt.cache->Find(token, now)) return std::move(*hit);
  // Split once; the header's alg only picks the verifier, each pins its own algorithm.
  const auto parts = suite::security::detail::SplitToken(token);
  const auto alg = parts.header.find("alg");
  const bool asymmetric = alg != parts.header.end() && alg->is_string() &&
                          suite::security::IsAsymmetricJwsAlgorithm(alg->get_ref<const std::string&>());
  // A configured issuer's token, by its `iss` (not trusted yet: it only picks the keys, which
  // then check it): any `iss` but auth-user's must be a configured issuer's, or the token is
  // refused before any key is fetched.
  if (asymmetric && jwt.foreign != nullptr && !jwt.foreign->set.empty()) {
    const auto iss = PeekIssuer(parts.payload);
    const bool auth_user = jwt.es256_options && jwt.es256_options->issuer && iss == jwt.es256_options->issuer;
    if (iss && !auth_user) {
      const int i = jwt.foreign->set.Find(*iss);
      if (i < 0) throw suite::security::JwtError("Invalid issuer");
      const auto index = static_cast<std::size_t>(i);
      const auto& options = jwt.foreign->set.options(index);
      nlohmann::json claims;
      try {
        claims = jwt.foreign->keys[index]->Keys()->Verify(parts, options, now);
      } catch (const suite::security::UnknownKeyError& e) {
        throw ForeignUnknownKey(e.what(), i);
      }
      auto verified = MapClaims(jwt.foreign->set.spec(index), claims, jwt.foreign->tiers);
      Cache(token, verified, claims, options, jwt.cache, now);
      return verified;
    }
  }
  const bool from_jwks = jwt.es256 && jwt.es256_options && asymmetric;
  const auto& options = from_jwks ? *jwt.es256_options : jwt.hs256_options;
  const auto claims = from_jwks ? jwt.es256->Verify(parts, options, now) : jwt.hs256.Verify(parts, options, now);
  auto verified = FromClaims(claims, from_jwks);
  Cache(token, verified, claims, options, jwt.cache, now);
  return verified;
}

}  // namespace

std::optional<std::string> PresentedKey(const suite::http::Request& req) {
  if (req.HasHeader("x-api-key")) return std::string(req.Header("x-api-key"));
  if (auto q = req.Query("api_key")) return q;
  return std::nullopt;
}

Identity Authenticate(const suite::http::Request& req, AuthPolicy policy, const ApiKeyStore& keys,
                      const JwtVerifiers& jwt) {
  PresentedApiKey key;
  if (policy != AuthPolicy::kNone)
    if (const auto presented = PresentedKey(req)) {
      key.presented = true;
      key.found = keys.Find(*presented);
    }
  return Authenticate(req, policy, key, jwt);
}

Identity Authenticate(const suite::http::Request& req, AuthPolicy policy, const PresentedApiKey& presented_key,
                      const JwtVerifiers& jwt) {
  Identity id;
  id.client_ip = req.remote_ip;
  id.tier = "anonymous";
  id.method = "none";
  if (policy == AuthPolicy::kNone) return id;

  const std::optional<ApiKey>& key = presented_key.found;
  if (presented_key.presented && !key) throw ApiError(ErrorCode::kUnauthenticated, "Invalid API key");
  const auto token = BearerToken(req);
  std::optional<VerifiedToken> claims;
  const bool key_required = policy == AuthPolicy::kApiKeyAndJwt || policy == AuthPolicy::kApiKey;
  const bool jwt_required = policy == AuthPolicy::kApiKeyAndJwt || policy == AuthPolicy::kJwt;
  if (key_required && !key)
    throw ApiError(ErrorCode::kUnauthenticated, "API key required (query param 'api_key' or header 'X-API-Key')");
  if (token && policy != AuthPolicy::kApiKey) {
    try {
      claims = Verify(*token, jwt);
    } catch (const ForeignUnknownKey& e) {
      throw UnknownSigningKey(std::string("Invalid JWT token: ") + e.what(), e.issuer);
    } catch (const suite::security::UnknownKeyError& e) {
      throw UnknownSigningKey(std::string("Invalid JWT token: ") + e.what());
    } catch (const suite::security::JwtError& e) {
      throw InvalidToken(std::string("Invalid JWT token: ") + e.what());
    }
  } else if (jwt_required || (!key && policy == AuthPolicy::kAny)) {
    throw ApiError(ErrorCode::kUnauthenticated,
                   jwt_required ? "JWT required (header 'Authorization: Bearer <token>')"
                                : "Authentication required (API key or 'Authorization: Bearer <token>')");
  }
  if (claims) ApplyJwt(id, *claims);
  if (key) ApplyKey(id, *key);
  if (key && claims) id.method = "api_key+jwt";
  else id.method = key ? "api_key" : "jwt";
  // Without a key, the tier is the token's issuer's say (a configured issuer's tier claim or
  // default), else seed 000's free.
  if (!key) id.tier = claims && claims->tier ? *claims->tier : "free";
  return id;
}

namespace {
// A refused caller is limited as who it provably is: an address. A route that keeps seed 001's
// status answers 403 with the same message (and no challenge: 403 asks for none).
FilterStatus Refused(RequestContext& ctx, const ApiError& e, std::string_view why) {
  auto& id = ctx.identity;
  id = Identity{};
  id.client_ip = ctx.req().remote_ip;
  id.tier = "anonymous";
  id.method = "none";
  if (ctx.route->unauthenticated_status == 403 && e.code() == ErrorCode::kUnauthenticated)
    return ctx.Defer(ApiError(ErrorCode::kForbidden, e.what()), why);
  return ctx.Defer(e, why);
}
}  // namespace

std::optional<FilterStatus> AuthnFilter::Try(RequestContext& ctx, const PresentedApiKey& key, bool last, int& issuer) {
  const auto& req = ctx.req();
  try {
    // The key set is a locked snapshot: taken only when there is a token to check.
    const auto keys = req.HasHeader("authorization") ? keys_.Keys() : nullptr;
    ctx.identity = Authenticate(req, ctx.route->auth, key,
                                {config_.hs256, config_.hs256_options, keys.get(), &config_.es256_options, &tokens_,
                                 config_.foreign});
    return FilterStatus::kContinue;
  } catch (const UnknownSigningKey& e) {
    issuer = e.issuer;
    if (!last) return std::nullopt;
    suite::obs::Warn("authentication failed", {{"request_id", req.request_id}, {"reason", e.what()},
                                               {"client", req.remote_ip}, {"path", req.path}});
    return Refused(ctx, e, "unknown_signing_key");
  } catch (const suite::core::ApiError& e) {
    suite::obs::Warn("authentication failed", {{"request_id", req.request_id}, {"reason", e.what()},
                                               {"client", req.remote_ip}, {"path", req.path}});
    return Refused(ctx, e, dynamic_cast<const InvalidToken*>(&e) != nullptr ? "invalid_token" : "unauthenticated");
  }
}

Task<FilterStatus> AuthnFilter::OnRequest(RequestContext& ctx) {
  PresentedApiKey key;
  if (ctx.route->auth != AuthPolicy::kNone)
    if (auto presented = PresentedKey(ctx.req())) {
      key.presented = true;
      key.found = config_.api_keys.Find(*presented);
      if (!key.found && user_keys_ != nullptr && suite::security::IsApiKeyShaped(*presented)) {
        const KeyCheck check = co_await user_keys_->Find(std::move(*presented), ctx.req().remote_ip);
        if (check.verdict == KeyVerdict::kValid) key.found = check.key;
        if (check.verdict == KeyVerdict::kUnavailable)
          co_return ctx.Refuse(ApiError(ErrorCode::kServiceUnavailable, "API key verification unavailable, retry shortly")
                                   .RetryAfter(std::chrono::seconds(1)),
                               "key_verification_unavailable");
        if (check.verdict == KeyVerdict::kThrottled)
          co_return ctx.Refuse(ApiError(ErrorCode::kRateLimited, "Too many invalid API keys from this address")
                                   .RetryAfter(std::chrono::seconds(60)),
                               "key_lookups_throttled");
      }
    }
  int issuer = -1;
  if (auto decided = Try(ctx, key, false, issuer)) co_return *decided;
  // The keys of the issuer whose token named an unknown kid: fetched again (at most once per
  // min_refetch), then the token is checked once more.
  if (issuer >= 0 && config_.foreign != nullptr)
    co_await config_.foreign->keys[static_cast<std::size_t>(issuer)]->Refetch();
  else
    co_await keys_.Refetch();
  co_return *Try(ctx, key, true, issuer);
}

}  // namespace gateway
