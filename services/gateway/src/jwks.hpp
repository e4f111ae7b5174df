#pragma once
/// An issuer's signing keys, as the gateway holds them: auth-user's, fetched from its
/// GET /.well-known/jwks.json, or a configured issuer's (issuers.hpp, oidc_fetch.hpp). Fetched
/// at start, again every `refresh`, and on demand when a token names a key we do not have (at
/// most once every `min_refetch` after a success; one at a time, the requests that asked wait
/// for it). A failed fetch keeps the keys we have (an issuer away must not log everyone out)
/// and is retried after `retry`. One coroutine on the first loop does every fetch, in a
/// `for (;;)`.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "authn.hpp"
#include "issuers.hpp"
#include "suite/http/offload.hpp"
#include "suite/http/client.hpp"
#include "suite/security/es256.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

struct JwksOptions {
  std::chrono::seconds refresh{300};
  std::chrono::seconds retry{2};
  std::chrono::seconds min_refetch{5};
  std::size_t max_document_bytes = 256 * 1024;
};

class JwksCache final : public SigningKeys, public std::enable_shared_from_this<JwksCache> {
 public:
  /// A JWKS document's text, or nullopt when the fetch failed (it logs why).
  using Fetcher = std::function<suite::http::Task<std::optional<std::string>>()>;
  /// auth-user's keys, through its upstream pool.
  JwksCache(boost::asio::io_context& io, suite::http::Upstream& upstream,
            const suite::security::IdentitySigner& signer, JwksOptions options = {});
  /// Any issuer's: `name` for the logs.
  JwksCache(boost::asio::io_context& io, Fetcher fetch, std::string name, JwksOptions options);
  /// Starts the fetching coroutine on `io`: the first fetch now, then on schedule.
  void Start();
  /// Ends it; requests waiting for a fetch are answered with the keys we have. Thread-safe.
  void Stop();
  /// The current keys (an empty set before the first successful fetch). Thread-safe.
  std::shared_ptr<const suite::security::JwkSet> Keys() const override;
  /// Asks for a fetch (held until min_refetch has passed since the last success) and waits for
  /// its end, resuming on the caller's own loop. Callable from any loop.
  suite::http::Task<bool> Refetch() override;

 private:
  /// The one loop of fetches: waits until one is due or asked for, fetches, answers the waiters.
  /// Static, with the cache by the pointer that keeps it alive for as long as the loop runs.
  static suite::http::Task<void> Run(std::shared_ptr<JwksCache> self);
  bool Install(std::string_view jwks);  ///< the fetched document's keys become ours, when usable
  void Wake();  ///< cuts the loop's wait short (from any thread)
  Fetcher fetch_;
  std::string name_;
  JwksOptions options_;
  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;  ///< the loop's wait; used on io_ only
  mutable std::mutex mu_;
  std::shared_ptr<const suite::security::JwkSet> keys_;
  bool asked_ = false, stopped_ = false;
  std::chrono::steady_clock::time_point last_success_{};
  std::vector<std::function<void()>> waiters_;  ///< answered when the fetch under way (or next) ends
};

/// A configured issuer's keys (oidc_fetch.hpp), fetched on `pool` (blocking libcurl: a thread
/// of their own, never a loop).
JwksCache::Fetcher IssuerFetcher(suite::http::Offload& pool, IssuerSpec spec);

}  // namespace gateway
