#include "gateway.hpp"

#include "authn.hpp"
#include "body_limit.hpp"
#include "client_address.hpp"
#include "cors.hpp"
#include "trusted_hosts.hpp"
#include "suite/http/loop.hpp"
#include "suite/observability/log.hpp"
#include "suite/security/api_key.hpp"

namespace gateway {

std::vector<Route> BuildRoutes(const std::vector<RouteSpec>& specs,
                               const std::map<std::string, std::unique_ptr<suite::http::Upstream>>& pools) {
  std::vector<Route> routes;
  for (const auto& spec : specs) {
    Route r;
    r.prefix = spec.prefix;
    for (const auto& m : spec.methods) r.methods += (r.methods.empty() ? "" : ", ") + m;
    r.auth = spec.auth;
    if (spec.upstream != "gateway") r.upstream = pools.at(spec.upstream).get();  // validated with the file
    r.rate_limited = spec.rate_limited;
    r.rate_limit = spec.rate_limit;
    r.body_limit = spec.body_limit;
    r.role = spec.role;
    r.require = spec.require;
    r.pass_authorization = spec.pass_authorization;
    r.unauthenticated_status = spec.unauthenticated_status;
    r.timeout = spec.timeout;
    r.websocket = spec.websocket;
    r.relay = spec.relay;
    routes.push_back(std::move(r));
  }
  return routes;
}

namespace {
// Every loop of every replica may hold a lease on one caller.
LeaseOptions LeaseOptionsFor(const Config& config, std::size_t loops) {
  LeaseOptions o = config.rate_limit_lease;
  o.holders = std::max(1, config.rate_limit_fallback.replicas) * static_cast<int>(std::max<std::size_t>(1, loops));
  return o;
}

std::map<std::string, std::unique_ptr<suite::http::Upstream>> MakePools(const Config& config,
                                                                             const suite::http::Loops& loops) {
  std::map<std::string, std::unique_ptr<suite::http::Upstream>> pools;
  for (const auto& [name, options] : config.upstreams) pools[name] = suite::http::MakeUpstream(loops, options);
  return pools;
}
}  // namespace

Gateway::Gateway(std::shared_ptr<const Config> config, const suite::http::Loops& loops, const suite::http::Router& local,
                 std::vector<suite::redis::Client*> redis, suite::obs::Metrics& metrics,
                 suite::http::Offload& workers)
    : config_(config),
      metrics_(metrics),
      jwt_(config->jwt_secret),
      signer_(config->internal_secret, config->identity_ttl),
      redis_limiter_(std::move(redis), false),
      leased_limiter_(redis_limiter_, LeaseOptionsFor(*config, loops.size()), loops.size()),
      limiter_(leased_limiter_, config->rate_limit_fallback, metrics),
      pools_(MakePools(*config, loops)),
      auth_user_(*pools_.at("auth-user")),
      jwks_(std::make_shared<JwksCache>(*loops.front(), auth_user_, signer_, config->jwks)),
      key_verifier_(auth_user_, signer_),
      user_keys_(key_verifier_, config->user_keys),
      revocations_(*loops.front(), config->redis, "api-key-revocations"),
      proxy_(signer_, local, metrics, config->identity_ttl) {
  if (config->access_events) {
    events_redis_ = std::make_unique<suite::redis::Client>(*loops.front(), config->redis, "access-events");
    events_redis_->Start();
    auto options = config->access_events_spool;
    options.loops = loops.size();  // each loop's events of a turn go out together
    options.at_turn_end = suite::http::AtTurnEnd;
    options.sync_on = &workers;
    events_ = std::make_unique<suite::audit::Publisher>(*events_redis_, std::move(options));
    events_redis_->ExportMetrics(metrics);
    events_->ExportMetrics(metrics);
  }
  for (const auto& [name, pool] : pools_)
    metrics.Expose("gateway_upstream_ejections_total",
                   "Upstream endpoints ejected after failures in a row (passive health), by upstream",
                   suite::obs::Metrics::Kind::kCounter, {{"upstream", name}},
                   [p = pool.get()] { return static_cast<double>(p->ejections()); });
  if (!config->issuers.empty()) {
    issuers_ = IssuerSet(config->issuers);
    issuer_fetches_ = std::make_unique<suite::service::WorkerPool>(
        suite::service::WorkerPool::Options{.threads = 1, .max_queue = 64, .max_wait = std::chrono::seconds(120)});
    foreign_ = std::make_unique<ForeignIssuers>(ForeignIssuers{issuers_, {}, kTokenTiers});
    for (const auto& spec : config->issuers) {
      JwksOptions options{spec.refresh, spec.retry, spec.min_refetch, spec.max_document_bytes};
      issuer_keys_.push_back(
          std::make_shared<JwksCache>(*loops.front(), IssuerFetcher(*issuer_fetches_, spec), spec.name, options));
      foreign_->keys.push_back(issuer_keys_.back().get());
    }
  }
  chain_.store(Build(config));
  leased_limiter_.Start(loops);
  jwks_->Start();
  for (auto& keys : issuer_keys_) keys->Start();
  revocations_.Subscribe({suite::security::kApiKeyRevocations},
                         [this](const std::string&, const std::string& payload) { user_keys_.Revoked(payload); },
                         [this](bool live) { user_keys_.SetLive(live); });
  revocations_.ExportMetrics(metrics);
  revocations_.Start();
}

std::shared_ptr<const Chain> Gateway::Build(std::shared_ptr<const Config> config) {
  const Config& c = *config;
  auto chain = std::make_shared<Chain>(proxy_, c.server.body_limit);
  chain->Keep(config);  // the filters refer to it
  // The order, and why. Adding a filter is one line here.
  // The access event first: its OnResponse comes last and sees every answer, refusals included.
  chain->Add<AccessEventFilter>(events_.get(), metrics_);
  // Who the client is comes first: every later decision (and the log) uses that address.
  if (!c.trusted_proxies.empty()) chain->Add<ClientAddressFilter>(c.trusted_proxies);
  // Cheap refusals first, before any crypto or Redis: a forged Host, then CORS preflights
  // (a browser sends no credentials on one, so they are answered before any are asked for).
  if (!c.trusted_hosts.any()) chain->Add<TrustedHostFilter>(c.trusted_hosts);
  if (c.cors.enabled()) chain->Add<CorsFilter>(c.cors);
  // The route decides the auth policy, the limits and the upstream (and 405 / a bad query).
  chain->Add<RouteFilter>(BuildRoutes(c.routes, pools_));
  // Who is calling decides the tier: the body cap and the bucket come after it. A failed
  // authentication is answered after the rate limit has counted it.
  chain->Add<AuthnFilter>(AuthnFilter::Config{c.api_keys, jwt_, c.jwt, c.es256, foreign_.get()}, *jwks_, &user_keys_);
  // Then whether it may: 403 for a route's role it does not hold, before anything is read.
  chain->Add<AuthorizationFilter>();
  // A declared body past the cap is refused before Redis is asked, and before it is read.
  chain->Add<BodyLimitFilter>(c.body_limits);
  chain->Add<RateLimitFilter>(c.rate_limit, limiter_, metrics_);
  return chain;
}

void Gateway::Reload(std::shared_ptr<const Config> config) {
  if (config->upstreams.size() != config_->upstreams.size() ||
      !std::equal(config->upstreams.begin(), config->upstreams.end(), config_->upstreams.begin(),
                  [](const auto& a, const auto& b) {
                    const auto x = a.second.Endpoints(), y = b.second.Endpoints();
                    return a.first == b.first &&
                           std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const auto& p, const auto& q) {
                             return p.host == q.host && p.port == q.port;
                           });
                  })) {
    suite::obs::Error("configuration not reloaded: upstreams changed (a restart applies them)");
    return;
  }
  if (config->issuers.size() != config_->issuers.size() ||
      !std::equal(config->issuers.begin(), config->issuers.end(), config_->issuers.begin(),
                  [](const auto& a, const auto& b) { return a.name == b.name && a.issuer == b.issuer; }))
    suite::obs::Warn("the issuers change at the next start (the running ones stay)");
  if (config->rate_limit_fallback.mode != config_->rate_limit_fallback.mode ||
      config->rate_limit_fallback.replicas != config_->rate_limit_fallback.replicas)
    suite::obs::Warn("the rate limit's failure mode and replica count change at the next start");
  chain_.store(Build(std::move(config)));
  suite::obs::Info("configuration reloaded");
}

