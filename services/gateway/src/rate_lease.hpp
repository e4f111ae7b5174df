#pragma once
/// Rate limits without a Redis trip per request. For a limit that is large beside one event
/// loop's share of the traffic, a loop takes a lease of tokens from Redis in one script call and
/// spends them itself; a limit below `min_limit` (seed 003's 10 a minute) keeps one exact trip
/// per request.
///
/// Never more than the limit across replicas: Redis grants a lease only out of what the window
/// has left, and counts it in the window until `hold` after its grant plus the period. Its
/// tokens are spent within `hold` of the grant, so every request a lease admits happens before
/// the time Redis counts it at, and any window of real time holds at most the limit. What a
/// lease did not spend goes back when it expires (the window's sum and the day's count), so an
/// idle caller's quota is not eaten by tokens nobody used.
///
/// A lease is sized from the rate the loop sees for that caller (about one `hold` of it) and
/// capped at limit / (4 × holders), holders being the replicas times their loops, so no loop
/// strands more than a quarter of its share. A new lease is taken in the background once half
/// of the current one is spent, so a steady caller never waits on Redis. A refusal is kept for
/// at most `hold` (or until a slot frees), so a caller over its limit does not cost a trip per
/// request either.
///
/// Each loop keeps its own leases (no lock): call Check and GiveBackUnused on the loop.
#include <atomic>
#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

#include "rate_limiter.hpp"
#include "suite/http/loop.hpp"

namespace gateway {

struct LeaseOptions {
  /// RATE_LIMIT_LEASE_MIN: limits (requests per period) from which a loop leases; below it one
  /// trip per request. 0: never lease.
  int min_limit = 1000;
  /// RATE_LIMIT_LEASE_MS: how long a lease may be spent (at most a tenth of the period).
  std::chrono::milliseconds hold{1000};
  /// Replicas × event loops: who may hold a lease on one bucket at once (the size's cap).
  int holders = 1;
  /// Per loop: past this many callers, a new one takes a trip per request (a million source
  /// addresses cost no memory).
  std::size_t max_buckets = 10'000;
};

class LeasedRateLimiter final : public RateLimitBackend {
 public:
  LeasedRateLimiter(RedisRateLimiter& redis, LeaseOptions options, std::size_t loops = 1);
  suite::http::Task<Decision> Check(LimitRequest request) override;
  /// Gives back what the loop's expired leases did not spend (every lease's with `all`); done
  /// when Redis has them all. Returns the tokens given back.
  suite::http::Task<long long> GiveBackUnused(bool all = false);
  /// On each loop, GiveBackUnused every `hold`, until Stop.
  void Start(const suite::http::Loops& loops);
  void Stop() { stopping_ = true; }

  /// The hold of a lease for a period: `hold`, at most a tenth of the period.
  std::chrono::milliseconds HoldFor(std::chrono::seconds period) const;
  /// The size of a new lease: about one hold of `rate` (requests per second; 0 when unknown),
  /// at least 1, at most limit / (4 × holders).
  static int LeaseSize(double rate, std::chrono::milliseconds hold, int limit, int holders);

 private:
  using SteadyClock = std::chrono::steady_clock;
  struct Held {
    Grant grant;
    int left = 0;
    SteadyClock::time_point until;
  };
  struct Bucket {
    std::string bucket;              ///< the Redis bucket (the table's key adds the limit)
    std::vector<Held> held;          ///< oldest first
    Decision last;                   ///< the latest grant's or refusal's decision
    /// The refusal answered until `refused_until`: a decision of its own, never `last`, which a
    /// single token granted meanwhile (taken beside a refused lease) may have made an admission.
    Decision refusal;
    SteadyClock::time_point refused_until{};
    SteadyClock::time_point since{};  ///< when `spent` started counting (the rate)
    long long spent = 0;
    int size = 0;                    ///< the latest lease's size asked
    bool taking = false;             ///< a lease is being taken (ahead, or by a waiting request)
  };
  using Table = std::unordered_map<std::string, Bucket>;

  static std::string KeyOf(const LimitRequest& r);
  /// A token of a live lease, or nothing; `left`: the live leases' tokens after it.
  static bool Spend(Bucket& b, SteadyClock::time_point now, Decision& out, long long& left);
  int NextSize(const Bucket& b, const LimitRequest& r, SteadyClock::time_point now) const;
  /// `lease`: this is the caller's one lease being taken (Bucket::taking).
  suite::http::Task<Decision> TakeNow(LimitRequest r, std::string key, int size, SteadyClock::time_point sent,
                                      bool lease);
  suite::http::Task<Decision> SpentTakingAhead(Decision d, std::string key, LimitRequest r, int size);
  static Decision Answer(Decision d);
  suite::http::Task<void> TakeAhead(std::string key, LimitRequest r, int size);
  void SpawnTakeAhead(const boost::asio::any_io_executor& ex, std::string key, const LimitRequest& r, int size);
  void Keep(Table& table, const std::string& key, const LimitRequest& r, Grant grant, SteadyClock::time_point sent,
            bool spend_one);
  suite::http::Task<void> Sweep(boost::asio::io_context& loop);

  RedisRateLimiter& redis_;
  const LeaseOptions options_;
  std::vector<Table> tables_;  ///< one per loop
  std::atomic<bool> stopping_{false};
};

}  // namespace gateway
