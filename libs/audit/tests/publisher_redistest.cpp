#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "suite/audit/publisher.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/server.hpp"
#include "suite/testing/env.hpp"
#include "suite/testing/loop.hpp"
#include "suite/testing/redis_servers.hpp"

using namespace suite;

using suite::testing::Call;

namespace {
// Process event number n (its request id carries the number).
audit::Event Numbered(int n) {
  return {.service = "test", .request_id = "r" + std::to_string(n), .record = audit::ProcessRecord{.http_status = 200}};
}
std::string RequestIdOf(const std::string& line) {
  std::string why;
  const auto e = audit::Event::Parse(line, why);
  return e ? e->request_id : "unparsed: " + why;
}
}  // namespace

TEST_CASE("events reach the stream in order, with ids and timestamps added") {
  auto url = testing::ServerUrl("REDIS_URL");
  if (!url) return;
  testing::IoLoop loop;
  redis::Client client(loop.runtime.io(), *redis::ParseUrl(*url), "test");
  client.Start();
  REQUIRE(testing::WaitConnected(client));
  const std::string stream = "test.audit." + core::NewUuid();
  {
    audit::Publisher pub(client, {.stream = stream, .batch = 16});
    for (int i = 0; i < 50; ++i) pub.Publish(Numbered(i));
    for (int i = 0; i < 300 && !pub.Drained(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(pub.Drained());
    CHECK(pub.published() == 50);
    CHECK(pub.dropped() == 0);
  }
  auto range = Call(client, {"XRANGE", stream, "-", "+"});
  REQUIRE(range.elements.size() == 50);
  for (int i = 0; i < 50; ++i) {
    const auto& fields = range.elements[i].elements[1].elements;
    REQUIRE(fields.size() == 2);
    CHECK(fields[0].str == "event");
    std::string why;
    const auto e = audit::Event::Parse(fields[1].str, why);
    REQUIRE(e);
    CHECK(e->request_id == "r" + std::to_string(i));
    CHECK(e->event_id.size() == 36);
    CHECK(!e->timestamp.empty());
  }
  Call(client, {"DEL", stream});
  client.Stop();
}

TEST_CASE("a full spool drops and counts instead of blocking the caller") {
  auto url = testing::ServerUrl("REDIS_URL");
  if (!url) return;
  testing::IoLoop loop;
  auto bad = *redis::ParseUrl(*url);
  bad.port = 1;  // nothing listens: events stay in the spool
  redis::Client client(loop.runtime.io(), bad, "down");
  client.Start();
  {
    // Room for 10 events (each line has 16 bytes of framing).
    auto event = Numbered(0);
    event.event_id = core::NewUuid();
    event.timestamp = core::NowIso();
    audit::Publisher pub(client, {.spool_bytes = 10 * (event.ToLine().size() + 16)});
    for (int i = 0; i < 15; ++i) pub.Publish(event);
    CHECK(pub.dropped() == 5);
    CHECK_FALSE(pub.Drained());  // in memory: stopping now would lose them
  }
  client.Stop();
}

TEST_CASE("events published while Redis is away wait in the spool file, across a restart, and arrive in order") {
  auto url = testing::ServerUrl("REDIS_URL");
  if (!url) return;
  const std::string dir = "/tmp/publisher-spool-" + core::RandomHex(6);
  const std::string stream = "test.audit." + core::NewUuid();
  testing::IoLoop loop;
  {
    auto bad = *redis::ParseUrl(*url);
    bad.port = 1;
    redis::Client down(loop.runtime.io(), bad, "down");
    down.Start();
    audit::Publisher pub(down, {.stream = stream, .spool_dir = dir, .spool_name = "test"});
    for (int i = 0; i < 300; ++i) pub.Publish(Numbered(i));
    CHECK(pub.Drained());  // Redis is away and the events are on disk: stopping loses nothing
    CHECK(pub.spool().pending() == 300);
    pub.Stop();
    down.Stop();
  }
  redis::Client client(loop.runtime.io(), *redis::ParseUrl(*url), "test");
  client.Start();
  REQUIRE(testing::WaitConnected(client));
  {
    audit::Publisher pub(client, {.stream = stream, .batch = 32, .spool_dir = dir, .spool_name = "test"});
    CHECK(pub.spool().recovered() == 300);
    for (int i = 300; i < 310; ++i) pub.Publish(Numbered(i));
    for (int i = 0; i < 500 && pub.spool().pending() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(pub.published() == 310);
  }
  auto range = Call(client, {"XRANGE", stream, "-", "+"});
  REQUIRE(range.elements.size() == 310);
  for (int i = 0; i < 310; ++i)
    CHECK(RequestIdOf(range.elements[i].elements[1].elements[1].str) == "r" + std::to_string(i));
  Call(client, {"DEL", stream});
  client.Stop();
  std::filesystem::remove_all(dir);
}

TEST_CASE("a loop's events of one turn go out as one entry (field events), in order, and Stop spools what is left") {
  auto url = testing::ServerUrl("REDIS_URL");
  if (!url) return;
  testing::IoLoop loop;
  redis::Client client(loop.runtime.io(), *redis::ParseUrl(*url), "test");
  client.Start();
  REQUIRE(testing::WaitConnected(client));
  const std::string stream = "test.audit." + core::NewUuid();
  std::vector<std::function<void()>> turn_ends;  // what each loop would run at its turn's end
  {
    audit::Publisher pub(client, {.stream = stream, .batch = 16, .loops = 2,
                                  .at_turn_end = [&](std::function<void()> fn) { turn_ends.push_back(std::move(fn)); }});
    for (int i = 0; i < 5; ++i) pub.PublishOnLoop(Numbered(i), 0);
    pub.PublishOnLoop(Numbered(100), 1);
    CHECK(turn_ends.size() == 2);  // one flush asked per loop and turn, not per event
    CHECK(pub.spool().pending() == 0);
    for (auto& fn : turn_ends) fn();
    turn_ends.clear();
    CHECK(pub.spool().pending() == 2);
    pub.PublishOnLoop(Numbered(5), 0);  // a turn the loop never ended: Stop takes it
    for (int i = 0; i < 300 && pub.published() < 6; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(pub.published() == 6);
    pub.Stop();
    for (int i = 0; i < 300 && !pub.Drained(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto range = Call(client, {"XRANGE", stream, "-", "+"});
  REQUIRE(range.elements.size() >= 2);
  const auto& first = range.elements[0].elements[1].elements;
  REQUIRE(first.size() == 2);
  CHECK(first[0].str == "events");
  std::vector<std::string> ids;
  std::string_view lines = first[1].str;
  for (std::size_t end; !lines.empty(); lines = end == std::string_view::npos ? "" : lines.substr(end + 1)) {
    end = lines.find('\n');
    ids.push_back(RequestIdOf(std::string(lines.substr(0, end))));
  }
  CHECK(ids == std::vector<std::string>{"r0", "r1", "r2", "r3", "r4"});
  const auto& second = range.elements[1].elements[1].elements;
  CHECK(second[0].str == "event");  // one event: the single-event field
  CHECK(RequestIdOf(second[1].str) == "r100");
  Call(client, {"DEL", stream});
  client.Stop();
}

TEST_CASE("at its cap the stream refuses entries, their events wait in the spool in order and go once it is trimmed") {
  auto url = testing::ServerUrl("REDIS_URL");
  if (!url) return;
  testing::IoLoop loop;
  redis::Client client(loop.runtime.io(), *redis::ParseUrl(*url), "test");
  client.Start();
  REQUIRE(testing::WaitConnected(client));
  const std::string stream = "test.audit." + core::NewUuid();
  {
    audit::Publisher pub(client, {.stream = stream, .batch = 1, .stream_max = 5, .linger = std::chrono::microseconds(0)});
    for (int i = 0; i < 12; ++i) pub.Publish(Numbered(i));
    for (int i = 0; i < 300 && !(pub.published() == 5 && pub.stream_full()); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(pub.published() == 5);
    CHECK(pub.stream_full());
    CHECK(Call(client, {"XLEN", stream}).integer == 5);  // never past the cap, nothing trimmed
    CHECK(pub.spool().pending() == 7);
    CHECK(pub.dropped() == 0);
    // A consumer catches up (reads, stores, acknowledges, trims what it read): the rest follows,
    // in order, never more than the cap in the stream at once.
    std::vector<std::string> seen;
    long long most = 0;
    for (int i = 0; i < 1000 && seen.size() < 12; ++i) {
      const auto range = Call(client, {"XRANGE", stream, "-", "+"});
      most = std::max(most, static_cast<long long>(range.elements.size()));
      for (const auto& e : range.elements) {
        seen.push_back(RequestIdOf(e.elements[1].elements[1].str));
        Call(client, {"XDEL", stream, e.elements[0].str});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::vector<std::string> expected;
    for (int i = 0; i < 12; ++i) expected.push_back("r" + std::to_string(i));
    CHECK(seen == expected);
    CHECK(most <= 5);  // (the script checks the length before each XADD)
    for (int i = 0; i < 300 && !pub.Drained(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(pub.Drained());
    CHECK(pub.published() == 12);
    CHECK(pub.dropped() == 0);
  }
  Call(client, {"DEL", stream});
  client.Stop();
}

TEST_CASE("Redis refusing writes at its maxmemory: the events wait in the spool, in order, and go once it takes writes again") {
  if (!testing::ServerUrl("REDIS_URL")) return;  // servers (and redis-server) required
  testing::TempDir dir;
  testing::RedisProcess server(dir.path, "save \"\"\nappendonly no\nmaxmemory-policy noeviction\n");
  redis::Options o;
  o.port = server.port();
  testing::IoLoop loop;
  redis::Client client(loop.runtime.io(), o, "test");
  client.Start();
  REQUIRE(testing::WaitConnected(client));
  const std::string stream = "audit.oom";
  {
    audit::Publisher pub(client, {.stream = stream, .batch = 4, .linger = std::chrono::microseconds(0)});
    // Any memory is past the limit now: every write is refused with OOM, reads still served.
    REQUIRE(Call(client, {"CONFIG", "SET", "maxmemory", "1"}).str == "OK");
    CHECK(Call(client, {"XADD", stream, "*", "f", "v"}).str.rfind("OOM", 0) == 0);
    for (int i = 0; i < 10; ++i) pub.Publish(Numbered(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // several refused rounds
    CHECK(pub.published() == 0);
    CHECK(pub.spool().pending() == 10);
    CHECK(pub.dropped() == 0);
    CHECK(Call(client, {"EXISTS", stream}).integer == 0);
    // Room again: everything arrives, once, in order.
    REQUIRE(Call(client, {"CONFIG", "SET", "maxmemory", "0"}).str == "OK");
    for (int i = 0; i < 500 && !pub.Drained(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(pub.Drained());
    CHECK(pub.published() == 10);
    std::vector<std::string> seen, expected;
    for (const auto& e : Call(client, {"XRANGE", stream, "-", "+"}).elements) seen.push_back(RequestIdOf(e.elements[1].elements[1].str));
    for (int i = 0; i < 10; ++i) expected.push_back("r" + std::to_string(i));
    CHECK(seen == expected);
  }
  client.Stop();
}
