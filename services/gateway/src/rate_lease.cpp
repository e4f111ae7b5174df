#include "rate_lease.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cmath>
#include <memory>

#include "suite/http/resume.hpp"

namespace gateway {

using suite::http::Task;
using namespace std::chrono_literals;

LeasedRateLimiter::LeasedRateLimiter(RedisRateLimiter& redis, LeaseOptions options, std::size_t loops)
    : redis_(redis), options_(options), tables_(std::max<std::size_t>(1, loops)) {}

std::chrono::milliseconds LeasedRateLimiter::HoldFor(std::chrono::seconds period) const {
  return std::max(1ms, std::min(options_.hold, std::chrono::duration_cast<std::chrono::milliseconds>(period) / 10));
}

int LeasedRateLimiter::LeaseSize(double rate, std::chrono::milliseconds hold, int limit, int holders) {
  const int cap = std::max(1, limit / (4 * std::max(1, holders)));
  if (!(rate > 0)) return 1;
  const double wanted = std::ceil(rate * std::chrono::duration<double>(hold).count());
  return static_cast<int>(std::clamp(wanted, 1.0, static_cast<double>(cap)));
}

// A route's own limit shares the caller's window with its tier's: a lease is good for the one
// limit it was taken under.
std::string LeasedRateLimiter::KeyOf(const LimitRequest& r) {
  std::string key = r.bucket;
  key += '/';
  key += std::to_string(r.limit);
  key += '/';
  key += std::to_string(r.daily_quota);
  return key;
}

bool LeasedRateLimiter::Spend(Bucket& b, SteadyClock::time_point now, Decision& out, long long& left) {
  bool spent = false;
  left = 0;
  for (auto& h : b.held) {
    if (h.until <= now || h.left == 0) continue;  // an expired lease's tokens are never spent
    if (!spent) {
      --h.left;
      spent = true;
    }
    left += h.left;
  }
  if (!spent) return false;
  ++b.spent;
  // What Redis had left at the latest grant, and what this loop still holds.
  out = b.last;
  out.allowed = true;
  out.quota_exceeded = false;
  out.degraded = false;
  out.remaining = static_cast<int>(std::min<long long>(out.limit, out.remaining + left));
  if (out.quota > 0) out.quota_remaining = std::min(out.quota, out.quota_remaining + left);
  return true;
}

int LeasedRateLimiter::NextSize(const Bucket& b, const LimitRequest& r, SteadyClock::time_point now) const {
  double rate = 0;
  if (b.since != SteadyClock::time_point{} && b.spent > 0)
    rate = static_cast<double>(b.spent) / std::max(1e-3, std::chrono::duration<double>(now - b.since).count());
  return LeaseSize(rate, HoldFor(r.period), r.limit, options_.holders);
}

void LeasedRateLimiter::Keep(Table& table, const std::string& key, const LimitRequest& r, Grant grant,
                             SteadyClock::time_point sent, bool spend_one) {
  const int granted = grant.decision.allowed ? grant.decision.granted : 0;
  auto it = table.find(key);
  if (it == table.end()) {
    if (table.size() >= options_.max_buckets) {
      // Full: no lease kept; what this request did not need goes back at once.
      if (granted > (spend_one ? 1 : 0)) redis_.GiveBack(r.bucket, grant, granted - (spend_one ? 1 : 0));
      return;
    }
    it = table.emplace(key, Bucket{.bucket = r.bucket, .since = sent}).first;
  }
  Bucket& b = it->second;
  b.last = grant.decision;
  if (!grant.decision.allowed) {
    // Kept until a slot may free, at most a hold: a caller over its limit costs no trip per request.
    b.refusal = grant.decision;
    b.refused_until = sent + std::min<SteadyClock::duration>(std::chrono::seconds(grant.decision.reset_seconds),
                                                              HoldFor(r.period));
    return;
  }
  b.refused_until = {};
  const int left = granted - (spend_one ? 1 : 0);
  b.held.push_back({std::move(grant), left, sent + HoldFor(r.period)});
}

namespace {
Task<Decision> Ready(Decision d) { co_return d; }
}  // namespace

// Not a coroutine: what the loop decides alone, and the coroutine for what needs Redis.
Task<Decision> LeasedRateLimiter::Check(LimitRequest r) {
  if (options_.min_limit <= 0 || r.limit < options_.min_limit) return redis_.Check(std::move(r));
  auto& table = suite::http::ForThisLoop(tables_);
  const auto now = SteadyClock::now();
  std::string key = KeyOf(r);
  int size = 1;
  if (auto it = table.find(key); it != table.end()) {
    Bucket& b = it->second;
    Decision d;
    long long left = 0;
    if (Spend(b, now, d, left)) {
      // Half spent: the next lease is taken now, in the background, so no request waits on it.
      if (b.taking || b.size <= 1 || left * 2 > b.size) return Ready(d);
      b.taking = true;
      b.size = NextSize(b, r, now);
      b.since = now;
      b.spent = 0;
      return SpentTakingAhead(d, std::move(key), std::move(r), b.size);
    }
    if (now < b.refused_until) return Ready(b.refusal);
    // One lease at a time per caller and loop: while one is being taken, a request takes its
    // own token only, so leases taken together never stack up past the cap.
    if (b.taking) {
      ++b.spent;
      return TakeNow(std::move(r), std::move(key), 1, now, false);
    }
    size = NextSize(b, r, now);
    b.size = size;
    b.since = now;
    b.spent = 0;
    b.taking = true;
  } else if (table.size() >= options_.max_buckets) {
    return redis_.Check(std::move(r));
  } else {
    // A new caller: one request's trip, and its rate is measured from here.
    table.emplace(key, Bucket{.bucket = r.bucket, .since = now, .spent = 1, .size = 1, .taking = true});
  }
  return TakeNow(std::move(r), std::move(key), size, now, true);
}

Task<Decision> LeasedRateLimiter::SpentTakingAhead(Decision d, std::string key, LimitRequest r, int size) {
  SpawnTakeAhead(co_await boost::asio::this_coro::executor, std::move(key), r, size);
  co_return d;
}

// Nothing held: this request waits for a lease that includes its own token.
Task<Decision> LeasedRateLimiter::TakeNow(LimitRequest r, std::string key, int size, SteadyClock::time_point sent,
                                          bool lease) {
  Grant grant = co_await redis_.Take(r, size, HoldFor(r.period));
  auto& table = suite::http::ForThisLoop(tables_);
  const auto it = table.find(key);
  if (lease && it != table.end()) it->second.taking = false;
  if (grant.decision.degraded) {
    // Redis may have granted what never came back (a timed-out call still runs there).
    if (size > 1) redis_.Cancel(r.bucket, grant);
    co_return grant.decision;
  }
  const Decision d = Answer(grant.decision);
  if (size > 1 || !d.allowed) Keep(table, key, r, std::move(grant), sent, true);
  else if (it != table.end()) it->second.last = grant.decision;
  co_return d;
}

// A grant as this request's answer: what is left counts what the lease holds beside its token.
Decision LeasedRateLimiter::Answer(Decision d) {
  if (!d.allowed) return d;
  d.remaining = std::min(d.limit, d.remaining + d.granted - 1);
  if (d.quota > 0) d.quota_remaining = std::min(d.quota, d.quota_remaining + d.granted - 1);
  return d;
}

// Outside the coroutine: GCC 12 warns of a mismatched delete when one frame spawns another.
void LeasedRateLimiter::SpawnTakeAhead(const boost::asio::any_io_executor& ex, std::string key, const LimitRequest& r,
                                       int size) {
  boost::asio::co_spawn(ex, TakeAhead(std::move(key), r, size), boost::asio::detached);
}

Task<void> LeasedRateLimiter::TakeAhead(std::string key, LimitRequest r, int size) {
  const auto sent = SteadyClock::now();
  Grant grant = co_await redis_.Take(r, size, HoldFor(r.period));
  auto& table = suite::http::ForThisLoop(tables_);
  if (auto it = table.find(key); it != table.end()) it->second.taking = false;
  if (grant.decision.degraded) {  // the current lease runs out; then a request asks
    redis_.Cancel(r.bucket, grant);  // what Redis may have granted without the answer arriving
    co_return;
  }
  Keep(table, key, r, std::move(grant), sent, false);
}

Task<long long> LeasedRateLimiter::GiveBackUnused(bool all) {
  struct Unused {
    std::string bucket;
    Grant grant;
    int left;
  };
  std::vector<Unused> unused;
  auto& table = suite::http::ForThisLoop(tables_);
  const auto now = SteadyClock::now();
  for (auto it = table.begin(); it != table.end();) {
    auto& held = it->second.held;
    for (auto h = held.begin(); h != held.end();) {
      if (!all && h->until > now) {
        ++h;
        continue;
      }
      if (h->left > 0) {
        unused.push_back({it->second.bucket, std::move(h->grant), h->left});
        it->second.refused_until = {};  // what Redis refused may be what this loop held
      }
      h = held.erase(h);
    }
    // A caller with nothing held, taken or refused is forgotten (its rate with it).
    if (held.empty() && !it->second.taking && it->second.refused_until <= now) it = table.erase(it);
    else ++it;
  }
  if (unused.empty()) co_return 0;
  co_return co_await suite::http::Resume<long long>([this, &unused](auto done) {
    struct Count {
      std::atomic<std::size_t> pending;
      std::atomic<long long> back{0};
    };
    auto count = std::make_shared<Count>();
    count->pending = unused.size();
    for (const auto& u : unused)
      redis_.GiveBack(u.bucket, u.grant, u.left, [count, done](long long back) {
        count->back += back;
        if (--count->pending == 0) done(count->back.load());
      });
  });
}

void LeasedRateLimiter::Start(const suite::http::Loops& loops) {
  for (auto* loop : loops) boost::asio::co_spawn(*loop, Sweep(*loop), boost::asio::detached);
}

Task<void> LeasedRateLimiter::Sweep(boost::asio::io_context& loop) {
  boost::asio::steady_timer timer(loop);
  while (!stopping_) {
    timer.expires_after(std::max(10ms, options_.hold));
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (stopping_) break;
    co_await GiveBackUnused(false);
  }
}

}  // namespace gateway