Gateway::~Gateway() {
  leased_limiter_.Stop();  // unspent leases expire in Redis on their own (hold + period)
  if (events_) events_->Stop();  // flushes what Redis takes
  if (events_redis_) events_redis_->Stop();
  revocations_.Stop();
  jwks_->Stop();
  for (auto& keys : issuer_keys_) keys->Stop();
  if (issuer_fetches_) issuer_fetches_->Stop();
}

namespace {
// The chain the request started with stays alive until it is answered; the context lives in
// this one frame (no second coroutine just to hold it).
suite::http::Task<suite::http::Response> RunOn(std::shared_ptr<const Chain> chain, suite::http::RequestPtr req,
                                               suite::http::BodyReader& body, bool events) {
  RequestContext ctx{.request = std::move(req)};
  auto res = co_await chain->Run(ctx, body);
  // The answer leaves after its access event is in the spool (the turn's batch is flushed
  // first): a crash can lose an answer's bytes, never the record of an answer that went out.
  if (events) co_await suite::http::BehindTurnEnd();
  co_return res;
}
}  // namespace

suite::http::HeadHandler Gateway::Handler() const {
  return [this](suite::http::RequestPtr req, suite::http::BodyReader& body) {
    return RunOn(chain_.load(), std::move(req), body, events_ != nullptr);
  };
}

}  // namespace gateway
