#include "jwks.hpp"

#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
#include "suite/http/resume.hpp"
#include "suite/observability/log.hpp"

namespace gateway {

namespace {
constexpr const char* kPath = "/.well-known/jwks.json";
constexpr std::size_t kMaxWaiters = 10'000;
}

JwksCache::JwksCache(boost::asio::io_context& io, suite::http::UpstreamPool& upstream,
                     const suite::security::IdentitySigner& signer, JwksOptions options)
    : upstream_(upstream), signer_(signer), options_(options), timer_(io),
      keys_(std::make_shared<const suite::security::JwkSet>()) {}

void JwksCache::Start() { RefreshNow(nullptr); }

void JwksCache::Stop() {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    timer_.cancel();
    if (!in_flight_) waiters.swap(waiters_);  // deferred ones; a fetch in flight answers its own
  }
  for (auto& w : waiters) w();
}

std::shared_ptr<const suite::security::JwkSet> JwksCache::Keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

suite::http::Task<bool> JwksCache::Refetch() {
  return suite::http::Resume<bool>([self = shared_from_this()](auto done) { self->RefreshNow([done] { done(true); }); });
}

void JwksCache::RefreshNow(std::function<void()> done) {
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    const auto since = now - last_fetch_;
    if (stopped_ || (done && waiters_.size() >= kMaxWaiters)) {
      // Answer now (with the keys we have).
    } else if (in_flight_) {
      if (done) waiters_.push_back(std::move(done));
      return;
    } else if (last_fetch_ != std::chrono::steady_clock::time_point{} && since < options_.min_refetch) {
      // Fetched a moment ago: the next fetch waits out min_refetch (a flood of unknown kids
      // cannot hammer auth-user), and these requests wait for it.
      if (done) waiters_.push_back(std::move(done));
      if (!deferred_) {
        deferred_ = true;
        timer_.expires_after(options_.min_refetch - since);
        timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
          if (ec) return;
          if (auto self = weak.lock()) self->Due();
        });
      }
      return;
    } else {
      if (done) waiters_.push_back(std::move(done));
      in_flight_ = true;
      done = nullptr;
    }
  }
  if (done) {
    done();
    return;
  }
  Fetch();
}

void JwksCache::Due() {
  {
    std::lock_guard lock(mu_);
    deferred_ = false;
    if (in_flight_ || stopped_) return;
    in_flight_ = true;
  }
  Fetch();
}

void JwksCache::Fetch() {
  suite::http::ClientRequest req;
  req.method = "GET";
  req.target = kPath;
  const std::string rid = suite::core::NewUuid();
  suite::security::Identity self;
  self.subject = "gateway";
  self.method = "service";
  req.headers = {{"x-request-id", rid}, {"x-internal-identity", signer_.Sign(self, {rid, "GET", kPath})}};
  upstream_.Send(std::move(req), [self_ref = shared_from_this()](suite::http::ClientResult r) {
    bool ok = false;
    if (r.status == suite::http::ClientResult::Status::kOk && r.response.status == 200) {
      auto parsed = suite::core::ParseJson(r.response.body, {.max_bytes = 256 * 1024, .max_depth = 8,
                                                             .max_elements = 10'000, .max_string = 4096});
      try {
        if (!parsed.ok()) throw std::invalid_argument(parsed.error);
        auto set = std::make_shared<const suite::security::JwkSet>(suite::security::JwkSet::FromJwks(parsed.value));
        {
          std::lock_guard lock(self_ref->mu_);
          self_ref->keys_ = std::move(set);
        }
        ok = true;
      } catch (const std::exception& e) {
        suite::obs::Warn("JWKS unusable; keeping the keys we have", {{"error", e.what()}});
      }
    } else {
      suite::obs::Warn("JWKS fetch failed; keeping the keys we have",
                       {{"status", r.response.status}, {"error", r.error}});
    }
    self_ref->Finished(ok);
  });
}

void JwksCache::Finished(bool ok) {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(mu_);
    in_flight_ = false;
    // Only a success holds off the next fetch: while auth-user is away, one attempt at a time
    // (requests join the one in flight) is all the load an unknown kid can cause.
    if (ok) last_fetch_ = std::chrono::steady_clock::now();
    waiters.swap(waiters_);
  }
  Schedule(ok ? options_.refresh : options_.retry);
  for (auto& w : waiters) w();  // each waits for an answer, stopping or not
}

void JwksCache::Schedule(std::chrono::seconds after) {
  std::lock_guard lock(mu_);
  if (stopped_) return;
  deferred_ = false;
  timer_.expires_after(after);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->Due();
  });
}

}  // namespace gateway
