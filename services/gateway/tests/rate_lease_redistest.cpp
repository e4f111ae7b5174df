// Rate-limit leases against a real Redis: three replicas (each its own Redis connection, I/O
// thread and request loop) sharing one bucket never admit more than the limit together, give
// back exactly what they did not spend, and take few trips for many requests.
#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <future>
#include <atomic>
#include <memory>
#include <thread>

#include "rate_lease.hpp"
#include "suite/core/ids.hpp"
#include "suite/testing/env.hpp"
#include "suite/testing/loop.hpp"
#include "suite/testing/task.hpp"

using namespace gateway;
using namespace std::chrono_literals;
using suite::testing::RunTask;

namespace {

// One gateway replica: its Redis connection on its own I/O thread, and its limiters.
struct Replica {
  suite::testing::IoLoop loop;
  suite::redis::Client client;
  RedisRateLimiter redis;
  LeasedRateLimiter leased;
  Replica(const std::string& url, LeaseOptions options)
      : client(loop.runtime.io(), *suite::redis::ParseUrl(url), "replica"),
        redis(client, false),
        leased(redis, options) {
    client.Start();
  }
  ~Replica() { client.Stop(); }

  // `requests` checks from `concurrency` requests in flight at once, on a thread of its own (a
  // gateway loop); returns how many were admitted.
  int Burst(const LimitRequest& r, int requests, int concurrency) {
    std::atomic<int> allowed{0};
    std::thread t([&] {
      boost::asio::io_context io;
      auto next = std::make_shared<std::atomic<int>>(0);
      for (int c = 0; c < concurrency; ++c)
        boost::asio::co_spawn(
            io,
            [&, next]() -> suite::http::Task<void> {
              while (next->fetch_add(1) < requests)
                if ((co_await leased.Check(r)).allowed) ++allowed;
            },
            boost::asio::detached);
      io.run();
    });
    t.join();
    return allowed;
  }
};

// The window's count of requests, as Redis keeps it.
long long Sum(suite::redis::Client& c, const std::string& bucket) {
  const auto r = suite::testing::Call(c, {"GET", RedisRateLimiter::SumKey(bucket)});
  return r.type == suite::redis::Reply::Type::kString ? std::stoll(r.str) : 0;
}

LimitRequest Req(const std::string& bucket, int limit, long long quota = 0) {
  return {.bucket = bucket, .limit = limit, .period = 60s, .daily_quota = quota};
}

}  // namespace

TEST_CASE("lease size: one hold of the rate, at least 1, at most a quarter of each holder's share") {
  CHECK(LeasedRateLimiter::LeaseSize(0, 1000ms, 1'000'000, 2) == 1);  // no rate known yet
  CHECK(LeasedRateLimiter::LeaseSize(5000, 1000ms, 1'000'000, 2) == 5000);
  CHECK(LeasedRateLimiter::LeaseSize(5000, 200ms, 1'000'000, 2) == 1000);
  CHECK(LeasedRateLimiter::LeaseSize(5000, 1000ms, 2000, 2) == 250);  // 2000 / (4 x 2)
  CHECK(LeasedRateLimiter::LeaseSize(0.5, 1000ms, 2000, 2) == 1);
  CHECK(LeasedRateLimiter::LeaseSize(1e12, 1000ms, 3, 100) == 1);
}

TEST_CASE("three replicas leasing one bucket admit at most the limit, give back the rest, and end at exactly the limit") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  const LeaseOptions options{.min_limit = 100, .hold = 300ms, .holders = 3};
  std::array<std::unique_ptr<Replica>, 3> replicas;
  for (auto& r : replicas) {
    r = std::make_unique<Replica>(*url, options);
    REQUIRE(suite::testing::WaitConnected(r->client));
  }
  const std::string bucket = "{test:" + suite::core::NewUuid() + "}";
  constexpr int kLimit = 2000;
  const auto req = Req(bucket, kLimit);
  // Together: 9,000 requests for 2,000 places, 16 in flight on each replica at once.
  std::array<int, 3> allowed{};
  {
    std::array<std::thread, 3> drivers;
    for (int i = 0; i < 3; ++i) drivers[i] = std::thread([&, i] { allowed[i] = replicas[i]->Burst(req, 3000, 16); });
    for (auto& d : drivers) d.join();
  }
  int admitted = allowed[0] + allowed[1] + allowed[2];
  INFO("admitted " << allowed[0] << " + " << allowed[1] << " + " << allowed[2]);
  CHECK(admitted <= kLimit);
  CHECK(admitted > 0);
  // What the replicas did not spend goes back: Redis then counts exactly what was admitted.
  for (auto& r : replicas) RunTask(r->leased.GiveBackUnused(true));
  CHECK(Sum(replicas[0]->client, bucket) == admitted);
  // Whatever is left is taken by whoever asks, round after round, until nothing is: exactly
  // the limit in all. (A lease that expires before it is spent goes back in the next round.)
  for (int round = 0; round < 50; ++round) {
    int more = 0;
    for (auto& r : replicas) more += r->Burst(req, 400, 4);
    admitted += more;
    for (auto& r : replicas) RunTask(r->leased.GiveBackUnused(true));
    if (more == 0 && Sum(replicas[0]->client, bucket) >= kLimit) break;
    std::this_thread::sleep_for(options.hold);  // past any refusal a replica keeps
  }
  CHECK(admitted == kLimit);
  CHECK(Sum(replicas[0]->client, bucket) == kLimit);
}

