#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <optional>
#include <future>
#include <thread>

#include "consumer.hpp"
#include "suite/core/ids.hpp"
#include "suite/db/migrations.hpp"
#include "suite/http/server.hpp"
#include "suite/observability/metrics.hpp"
#include "suite/testing/env.hpp"
#include "suite/testing/loop.hpp"

namespace audit {
const std::vector<suite::db::Migration>& Migrations();
}

using namespace suite;
using suite::testing::Call;

namespace {
std::string Event(const std::string& event_id, const std::string& request_id) {
  return suite::audit::Event{.event_id = event_id, .timestamp = core::NowIso(), .service = "test", .request_id = request_id,
                      .record = suite::audit::ProcessRecord{.dataset_id = "d", .action = "count",
                                                     .status = suite::audit::Outcome::kSuccess, .duration_ms = 1,
                                                     .output = {{"count", 1}}, .http_status = 200,
                                                     .client = "127.0.0.1"}}
      .ToLine();
}
std::size_t Lines(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}
// A migrated database, a worker pool, and two Redis clients on one loop: the test's, and the
// consumer's own (it blocks in XREADGROUP on its connection; as in the service, it has its own
// client, so that the test's commands never queue behind a blocking read and time out).
struct Setup {
  std::optional<std::string> dsn = testing::ServerUrl("TEST_DATABASE_URL"), url = testing::ServerUrl("REDIS_URL");
  std::optional<db::Pool> pool;
  testing::IoLoop loop;
  service::WorkerPool workers{{.threads = 2}};
  std::optional<redis::Client> client, reader;
  /// False when there is no database or Redis to test against.
  bool Ready() {
    if (!dsn || !url) return false;
    pool.emplace(*dsn, 2, std::chrono::milliseconds(2000));
    pool->With([](pqxx::connection& c) { return db::Migrate(c, "audit", ::audit::Migrations()); });
    client.emplace(loop.runtime.io(), *redis::ParseUrl(*url), "test");
    reader.emplace(loop.runtime.io(), *redis::ParseUrl(*url), "consumer");
    client->Start();
    reader->Start();
    return testing::WaitConnected(*client) && testing::WaitConnected(*reader);
  }
};
}  // namespace

