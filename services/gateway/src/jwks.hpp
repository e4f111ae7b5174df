#pragma once
/// auth-user's signing keys, as the gateway holds them: fetched from its
/// GET /.well-known/jwks.json at start, again every `refresh`, and on demand when a token names
/// a key we do not have (at most once every `min_refetch` after a success; one at a time, the
/// requests that asked wait for it). A failed fetch keeps the keys we have (auth-user down must
/// not log everyone out) and is retried after `retry`.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "authn.hpp"
#include "suite/http/client.hpp"
#include "suite/security/es256.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

struct JwksOptions {
  std::chrono::seconds refresh{300};
  std::chrono::seconds retry{2};
  std::chrono::seconds min_refetch{5};
};

class JwksCache final : public SigningKeys, public std::enable_shared_from_this<JwksCache> {
 public:
  JwksCache(boost::asio::io_context& io, suite::http::UpstreamPool& upstream,
            const suite::security::IdentitySigner& signer, JwksOptions options = {});
  /// First fetch now, then on schedule.
  void Start();
  void Stop();
  /// The current keys (an empty set before the first successful fetch). Thread-safe.
  std::shared_ptr<const suite::security::JwkSet> Keys() const override;
  /// RefreshNow, awaited.
  suite::http::Task<bool> Refetch() override;
  /// Fetches again (once min_refetch has passed since the last success); `done` runs when that
  /// fetch ends. Thread-safe.
  void RefreshNow(std::function<void()> done);

 private:
  void Fetch();
  void Due();  ///< the timer: a scheduled or deferred fetch
  void Finished(bool ok);
  void Schedule(std::chrono::seconds after);
  suite::http::UpstreamPool& upstream_;
  const suite::security::IdentitySigner& signer_;
  JwksOptions options_;
  boost::asio::steady_timer timer_;
  mutable std::mutex mu_;
  std::shared_ptr<const suite::security::JwkSet> keys_;
  bool in_flight_ = false, deferred_ = false, stopped_ = false;
  std::chrono::steady_clock::time_point last_fetch_{};
  std::vector<std::function<void()>> waiters_;
};

}  // namespace gateway