TEST_CASE("a leased bucket takes a Redis trip per many requests, a small limit keeps one per request") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Replica replica(*url, {.min_limit = 1000, .hold = 1000ms, .holders = 1});
  REQUIRE(suite::testing::WaitConnected(replica.client));
  const std::string big = "{test:" + suite::core::NewUuid() + "}";
  auto before = replica.redis.calls();
  CHECK(replica.Burst(Req(big, 1'000'000), 5000, 8) == 5000);
  const auto leased_calls = replica.redis.calls() - before;
  INFO("Redis calls for 5000 leased requests: " << leased_calls);
  CHECK(leased_calls < 500);
  RunTask(replica.leased.GiveBackUnused(true));
  CHECK(Sum(replica.client, big) == 5000);

  const std::string small = "{test:" + suite::core::NewUuid() + "}";
  before = replica.redis.calls();
  for (int i = 0; i < 10; ++i) {
    const auto d = RunTask(replica.leased.Check(Req(small, 10)));
    CHECK(d.allowed);
    CHECK(d.remaining == 9 - i);  // exact, request by request
  }
  CHECK_FALSE(RunTask(replica.leased.Check(Req(small, 10))).allowed);
  CHECK(replica.redis.calls() - before == 11);
}

TEST_CASE("leases never pass the day's quota, and what they do not spend is given back to it") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Replica a(*url, {.min_limit = 100, .hold = 1000ms, .holders = 2});
  Replica b(*url, {.min_limit = 100, .hold = 1000ms, .holders = 2});
  REQUIRE(suite::testing::WaitConnected(a.client));
  REQUIRE(suite::testing::WaitConnected(b.client));
  const std::string bucket = "{test:" + suite::core::NewUuid() + "}";
  const auto req = Req(bucket, 100'000, 700);  // the quota binds, not the rate
  int admitted = a.Burst(req, 600, 8) + b.Burst(req, 600, 8);
  CHECK(admitted <= 700);
  RunTask(a.leased.GiveBackUnused(true));
  RunTask(b.leased.GiveBackUnused(true));
  const auto day = suite::testing::Call(a.client, {"GET", RedisRateLimiter::QuotaKey(bucket, suite::core::Clock::System())});
  REQUIRE(day.type == suite::redis::Reply::Type::kString);
  CHECK(std::stoll(day.str) == admitted);
  // The rest goes to whoever asks, until nothing is left (a lease that expired unspent goes
  // back between rounds).
  for (int round = 0; round < 50; ++round) {
    const int more = a.Burst(req, 600, 1);
    admitted += more;
    RunTask(a.leased.GiveBackUnused(true));
    if (more == 0) break;
    std::this_thread::sleep_for(1000ms);  // past the refusal the replica keeps
  }
  CHECK(admitted == 700);
  const auto refused = RunTask(a.leased.Check(req));
  CHECK_FALSE(refused.allowed);
  CHECK(refused.quota_exceeded);
}

TEST_CASE("a lease given back after it left the window gives nothing back") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Replica replica(*url, {.min_limit = 10, .hold = 100ms, .holders = 1});
  REQUIRE(suite::testing::WaitConnected(replica.client));
  const std::string bucket = "{test:" + suite::core::NewUuid() + "}";
  const LimitRequest r{.bucket = bucket, .limit = 100, .period = 1s};
  Grant g = RunTask(replica.redis.Take(r, 40, 100ms));
  REQUIRE(g.decision.allowed);
  CHECK(g.decision.granted == 40);
  CHECK(g.decision.remaining == 60);
  CHECK(Sum(replica.client, bucket) == 40);
  // Counted for the hold plus the period, then gone from the window: nothing to give back.
  std::this_thread::sleep_for(1200ms);
  std::promise<long long> back;
  replica.redis.GiveBack(bucket, g, 40, [&](long long n) { back.set_value(n); });
  CHECK(back.get_future().get() == 0);
  const auto d = RunTask(replica.redis.Check(r));
  CHECK(d.allowed);
  CHECK(d.remaining == 99);
}

TEST_CASE("a lease whose answer never came is taken back whole, once, by its id") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Replica replica(*url, {.min_limit = 10, .hold = 1000ms, .holders = 1});
  REQUIRE(suite::testing::WaitConnected(replica.client));
  const std::string bucket = "{test:" + suite::core::NewUuid() + "}";
  const auto req = Req(bucket, 100, 500);
  Grant g = RunTask(replica.redis.Take(req, 40, 1000ms));
  REQUIRE(g.decision.granted == 40);
  CHECK(Sum(replica.client, bucket) == 40);
  auto cancel = [&](const Grant& grant) {
    std::promise<long long> back;
    replica.redis.Cancel(bucket, grant, [&](long long n) { back.set_value(n); });
    return back.get_future().get();
  };
  CHECK(cancel(g) == 40);
  CHECK(Sum(replica.client, bucket) == 0);
  const auto day = suite::testing::Call(replica.client, {"GET", g.quota_key});
  CHECK(day.str == "0");  // the day's count gave it back too
  CHECK(cancel(g) == 0);  // once
  Grant unknown = g;
  unknown.id = suite::core::NewUuid();
  CHECK(cancel(unknown) == 0);  // never granted: nothing taken back
  const auto d = RunTask(replica.redis.Check(req));
  CHECK(d.allowed);
  CHECK(d.remaining == 99);
}