TEST_CASE("entries a dead consumer left unacknowledged are claimed, stored once, acknowledged") {
  Setup setup;
  if (!setup.dsn || !setup.url) return;
  REQUIRE(setup.Ready());
  auto& pool = *setup.pool;
  auto& workers = setup.workers;
  auto& loop = setup.loop;
  auto& client = *setup.client;
  auto& reader = *setup.reader;

  const std::string stream = "test.audit." + core::NewUuid(), tag = core::RandomHex(6);
  const std::string ndjson = "/tmp/consumer-test-" + tag + ".ndjson";
  std::vector<std::string> event_ids;
  for (int i = 0; i < 3; ++i) {
    event_ids.push_back(core::NewUuid());
    Call(client, {"XADD", stream, "*", "event", Event(event_ids.back(), tag + "-" + std::to_string(i))});
  }
  // A consumer reads the three entries, then dies without acknowledging them.
  CHECK(Call(client, {"XGROUP", "CREATE", stream, "audit-writers", "0"}).ok());
  auto taken = Call(client, {"XREADGROUP", "GROUP", "audit-writers", "dead", "STREAMS", stream, ">"});
  REQUIRE(taken.elements.size() == 1);
  CHECK(taken.elements[0].elements[1].elements.size() == 3);
  Call(client, {"XADD", stream, "*", "event", Event(core::NewUuid(), tag + "-3")});  // a new one

  ::audit::Consumer consumer(reader, pool, workers,
                           {.stream = stream, .ndjson_path = ndjson, .name = "alive-" + tag,
                            .claim_idle = std::chrono::milliseconds(0),
                            .trim = false});  // (counts the stream's entries below)
  consumer.Start(loop.runtime.io());
  for (int i = 0; i < 500 && consumer.written() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(consumer.written() == 4);
  auto rows = [&] {
    return pool.With([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      return tx.exec_params1("SELECT count(*) FROM audit.requests WHERE request_id LIKE $1", tag + "-%")[0].as<int>();
    });
  };
  CHECK(rows() == 4);
  CHECK(Lines(ndjson) == 4);

  // The same event delivered again (a publisher retry) is acknowledged but stored once. An
  // entry PostgreSQL could not take (its event_id no UUID) is acknowledged and skipped: it
  // does not hold back the one after it.
  Call(client, {"XADD", stream, "*", "event", Event(event_ids[0], tag + "-0")});
  Call(client, {"XADD", stream, "*", "event", Event("not-a-uuid", tag + "-poison")});
  Call(client, {"XADD", stream, "*", "event", Event(core::NewUuid(), tag + "-4")});
  for (int i = 0; i < 300; ++i) {
    // Read first, then pending: all read and none pending means all acknowledged.
    auto info = Call(client, {"XINFO", "GROUPS", stream});
    auto len = Call(client, {"XLEN", stream});
    auto pending = Call(client, {"XPENDING", stream, "audit-writers"});
    if (!pending.elements.empty() && pending.elements[0].integer == 0 && len.integer == 7 &&
        info.elements.size() == 1) {
      // entries-read (Redis 7) reaches 7 once the last one has been consumed
      const auto& g = info.elements[0].elements;
      bool all_read = false;
      for (std::size_t k = 0; k + 1 < g.size(); k += 2)
        if (g[k].str == "entries-read" && g[k + 1].integer == 7) all_read = true;
      if (all_read) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto pending = Call(client, {"XPENDING", stream, "audit-writers"});
  REQUIRE_FALSE(pending.elements.empty());
  CHECK(pending.elements[0].integer == 0);
  for (int i = 0; i < 300 && consumer.written() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(rows() == 5);
  CHECK(Lines(ndjson) == 5);
  CHECK(consumer.written() == 5);

  // A producer loop's batch: one entry, field "events", the lines joined by newlines. A line
  // that is no event is skipped, the others stored (a duplicate once).
  Call(client, {"XADD", stream, "*", "events",
                Event(core::NewUuid(), tag + "-5") + "\n{\"not\":\"an event\"}\n" + Event(event_ids[1], tag + "-1") +
                    "\n" + Event(core::NewUuid(), tag + "-6")});
  for (int i = 0; i < 300 && consumer.written() < 7; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(consumer.written() == 7);
  // audit_events_consumed_total counts events as publishers do: the two replays too (the poison
  // line and the non-event are no events).
  CHECK(consumer.consumed() == consumer.written() + 2);
  CHECK(rows() == 7);
  CHECK(Lines(ndjson) == 7);

  consumer.Drain();
  for (int i = 0; i < 300 && !consumer.Drained(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Call(client, {"DEL", stream});
  reader.Stop();  // fails the pending read while the consumer still exists
  client.Stop();
  workers.Stop();
  std::remove(ndjson.c_str());
}

TEST_CASE("the stream is trimmed up to what every group acknowledged, never past an entry one still needs") {
  Setup setup;
  if (!setup.dsn || !setup.url) return;
  REQUIRE(setup.Ready());
  auto& pool = *setup.pool;
  auto& workers = setup.workers;
  auto& loop = setup.loop;
  auto& client = *setup.client;
  auto& reader = *setup.reader;

  const std::string stream = "test.audit." + core::NewUuid(), tag = core::RandomHex(6);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i)
    ids.push_back(Call(client, {"XADD", stream, "*", "event", Event(core::NewUuid(), tag + "-" + std::to_string(i))}).str);
  // Another group (a second reader of the stream) has read all ten and acknowledged four.
  CHECK(Call(client, {"XGROUP", "CREATE", stream, "mirror", "0"}).ok());
  CHECK(Call(client, {"XREADGROUP", "GROUP", "mirror", "m", "STREAMS", stream, ">"}).elements.size() == 1);
  CHECK(Call(client, {"XACK", stream, "mirror", ids[0], ids[1], ids[2], ids[3]}).integer == 4);

  obs::Metrics metrics("audit");
  ::audit::Consumer consumer(reader, pool, workers,
                             {.stream = stream, .ndjson_path = "/tmp/consumer-trim-" + tag + ".ndjson",
                              .name = "trim-" + tag, .trim_every = std::chrono::milliseconds(20)});
  consumer.ExportMetrics(metrics);
  consumer.Start(loop.runtime.io());
  auto length = [&] { return Call(client, {"XLEN", stream}).integer; };
  auto wait_length = [&](long long n) {
    for (int i = 0; i < 500 && length() != n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return length();
  };
  for (int i = 0; i < 500 && consumer.written() < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(consumer.written() == 10);
  // Stored and acknowledged by the audit group: what the other group still holds stays.
  CHECK(wait_length(6) == 6);
  CHECK(Call(client, {"XRANGE", stream, "-", "+", "COUNT", "1"}).elements[0].elements[0].str == ids[4]);
  // Once it acknowledged them too, only the last entry delivered is left (it marks the place).
  CHECK(Call(client, {"XACK", stream, "mirror", ids[4], ids[5], ids[6], ids[7], ids[8], ids[9]}).integer == 6);
  CHECK(wait_length(1) == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a trim after it: the gauges sampled
  const auto text = metrics.Render();
  CHECK(text.find("audit_stream_pending 0") != std::string::npos);
  CHECK(text.find("audit_stream_length 1") != std::string::npos);
  CHECK(text.find("audit_stream_lag 0") != std::string::npos);
  consumer.Drain();
  Call(client, {"DEL", stream});
  std::remove(("/tmp/consumer-trim-" + tag + ".ndjson").c_str());
  reader.Stop();
  client.Stop();
}
