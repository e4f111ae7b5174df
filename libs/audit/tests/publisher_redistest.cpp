#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "suite/audit/publisher.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/server.hpp"
#include "suite/testing/env.hpp"
#include "suite/testing/loop.hpp"

using namespace suite;

using suite::testing::Call;

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
    for (int i = 0; i < 50; ++i) pub.Publish({{"type", "process"}, {"n", i}});
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
    auto e = nlohmann::json::parse(fields[1].str);
    CHECK(e["n"] == i);
    CHECK(e["event_id"].get<std::string>().size() == 36);
    CHECK(e.contains("timestamp"));
  }
  Call(client, {"DEL", stream});
  client.Stop();
}

TEST_CASE("a full buffer drops and counts instead of blocking the caller") {
  auto url = testing::ServerUrl("REDIS_URL");
  if (!url) return;
  testing::IoLoop loop;
  auto bad = *redis::ParseUrl(*url);
  bad.port = 1;  // nothing listens: events stay buffered
  redis::Client client(loop.runtime.io(), bad, "down");
  client.Start();
  {
    audit::Publisher pub(client, {.max_buffer = 10});
    for (int i = 0; i < 15; ++i) pub.Publish({{"n", i}});
    CHECK(pub.dropped() == 5);
    CHECK_FALSE(pub.Drained());
  }
  client.Stop();
}
