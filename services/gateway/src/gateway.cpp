#include "gateway.hpp"

#include "suite/core/ids.hpp"

#include "forwarding.hpp"
#include "suite/observability/log.hpp"

namespace gateway {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Reply;
using suite::http::RequestPtr;
using suite::http::Response;

namespace {
void SetRateLimitHeaders(Response& res, const Decision& d, bool refused) {
  res.Set("x-ratelimit-limit", std::to_string(d.limit));
  res.Set("x-ratelimit-remaining", refused ? "0" : std::to_string(d.remaining));
  res.Set("x-ratelimit-reset", std::to_string(d.reset_seconds));
}
}  // namespace

Gateway::Gateway(const Config& config, boost::asio::io_context& io, suite::http::Router& local,
                 suite::redis::Client& redis, suite::obs::Metrics& metrics)
    : config_(config),
      local_(local),
      jwt_(config.jwt_secret),
      signer_(config.internal_secret, config.identity_ttl),
      limiter_(redis, config.rate_limit),
      auth_user_(io, config.auth_user),
      processing_(io, config.processing),
      audit_(io, config.audit),
      jwks_(std::make_shared<JwksCache>(io, auth_user_, signer_, config.jwks)) {
  jwks_->Start();
  // TRACE and CONNECT are served nowhere: a TRACE would echo the forwarded credentials.
  constexpr const char* kRest = "GET, POST, PUT, PATCH, DELETE";
  routes_ = {
      {"/process", "POST", Policy::kApiKeyAndJwt, &processing_},
      {"/api/test", "POST", Policy::kAny, &processing_},
      {"/jobs/", kRest, Policy::kAny, &processing_},
      {"/auth/register", "POST", Policy::kPublic, &auth_user_},
      {"/auth/login", "POST", Policy::kPublic, &auth_user_},
      // The refresh token is the credential: the access token may have expired.
      {"/auth/refresh", "POST", Policy::kPublic, &auth_user_},
      {"/auth/logout", "POST", Policy::kPublic, &auth_user_},
      {"/.well-known/jwks.json", "GET", Policy::kPublic, &auth_user_},
      // E-mail links: the token in the mail is the credential.
      {"/auth/verify-email", "GET, POST", Policy::kPublic, &auth_user_},
      {"/auth/resend-verification", "POST", Policy::kPublic, &auth_user_},
      {"/auth/forgot-password", "POST", Policy::kPublic, &auth_user_},
      {"/auth/reset-password", "POST", Policy::kPublic, &auth_user_},
      {"/auth/", kRest, Policy::kAny, &auth_user_},
      {"/users/", kRest, Policy::kAny, &auth_user_},
      {"/api-keys/", kRest, Policy::kAny, &auth_user_},
      {"/audit/", "GET", Policy::kAny, &audit_},
      {"/security/", "GET", Policy::kAny, &audit_},
      // Seed 001's protected endpoints, answered by the gateway itself (upstream nullptr).
      {"/health/detailed", "GET", Policy::kAny, nullptr},
      {"/protected", "GET", Policy::kAny, nullptr},
      {"/api/status", "GET", Policy::kAny, nullptr},
  };
  decisions_ = &prometheus::BuildCounter()
                    .Name("gateway_ratelimit_decisions_total")
                    .Help("Rate-limit decisions: allowed, limited, failed_open, failed_closed")
                    .Register(metrics.registry());
  upstream_errors_ = &prometheus::BuildCounter()
                          .Name("gateway_upstream_errors_total")
                          .Help("Upstream failures by upstream and kind")
                          .Register(metrics.registry());
}

bool Gateway::Route::Allows(std::string_view method) const {
  if (method == "HEAD") method = "GET";
  std::string_view list = methods;
  while (!list.empty()) {
    const auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item == method) return true;
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return false;
}

const Gateway::Route* Gateway::Find(const std::string& path) const {
  for (const auto& r : routes_) {
    if (r.prefix.back() == '/') {
      if (path.compare(0, r.prefix.size(), r.prefix) == 0 || path == r.prefix.substr(0, r.prefix.size() - 1))
        return &r;
    } else if (path == r.prefix) {
      return &r;
    }
  }
  return nullptr;
}

void Gateway::Handle(RequestPtr req, Reply reply) {
  if (!config_.trusted_hosts.any() && !config_.trusted_hosts.Allows(req->Header("host"))) {
    suite::obs::Warn("untrusted host", {{"request_id", req->request_id}, {"client", req->remote_ip}});
    reply(Response::Error(ErrorCode::kBadRequest, "Invalid host header", req->request_id));
    return;
  }
  // CORS: a preflight is answered before any credential is asked for; allowed origins get
  // their headers on every answer, refusals included.
  if (config_.cors.enabled()) {
    if (auto preflight = config_.cors.Preflight(*req)) {
      reply(std::move(*preflight));
      return;
    }
    if (config_.cors.Allows(req->Header("origin")))
      reply = Reply([reply = std::move(reply), origin = std::string(req->Header("origin")), this](Response res) {
        config_.cors.Decorate(res, origin);
        reply(std::move(res));
      }, req->request_id);
  }
  const Route* route = Find(req->path);
  if (route == nullptr) {
    local_.Dispatch(std::move(req), std::move(reply));
    return;
  }
  req->route = route->prefix;
  if (!route->Allows(req->method)) {
    auto res = Response::Error(ErrorCode::kMethodNotAllowed, "Method Not Allowed", req->request_id);
    res.Set("allow", route->methods);
    reply(std::move(res));
    return;
  }
  if (!req->query.empty() && !suite::http::ParseForm(req->query)) {
    reply(Response::Error(ErrorCode::kBadRequest, "Malformed query string", req->request_id));
    return;
  }
  Admit(std::move(req), std::move(reply), *route, false);
}

Gateway::~Gateway() { jwks_->Stop(); }

namespace {
constexpr const char* kInvalidToken = "Bearer realm=\"api\", error=\"invalid_token\"";
}  // namespace

void Gateway::Admit(RequestPtr req, Reply reply, const Route& r, bool retried) {
  const Route* route = &r;
  auto refuse = [&](const ApiError& e, bool invalid_token) {
    suite::obs::Warn("authentication failed", {{"request_id", req->request_id}, {"reason", e.what()},
                                               {"client", req->remote_ip}, {"path", req->path}});
    auto res = Response::Error(e.code(), e.what(), req->request_id);
    if (invalid_token) res.Set("www-authenticate", kInvalidToken);
    reply(std::move(res));
  };
  suite::security::Identity id;
  try {
    // The key set is a locked snapshot: taken only when there is a token to check.
    const auto keys = req->HasHeader("authorization") ? jwks_->Keys() : nullptr;
    id = Authenticate(*req, route->policy, config_.api_keys, {jwt_, config_.jwt, keys.get(), &config_.es256});
  } catch (const UnknownSigningKey& e) {
    if (retried) return refuse(e, true);
    jwks_->RefreshNow([this, req, reply, route] { Admit(req, reply, *route, true); });
    return;
  } catch (const InvalidToken& e) {
    return refuse(e, true);
  } catch (const ApiError& e) {
    return refuse(e, false);
  }
  if (!config_.rate_limit.enabled) {
    Forward(std::move(req), std::move(reply), *route, id, Decision{});
    return;
  }
  // One bucket per caller: API key, else user, else client address.
  const std::string subject = !id.api_key_id.empty() ? "key:" + id.api_key_id
                              : id.method != "none"  ? "user:" + id.subject
                                                     : "ip:" + req->remote_ip;
  limiter_.Check(subject, config_.rate_limit.LimitFor(id.tier), [this, req, reply, route, id](Decision d) {
    const char* outcome = d.degraded ? (d.allowed ? "failed_open" : "failed_closed") : (d.allowed ? "allowed" : "limited");
    decisions_->Add({{"decision", outcome}}).Increment();
    if (!d.allowed) {
      const auto& rl = config_.rate_limit;
      Response res;
      if (d.degraded) {
        res = Response::Error(ErrorCode::kServiceUnavailable, "Rate limiter unavailable, retry shortly", req->request_id);
      } else {
        const std::string message = "Rate limit exceeded. Max " + std::to_string(d.limit) + " requests per " +
                                    std::to_string(rl.period.count()) + "s";
        const nlohmann::json details = {{"limit", d.limit}, {"tier", id.tier}, {"period_seconds", rl.period.count()},
                                        {"retry_after_seconds", d.reset_seconds}};
        res = Response::Error(ErrorCode::kRateLimited, message, req->request_id);
        // Seed 001's 429 body also carries the time of the refusal.
        res.body = suite::core::ErrorBody(ErrorCode::kRateLimited, message, req->request_id, details,
                                          {{"timestamp", suite::core::NowIso()}});
      }
      res.Set("retry-after", std::to_string(d.reset_seconds));
      SetRateLimitHeaders(res, d, true);
      reply(std::move(res));
      return;
    }
    Forward(req, reply, *route, id, d);
  });
}

void Gateway::Forward(RequestPtr req, Reply reply, const Route& route, const suite::security::Identity& id,
                      Decision decision) {
  if (route.upstream == nullptr) {
    req->identity = id.ToJson();
    const bool limited = config_.rate_limit.enabled;
    local_.Dispatch(req, Reply([reply, decision, limited](Response res) {
      if (limited) SetRateLimitHeaders(res, decision, false);
      reply(std::move(res));
    }));
    return;
  }
  suite::http::ClientRequest out;
  out.method = req->method;
  out.target = UpstreamTarget(*req);
  out.headers = UpstreamHeaders(*req, signer_.Sign(id, {req->request_id, req->method, req->path}),
                                Traceparent(*req));
  out.body = std::move(req->body);
  const bool limited = config_.rate_limit.enabled;
  auto* upstream = route.upstream;
  upstream->Send(std::move(out), [this, req, reply, decision, limited, upstream](suite::http::ClientResult r) {
    using Status = suite::http::ClientResult::Status;
    Response res;
    if (r.status == Status::kOk) {
      res.status = r.response.status;
      res.headers = DownstreamHeaders(r.response.headers);
      // A HEAD answer carries the length of the body a GET would get.
      if (req->method == "HEAD")
        if (auto cl = r.response.Header("content-length"); !cl.empty()) res.Set("content-length", std::string(cl));
      res.body = std::move(r.response.body);
    } else {
      const auto& o = upstream->options();
      const std::string name = o.host + ":" + std::to_string(o.port);
      const char* kind = r.status == Status::kTimeout ? "timeout" : r.status == Status::kConnectFailed ? "connect" : "protocol";
      upstream_errors_->Add({{"upstream", name}, {"kind", kind}}).Increment();
      suite::obs::Warn("upstream failed", {{"request_id", req->request_id}, {"upstream", name}, {"error", r.error}});
      if (r.status == Status::kTimeout)
        res = Response::Error(ErrorCode::kUpstreamTimeout, "Upstream service timed out", req->request_id);
      else if (r.status == Status::kConnectFailed)
        res = Response::Error(ErrorCode::kServiceUnavailable, "Upstream service unavailable", req->request_id);
      else
        res = Response::Error(ErrorCode::kUpstreamUnavailable, "Upstream service failed", req->request_id);
      if (res.status == 503) res.Set("retry-after", "1");
    }
    if (limited) SetRateLimitHeaders(res, decision, false);
    reply(std::move(res));
  });
}

}  // namespace gateway
