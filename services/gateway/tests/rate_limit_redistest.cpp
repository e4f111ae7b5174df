// The rate-limit script against a real Redis: exact limits, the day's quota, and two
// "gateways" (two connections) sharing one bucket under a concurrent burst.
#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>

#include "rate_limiter.hpp"
#include "suite/core/ids.hpp"
#include "suite/testing/clock.hpp"
#include "suite/testing/env.hpp"
#include "suite/testing/loop.hpp"
#include "suite/testing/task.hpp"

using namespace gateway;
using suite::testing::RunTask;

namespace {
// A client connected on its own I/O thread, stopped before that thread ends.
struct Connected {
  suite::testing::IoLoop loop;
  suite::redis::Client client;
  explicit Connected(const std::string& url) : client(loop.runtime.io(), *suite::redis::ParseUrl(url), "test") {
    client.Start();
  }
  ~Connected() { client.Stop(); }
};

LimitRequest Req(const std::string& bucket, int limit, long long quota = 0) {
  return {.bucket = bucket, .limit = limit, .period = std::chrono::seconds(60), .daily_quota = quota};
}
}  // namespace

TEST_CASE("Redis rate limit: exactly the limit, then 429 with the time until a slot frees") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Connected connected(*url);
  auto& redis = connected.client;
  REQUIRE(suite::testing::WaitConnected(redis));
  RedisRateLimiter limiter(redis, true);
  const std::string bucket = "{test:" + suite::core::NewUuid() + "}";
  for (int i = 0; i < 3; ++i) {
    const auto d = RunTask(limiter.Check(Req(bucket, 3)));
    CHECK(d.allowed);
    CHECK(d.remaining == 2 - i);
    CHECK_FALSE(d.degraded);
  }
  const auto refused = RunTask(limiter.Check(Req(bucket, 3)));
  CHECK_FALSE(refused.allowed);
  CHECK_FALSE(refused.quota_exceeded);
  CHECK(refused.reset_seconds >= 59);
  CHECK(refused.reset_seconds <= 60);
}

TEST_CASE("Redis quota: the day's count stops a caller the rate would admit, and expires after midnight") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Connected connected(*url);
  auto& redis = connected.client;
  REQUIRE(suite::testing::WaitConnected(redis));
  // 2026-11-24T23:59:00Z: the quota key of that day, 60 s (plus an hour's margin) to live.
  suite::testing::FakeClock clock(1'795'564'740);
  RedisRateLimiter limiter(redis, true, clock);
  const std::string bucket = "{test:" + suite::core::NewUuid() + "}";
  CHECK(RedisRateLimiter::SecondsToMidnight(clock) == 60);
  for (int i = 0; i < 5; ++i) {
    const auto d = RunTask(limiter.Check(Req(bucket, 100, 5)));
    REQUIRE(d.allowed);
    CHECK(d.quota_remaining == 4 - i);
  }
  const auto over = RunTask(limiter.Check(Req(bucket, 100, 5)));
  CHECK_FALSE(over.allowed);
  CHECK(over.quota_exceeded);
  CHECK(over.quota_reset_seconds == 60);
  CHECK(over.remaining == 95);  // the refusal took no slot of the window
  const auto ttl = suite::testing::Call(redis, {"TTL", RedisRateLimiter::QuotaKey(bucket, clock)});
  CHECK(ttl.integer > 60);
  CHECK(ttl.integer <= 3660);
  // A new day: a new count.
  clock.Advance(std::chrono::seconds(61));
  CHECK(RedisRateLimiter::QuotaKey(bucket, clock) != RedisRateLimiter::QuotaKey(bucket, suite::testing::FakeClock(1'795'564'740)));
  CHECK(RunTask(limiter.Check(Req(bucket, 100, 5))).allowed);
}

TEST_CASE("Redis rate limit: two gateways sharing one Redis admit exactly the limit out of a concurrent burst") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  suite::testing::IoLoop loop;
  suite::redis::Client a(loop.runtime.io(), *suite::redis::ParseUrl(*url), "gw-a");
  suite::redis::Client b(loop.runtime.io(), *suite::redis::ParseUrl(*url), "gw-b");
  a.Start();
  b.Start();
  REQUIRE(suite::testing::WaitConnected(a));
  REQUIRE(suite::testing::WaitConnected(b));
  RedisRateLimiter la(a, true), lb(b, true);
  const std::string bucket = "{test:" + suite::core::NewUuid() + "}";
  boost::asio::io_context io;
  int allowed = 0, refused = 0;
  for (int i = 0; i < 200; ++i) {
    RateLimitBackend& backend = i % 2 == 0 ? static_cast<RateLimitBackend&>(la) : lb;
    boost::asio::co_spawn(io, backend.Check(Req(bucket, 37, 1000)), [&](std::exception_ptr, Decision d) {
      (d.allowed ? allowed : refused) += 1;
    });
  }
  io.run();
  CHECK(allowed == 37);
  CHECK(refused == 163);
  a.Stop();
  b.Stop();
}

TEST_CASE("Redis rate limit: no burst at a window edge (a sliding window, not fixed ones)") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Connected connected(*url);
  auto& redis = connected.client;
  REQUIRE(suite::testing::WaitConnected(redis));
  RedisRateLimiter limiter(redis, true);
  const std::string bucket = "{test:" + suite::core::NewUuid() + "}";
  const LimitRequest r{.bucket = bucket, .limit = 5, .period = std::chrono::seconds(1)};
  auto burst = [&] {
    int allowed = 0;
    for (int i = 0; i < 5; ++i) allowed += RunTask(limiter.Check(r)).allowed ? 1 : 0;
    return allowed;
  };
  CHECK(burst() == 5);
  // 600 ms later, across any fixed one-second boundary there may be: still nothing (a fixed
  // window starting in between would admit 5 more, 10 within one second).
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(burst() == 0);
  // Once the first five are a full second old, five more.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(burst() == 5);
}
