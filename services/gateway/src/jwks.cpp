#include "jwks.hpp"

// GCC 12 reports a coroutine frame freed by Asio's operator delete as mismatched with its
// operator new, depending on what it inlines (a false positive, as in streaming_test.cpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "oidc_fetch.hpp"
#include "service_request.hpp"
#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
#include "suite/http/resume.hpp"
#include "suite/observability/log.hpp"

namespace gateway {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
constexpr const char* kPath = "/.well-known/jwks.json";
constexpr std::size_t kMaxWaiters = 10'000;

// Spawned from a plain function: GCC 12 mishandles co_spawn's arguments inside a coroutine.
void Spawn(net::io_context& io, suite::http::Task<void> run) {
  net::co_spawn(io, std::move(run), suite::http::LogException{"jwks refresh"});
}
}  // namespace

namespace {
// auth-user's JWKS, asked as the gateway (its internal identity token).
suite::http::Task<std::optional<std::string>> FetchFromAuthUser(suite::http::Upstream* upstream,
                                                                const suite::security::IdentitySigner* signer) {
  const auto r = co_await upstream->Call(ServiceRequest(*signer, "GET", kPath));
  if (r.status != suite::http::ClientResult::Status::kOk || r.response.status != 200) {
    suite::obs::Warn("JWKS fetch failed; keeping the keys we have",
                     {{"issuer", "auth-user"}, {"status", r.response.status}, {"error", r.error}});
    co_return std::nullopt;
  }
  co_return r.response.body;
}
}  // namespace

JwksCache::JwksCache(net::io_context& io, suite::http::Upstream& upstream,
                     const suite::security::IdentitySigner& signer, JwksOptions options)
    : JwksCache(io, [u = &upstream, s = &signer] { return FetchFromAuthUser(u, s); }, "auth-user", options) {}

JwksCache::JwksCache(net::io_context& io, Fetcher fetch, std::string name, JwksOptions options)
    : fetch_(std::move(fetch)), name_(std::move(name)), options_(options), io_(io), timer_(io),
      keys_(std::make_shared<const suite::security::JwkSet>()) {}

void JwksCache::Start() { Spawn(io_, Run(shared_from_this())); }

void JwksCache::Stop() {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) w();
  Wake();
}

void JwksCache::Wake() {
  net::post(io_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->timer_.cancel();
  });
}

std::shared_ptr<const suite::security::JwkSet> JwksCache::Keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

suite::http::Task<bool> JwksCache::Refetch() {
  return suite::http::Resume<bool>([self = shared_from_this()](auto done) {
    {
      std::lock_guard lock(self->mu_);
      // Stopped, or a flood already waiting: answered now, with the keys we have.
      if (!self->stopped_ && self->waiters_.size() < kMaxWaiters) {
        self->waiters_.push_back([done] { done(true); });
        self->asked_ = true;
        self->Wake();
        return;
      }
    }
    done(true);
  });
}

suite::http::Task<void> JwksCache::Run(std::shared_ptr<JwksCache> self) {
  auto next = Clock::now();  // the first fetch at once
  for (;;) {
    // Until a fetch is due, or was asked for and min_refetch has passed since the last success
    // (a flood of unknown kids cannot hammer auth-user).
    for (;;) {
      auto until = next;
      {
        std::lock_guard lock(self->mu_);
        if (self->stopped_) co_return;
        if (self->asked_) until = std::min(until, self->last_success_ + self->options_.min_refetch);
      }
      if (Clock::now() >= until) break;
      self->timer_.expires_at(until);
      co_await self->timer_.async_wait(net::as_tuple(net::use_awaitable));  // cancelled: asked, or stopping
    }
    // Requests that ask while this fetch is under way wait for its end, as those before it do.
    const auto body = co_await self->fetch_();
    const bool ok = body && self->Install(*body);
    std::vector<std::function<void()>> waiters;
    {
      std::lock_guard lock(self->mu_);
      // Only a success holds off the next fetch: while auth-user is away, one attempt at a time
      // (requests join the one under way) is all the load an unknown kid can cause.
      if (ok) self->last_success_ = Clock::now();
      self->asked_ = false;
      waiters.swap(self->waiters_);
    }
    next = Clock::now() + (ok ? self->options_.refresh : self->options_.retry);
    for (auto& w : waiters) w();  // each resumes on its own loop
  }
}

bool JwksCache::Install(std::string_view body) {
  auto parsed = suite::core::ParseJson(
      body, {.max_bytes = options_.max_document_bytes, .max_depth = 8, .max_elements = 10'000, .max_string = 4096});
  try {
    if (!parsed.ok()) throw std::invalid_argument(parsed.error);
    auto set = std::make_shared<const suite::security::JwkSet>(suite::security::JwkSet::FromJwks(parsed.value));
    std::lock_guard lock(mu_);
    keys_ = std::move(set);
    return true;
  } catch (const std::exception& e) {
    suite::obs::Warn("JWKS unusable; keeping the keys we have", {{"issuer", name_}, {"error", e.what()}});
    return false;
  }
}

namespace {
suite::http::Task<std::optional<std::string>> FetchIssuer(suite::http::Offload* pool,
                                                          std::shared_ptr<const IssuerSpec> spec) {
  std::optional<std::string> body;
  std::string error;
  if (!co_await suite::http::RunOn(*pool, [&] { body = FetchIssuerKeys(*spec, error); }))
    error = "the fetch queue is full";
  if (!body)
    suite::obs::Warn("JWKS fetch failed; keeping the keys we have", {{"issuer", spec->name}, {"error", error}});
  co_return body;
}
}  // namespace

JwksCache::Fetcher IssuerFetcher(suite::http::Offload& pool, IssuerSpec spec) {
  return [pool = &pool, spec = std::make_shared<const IssuerSpec>(std::move(spec))] { return FetchIssuer(pool, spec); };
}

}  // namespace gateway
