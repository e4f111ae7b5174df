// The hash chain, its verification, retention and the service role's rights, each case in a
// database of its own (the tampering cases break the chain on purpose).
#include <catch2/catch.hpp>

#include <algorithm>
#include <future>
#include <cstdio>
#include <set>
#include <thread>

#include "store.hpp"
#include "suite/core/ids.hpp"
#include "suite/db/migrations.hpp"
#include "suite/testing/env.hpp"

namespace audit {
const std::vector<suite::db::Migration>& Migrations();
}

using namespace audit;

namespace {

struct ChainDb {
  std::optional<std::string> admin_dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  std::string name = "chain_" + suite::core::RandomHex(6);
  std::string dsn;
  std::unique_ptr<suite::db::Pool> pool;
  int next = 0;

  explicit ChainDb(std::size_t migrations = 0) {
    if (!admin_dsn) return;
    Admin("CREATE DATABASE " + name);
    const auto q = admin_dsn->find('?');
    const auto slash = admin_dsn->rfind('/', q);
    dsn = admin_dsn->substr(0, slash + 1) + name + (q == std::string::npos ? "" : admin_dsn->substr(q));
    pool = std::make_unique<suite::db::Pool>(dsn, 2, std::chrono::milliseconds(2000));
    auto all = Migrations();
    if (migrations != 0) all.resize(migrations);
    pool->With([&](pqxx::connection& c) { return suite::db::Migrate(c, "audit", all); });
  }
  ~ChainDb() {
    if (!admin_dsn) return;
    pool.reset();
    try {
      Admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (...) {
    }
  }
  void Admin(const std::string& sql) const {
    pqxx::connection c(*admin_dsn);
    pqxx::nontransaction tx(c);
    tx.exec(sql);
  }
  // As the superuser in this database, around every trigger: what an attacker with the
  // database's files or superuser rights could do.
  void Tamper(const std::string& sql) const {
    pqxx::connection c(dsn);
    pqxx::work tx(c);
    tx.exec("SET LOCAL session_replication_role = replica");  // no trigger fires
    tx.exec(sql);
    tx.commit();
  }
  long long Scalar(const std::string& sql) const {
    pqxx::connection c(dsn);
    pqxx::nontransaction tx(c);
    return tx.exec1(sql)[0].as<long long>();
  }
  nlohmann::json Event(const std::string& type) {
    const auto n = next++;
    nlohmann::json e = {{"event_id", suite::core::NewUuid()}, {"type", type}, {"timestamp", suite::core::NowIso()},
                        {"service", "test"}, {"request_id", "req-" + std::to_string(n)}};
    if (type == "process")
      e.update({{"dataset_id", "d"}, {"action", "count"}, {"status", "success"}, {"duration_ms", n},
                {"output", {{"count", n}}}, {"http_status", 200}, {"client", "127.0.0.1"}});
    else if (type == "security")
      e.update({{"service", "auth-user"}, {"event_type", "login_failure"}, {"severity", "WARNING"},
                {"username", "u" + std::to_string(n)}, {"details", {{"n", n}}}});
    else
      e.update({{"method", "GET"}, {"route", "processing"}, {"path", "/process"}, {"http_status", 200},
                {"reason", "-"}, {"duration_ms", 1}, {"auth_method", "api_key"}, {"tier", "free"},
                {"bytes_in", 0}, {"bytes_out", 10}});
    return e;
  }
  // The event as the consumer reads it from the stream.
  static suite::audit::Event Typed(const nlohmann::json& e) {
    std::string why;
    auto typed = suite::audit::Event::Parse(e.dump(), why);
    INFO(why);
    REQUIRE(typed);
    return std::move(*typed);
  }
  std::vector<StreamEvent> Batch(const std::string& type, int n) {
    std::vector<StreamEvent> out;
    for (int i = 0; i < n; ++i) out.push_back({"0-" + std::to_string(next), Typed(Event(type))});
    return out;
  }
};

nlohmann::json Broken(const nlohmann::json& v, const char* chain) { return v["chains"][chain]["broken"]; }

}  // namespace

TEST_CASE("chain: each record links to its predecessor, a replay is dropped and leaves the chain whole") {
  ChainDb db;
  if (!db.admin_dsn) return;
  auto process = db.Batch("process", 5), security = db.Batch("security", 2), access = db.Batch("request", 3);
  CHECK(WriteEvents(*db.pool, process, "w") == 5);
  WriteEvents(*db.pool, security, "w");
  WriteEvents(*db.pool, access, "w");
  // The same events again (a redelivery), mixed with one new one.
  auto again = process;
  again.insert(again.end(), security.begin(), security.end());
  again.push_back({"0-99", db.Typed(db.Event("process"))});
  CHECK(WriteEvents(*db.pool, again, "w") == 1);
  // One batch holding an event twice (a redelivery within one read): stored once.
  auto twice = db.Batch("process", 1);
  twice.push_back(twice.front());
  CHECK(WriteEvents(*db.pool, twice, "w") == 1);

  const auto v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(v["valid"] == true);
  CHECK(v["chains"]["requests"]["records"] == 7);
  CHECK(v["chains"]["requests"]["head_seq"] == 7);
  // Linked in the order the batches held them (duration_ms grows with each event made).
  CHECK(db.Scalar("SELECT count(*) FROM audit.requests a JOIN audit.requests b ON b.chain_seq = a.chain_seq + 1 "
                  "WHERE b.duration_ms > a.duration_ms") == 6);
  CHECK(v["chains"]["security_events"]["records"] == 2);
  CHECK(v["chains"]["access_events"]["records"] == 3);
  CHECK(v["chains"]["requests"]["head_hash"].get<std::string>().size() == 64);
  // Each record carries its own digest; each batch links to the one before it, the first to 32
  // zero bytes, and the head holds the last batch's link.
  CHECK(db.Scalar("SELECT count(DISTINCT hash) FROM audit.requests") == 7);
  CHECK(db.Scalar("SELECT count(*) FROM audit.requests WHERE prev_hash IS NOT NULL") == 0);
  CHECK(db.Scalar("SELECT count(*) FROM audit.chain_batches WHERE chain = 'requests'") == 3);
  CHECK(db.Scalar("SELECT count(*) FROM audit.chain_batches a JOIN audit.chain_batches b ON b.chain = a.chain "
                  "AND b.lane = a.lane AND b.first_seq = a.last_seq + 1 AND b.prev_link = a.link "
                  "WHERE a.chain = 'requests'") == 2);
  CHECK(db.Scalar("SELECT count(*) FROM audit.chain_batches WHERE chain = 'requests' AND first_seq = 1 AND "
                  "prev_link = '\\x" + std::string(64, '0') + "'") == 1);
  CHECK(db.Scalar("SELECT count(*) FROM audit.chain_batches b JOIN audit.chain_heads h USING (chain, lane) "
                  "WHERE b.chain = 'requests' AND b.last_seq = h.seq AND b.link = h.hash") == 1);
  // A batch's records are stored at one instant: their partition's.
  CHECK(db.Scalar("SELECT count(*) FROM audit.requests r JOIN audit.chain_batches b ON b.chain = 'requests' "
                  "AND r.chain_seq BETWEEN b.first_seq AND b.last_seq AND r.received_at = b.stored_at") == 7);
}

TEST_CASE("chain: concurrent writers commit one after another and the chain verifies") {
  ChainDb db;
  if (!db.admin_dsn) return;
  std::vector<std::vector<StreamEvent>> batches;
  for (int i = 0; i < 40; ++i) batches.push_back(db.Batch(i % 3 == 0 ? "security" : "process", 10));
  auto run = [&](int from) {
    for (int i = from; i < 40; i += 2) WriteEvents(*db.pool, batches[static_cast<std::size_t>(i)], "w");
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  const auto v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(v["valid"] == true);
  CHECK(v["chains"]["requests"]["records"] == 260);
  CHECK(v["chains"]["security_events"]["records"] == 140);
}

TEST_CASE("chain: a record changed behind the append functions is reported with its place and reason") {
  ChainDb db;
  if (!db.admin_dsn) return;
  for (int i = 0; i < 3; ++i) WriteEvents(*db.pool, db.Batch("process", 2), "w");  // batches 1-2, 3-4, 5-6
  WriteEvents(*db.pool, db.Batch("security", 4), "w");
  REQUIRE(VerifyChains(*db.pool)["valid"] == true);

  SECTION("content changed: hash") {
    db.Tamper("UPDATE audit.requests SET status = 'failure' WHERE chain_seq = 3");
    const auto v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(v["valid"] == false);
    CHECK(Broken(v, "requests")["seq"] == 3);
    CHECK(Broken(v, "requests")["reason"] == "hash");
    CHECK(Broken(v, "requests")["event_id"].is_string());
    CHECK(v["chains"]["security_events"]["valid"] == true);
  }
  SECTION("content changed and its digest made anew: the batch no longer matches its link") {
    db.Tamper("UPDATE audit.requests SET status = 'failure' WHERE chain_seq = 4");
    db.Tamper("DO $$BEGIN SET LOCAL timezone = 'UTC'; SET LOCAL datestyle = 'ISO, MDY'; EXECUTE format("
              "'UPDATE audit.requests x SET hash = %s WHERE x.chain_seq = 4', audit.chain_v2_digest('requests', "
              "'x')); END$$");
    auto v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(Broken(v, "requests")["seq"] == 3);
    CHECK(Broken(v, "requests")["reason"] == "batch");
    // ... and the batch's own hash made anew too: its link no longer matches.
    db.Tamper("UPDATE audit.chain_batches b SET rows_hash = (SELECT sha256(string_agg(x.hash, ''::bytea ORDER BY "
              "x.chain_seq)) FROM audit.requests x WHERE x.chain_seq BETWEEN 3 AND 4) WHERE b.chain = 'requests' "
              "AND b.first_seq = 3");
    v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(Broken(v, "requests")["seq"] == 3);
    CHECK(Broken(v, "requests")["reason"] == "batch");
  }
  SECTION("the security events (linked row to row): content changed and its hash recomputed") {
    db.Tamper("UPDATE audit.security_events SET severity = 'INFO' WHERE chain_seq = 2");
    db.Tamper("DO $$BEGIN SET LOCAL timezone = 'UTC'; EXECUTE format('UPDATE audit.security_events x SET hash = "
              "audit.chain_digest(x.prev_hash, x.chain_seq, (SELECT row_to_json(c) FROM (SELECT %s) c)) "
              "WHERE x.chain_seq = 2', audit.chain_columns('security_events')); END$$");
    const auto v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(Broken(v, "security_events")["seq"] == 3);
    CHECK(Broken(v, "security_events")["reason"] == "link");
  }
  SECTION("a record removed: gap, at the first one missing") {
    db.Tamper("DELETE FROM audit.requests WHERE chain_seq = 4");
    const auto v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(Broken(v, "requests")["seq"] == 4);
    CHECK(Broken(v, "requests")["reason"] == "gap");
  }
  SECTION("a whole batch removed, records and link: gap, at the first record after it") {
    db.Tamper("DELETE FROM audit.requests WHERE chain_seq IN (3, 4)");
    db.Tamper("DELETE FROM audit.chain_batches WHERE chain = 'requests' AND first_seq = 3");
    const auto v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(Broken(v, "requests")["seq"] == 5);
    CHECK(Broken(v, "requests")["reason"] == "gap");
  }
  SECTION("the newest batch removed: head") {
    db.Tamper("DELETE FROM audit.requests WHERE chain_seq >= 5");
    db.Tamper("DELETE FROM audit.chain_batches WHERE chain = 'requests' AND first_seq = 5");
    const auto v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(Broken(v, "requests")["seq"] == 5);
    CHECK(Broken(v, "requests")["reason"] == "head");
    CHECK(v["chains"]["requests"]["records"] == 4);
  }
  SECTION("the oldest batch removed without a checkpoint") {
    db.Tamper("DELETE FROM audit.requests WHERE chain_seq <= 2");
    db.Tamper("DELETE FROM audit.chain_batches WHERE chain = 'requests' AND first_seq = 1");
    const auto v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(Broken(v, "requests")["seq"] == 3);
    CHECK(Broken(v, "requests")["reason"] == "checkpoint");
  }
  SECTION("a record added where no batch covers it: extra") {
    db.Tamper("INSERT INTO audit.requests (event_id, stream_id, timestamp, request_id, status, duration_ms, "
              "http_status, chain_lane, chain_seq, hash) VALUES (gen_random_uuid(), '0-0', now(), 'forged', "
              "'success', 1, 200, 0, 7, '\\x00')");
    const auto v = VerifyChains(*db.pool);
    INFO(v.dump());
    CHECK(Broken(v, "requests")["seq"] == 7);
    CHECK(Broken(v, "requests")["reason"] == "extra");
  }
  SECTION("the triggers refuse the same changes without the superuser's bypass") {
    pqxx::connection c(db.dsn);
    for (const char* sql : {"UPDATE audit.requests SET status = 'failure'", "DELETE FROM audit.requests",
                            "TRUNCATE audit.requests", "DELETE FROM audit.chain_checkpoints",
                            "DELETE FROM audit.chain_batches", "UPDATE audit.chain_batches SET link = ''",
                            "DELETE FROM audit.requests_p0"}) {
      pqxx::work tx(c);
      INFO(sql);
      CHECK_THROWS_AS(tx.exec(sql), pqxx::sql_error);
    }
    CHECK(db.Scalar("SELECT count(*) FROM audit.requests") == 6);
    CHECK(VerifyChains(*db.pool)["valid"] == true);
  }
}

TEST_CASE("chain: records stored before the chain existed are linked by the migration") {
  ChainDb db(5);  // the schema as it was before the hash chain
  if (!db.admin_dsn) return;
  db.Tamper(
      "INSERT INTO audit.requests (event_id, stream_id, timestamp, request_id, status, duration_ms, http_status) "
      "SELECT gen_random_uuid(), '0-' || i, now(), 'r' || i, 'success', i, 200 FROM generate_series(1, 4) i");
  // Access events as that schema held them (today's writer also fills columns added since).
  db.Tamper(
      "INSERT INTO audit.access_events (event_id, stream_id, timestamp, request_id, method, route, path, "
      "http_status, reason, duration_ms, auth_method, tier, bytes_in, bytes_out) VALUES "
      "(gen_random_uuid(), '0-1', now(), 'r1', 'GET', '/', '/', 200, '-', 1, 'none', 'anonymous', 0, 0), "
      "(gen_random_uuid(), '0-2', now(), 'r2', 'GET', '/', '/', 404, '-', 1, 'none', 'anonymous', 0, 0)");
  db.pool->With([](pqxx::connection& c) { return suite::db::Migrate(c, "audit", Migrations()); });
  WriteEvents(*db.pool, db.Batch("process", 2), "w");
  const auto v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(v["valid"] == true);
  CHECK(v["chains"]["requests"]["records"] == 6);
  CHECK(v["chains"]["access_events"]["head_seq"] == 2);
}

TEST_CASE("chain: records linked one by one before the tables were partitioned keep verifying, batches follow them") {
  ChainDb db(9);  // the schema before partitions and batches: the triggers link each record
  if (!db.admin_dsn) return;
  {
    pqxx::connection c(db.dsn);
    pqxx::work tx(c);
    tx.exec("INSERT INTO audit.requests (event_id, stream_id, timestamp, request_id, status, duration_ms, "
            "http_status, received_at) SELECT gen_random_uuid(), '0-' || i, now(), 'v1-' || i, 'success', i, 200, "
            "now() - interval '3 days' FROM generate_series(1, 5) i");
    tx.exec("INSERT INTO audit.ndjson_outbox (request_id, writer) SELECT id, 'w' FROM audit.requests "
            "WHERE request_id = 'v1-5'");
    tx.exec("SELECT set_config('audit.lane', '2', true)");
    tx.exec("INSERT INTO audit.access_events (event_id, stream_id, timestamp, request_id, method, route, path, "
            "http_status, reason, duration_ms, auth_method, tier, bytes_in, bytes_out) SELECT gen_random_uuid(), "
            "'0-' || i, now(), 'a' || i, 'GET', '/', '/', 200, '-', 1, 'none', 'anonymous', 0, 0 "
            "FROM generate_series(1, 3) i");
    tx.commit();
  }
  db.pool->With([](pqxx::connection& c) { return suite::db::Migrate(c, "audit", Migrations()); });
  CHECK(db.Scalar("SELECT count(*) FROM audit.requests_p0") == 5);
  CHECK(db.Scalar("SELECT count(*) FROM audit.ndjson_outbox WHERE received_at IS NOT NULL") == 1);
  // A replay of a record stored before is still dropped.
  {
    pqxx::connection c(db.dsn);
    pqxx::work tx(c);
    CHECK(tx.exec1("SELECT audit.append_requests(jsonb_agg(to_jsonb(r) - 'id'), 0, 'w') FROM audit.requests r "
                   "WHERE request_id = 'v1-1'")[0].as<int>() == 0);
    tx.commit();
  }
  WriteEvents(*db.pool, db.Batch("process", 2), "w");
  WriteEvents(*db.pool, db.Batch("request", 2), "w", 2);
  auto v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(v["valid"] == true);
  CHECK(v["chains"]["requests"]["records"] == 7);
  CHECK(v["chains"]["requests"]["head_seq"] == 7);
  CHECK(v["chains"]["access_events"]["records"] == 5);
  CHECK(db.Scalar("SELECT batch_from FROM audit.chain_heads WHERE chain = 'access_events' AND lane = 2") == 4);
  // The first batch links to the last record linked one by one.
  CHECK(db.Scalar("SELECT count(*) FROM audit.chain_batches b JOIN audit.requests r ON r.chain_seq = 5 "
                  "AND b.prev_link = r.hash WHERE b.chain = 'requests' AND b.first_seq = 6") == 1);
  // The records from before the partitions are checked as before.
  db.Tamper("UPDATE audit.requests SET status = 'failure' WHERE request_id = 'v1-2'");
  v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(Broken(v, "requests")["reason"] == "hash");
  CHECK(Broken(v, "requests")["seq"] == 2);
  db.Tamper("UPDATE audit.requests SET status = 'success' WHERE request_id = 'v1-2'");
  // Retention drops the first partition once its last line is written: a checkpoint at the last
  // record linked one by one.
  db.Tamper("DELETE FROM audit.ndjson_outbox WHERE received_at < now() - interval '1 day'");
  {
    pqxx::connection c(db.dsn);
    pqxx::work tx(c);
    const auto r = tx.exec("SELECT chain, deleted, through_seq, lane FROM audit.apply_retention_at(2, now()) "
                           "ORDER BY chain");
    REQUIRE(r.size() == 0);  // the first partition ends now: not two days old yet
    const auto later = tx.exec("SELECT chain, deleted, through_seq, lane FROM audit.apply_retention_at(2, "
                               "now() + interval '2 days 1 minute') ORDER BY chain");
    REQUIRE(later.size() == 2);
    CHECK(later[0][0].as<std::string>() == "access_events");
    CHECK(later[0][2].as<long long>() == 3);
    CHECK(later[0][3].as<int>() == 2);
    CHECK(later[1][0].as<std::string>() == "requests");
    CHECK(later[1][1].as<long long>() == 5);
    CHECK(later[1][2].as<long long>() == 5);
    tx.commit();
  }
  v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(v["valid"] == true);
  CHECK(v["chains"]["requests"]["records"] == 2);
  CHECK(v["chains"]["requests"]["from_seq"] == 6);
  CHECK(v["chains"]["access_events"]["records"] == 2);
}

TEST_CASE("retention drops whole partitions through a checkpoint per lane, and the chains still verify") {
  ChainDb db;
  if (!db.admin_dsn) return;
  // Security events (not partitioned): one stored nine days ago, one today.
  {
    pqxx::connection c(db.dsn);
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO audit.security_events (event_id, stream_id, timestamp, service, event_type, severity, "
                   "received_at) VALUES ($1, '0-0', now(), 'auth-user', 'login_failure', 'INFO', "
                   "now() - interval '9 days')",
                   suite::core::NewUuid());
    tx.commit();
  }
  WriteEvents(*db.pool, db.Batch("security", 1), "w");
  // Process records on two lanes and access events today, in today's partitions.
  WriteEvents(*db.pool, db.Batch("process", 3), "w");
  WriteEvents(*db.pool, db.Batch("process", 2), "w", 1);
  WriteEvents(*db.pool, db.Batch("request", 4), "w");
  const auto as_of = [](int days) { return "now() + interval '" + std::to_string(days) + " days'"; };
  const auto retention_at = [&](int days, int ahead) {
    nlohmann::json out = nlohmann::json::array();
    pqxx::connection c(db.dsn);
    pqxx::work tx(c);
    for (const auto& r : tx.exec("SELECT chain, deleted, through_seq, lane FROM audit.apply_retention_at(" +
                                 std::to_string(days) + ", " + as_of(ahead) + ") ORDER BY chain, lane"))
      out.push_back({{"chain", r[0].c_str()}, {"deleted", r[1].as<long long>()},
                     {"through_seq", r[2].as<long long>()}, {"lane", r[3].as<long long>()}});
    tx.commit();
    return out;
  };
  // Today, nothing partitioned is old enough: only the old security event goes.
  auto out = ApplyRetention(*db.pool, 7);
  INFO(out.dump());
  REQUIRE(out.size() == 1);
  CHECK(out[0] == nlohmann::json{{"chain", "security_events"}, {"deleted", 1}, {"through_seq", 1}, {"lane", 0}});
  const std::string today = "'_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')";
  CHECK(db.Scalar("SELECT count(*) FROM pg_class WHERE relname = 'requests' || " + today) == 1);

  // Ten days on, today's partitions are past a 7-day retention, but one of the process records
  // has no NDJSON line yet: the requests keep it (the access events do not wait for lines).
  db.Tamper("DELETE FROM audit.ndjson_outbox WHERE request_id <> (SELECT id FROM audit.requests "
            "WHERE chain_lane = 0 AND chain_seq = 2)");
  CHECK(db.Scalar("SELECT count(*) FROM audit.ndjson_outbox") == 1);
  out = retention_at(7, 10);
  INFO(out.dump());
  REQUIRE(out.size() == 2);
  CHECK(out[0] == nlohmann::json{{"chain", "access_events"}, {"deleted", 4}, {"through_seq", 4}, {"lane", 0}});
  CHECK(out[1] == nlohmann::json{{"chain", "security_events"}, {"deleted", 1}, {"through_seq", 2}, {"lane", 0}});
  CHECK(db.Scalar("SELECT count(*) FROM pg_class WHERE relname IN ('access_events' || " + today +
                  ", 'requests' || " + today + ")") == 1);
  CHECK(db.Scalar("SELECT count(*) FROM audit.event_ids WHERE kind = 'a'") == 0);
  // Once the line is written the requests' partition goes too, a checkpoint on each lane.
  db.Tamper("DELETE FROM audit.ndjson_outbox");
  out = retention_at(7, 10);
  INFO(out.dump());
  REQUIRE(out.size() == 2);
  CHECK(out[0] == nlohmann::json{{"chain", "requests"}, {"deleted", 3}, {"through_seq", 3}, {"lane", 0}});
  CHECK(out[1] == nlohmann::json{{"chain", "requests"}, {"deleted", 2}, {"through_seq", 2}, {"lane", 1}});
  CHECK(db.Scalar("SELECT count(*) FROM audit.chain_batches WHERE chain = 'requests'") == 0);
  CHECK(db.Scalar("SELECT count(*) FROM audit.event_ids") == 0);
  // New records link on from the checkpoints, in the day's partition (made anew: this clock went
  // back ten days).
  WriteEvents(*db.pool, db.Batch("process", 2), "w");
  WriteEvents(*db.pool, db.Batch("process", 1), "w", 1);
  auto v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(v["valid"] == true);
  CHECK(v["chains"]["requests"]["from_seq"] == 4);
  CHECK(v["chains"]["requests"]["head_seq"] == 5);
  CHECK(v["chains"]["requests"]["records"] == 3);
  CHECK(v["chains"]["access_events"]["records"] == 0);
  CHECK(v["chains"]["security_events"]["records"] == 0);
  CHECK(db.Scalar("SELECT count(*) FROM audit.requests r WHERE r.tableoid = (SELECT oid FROM pg_class WHERE "
                  "relname = 'requests_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD'))") == 3);
  // Nothing more is old enough: a second run drops nothing and leaves no checkpoint.
  CHECK(retention_at(7, 10).empty());
  CHECK(db.Scalar("SELECT count(*) FROM audit.chain_checkpoints") == 5);
  // A checkpoint is part of the evidence: the first kept record must follow it.
  db.Tamper("DELETE FROM audit.requests WHERE chain_lane = 0 AND chain_seq = 4");
  CHECK(Broken(VerifyChains(*db.pool), "requests")["reason"] == "gap");
  CHECK_THROWS(ApplyRetention(*db.pool, 0));
}

TEST_CASE("chain lanes: writers on two lanes store at once, each lane links and verifies on its own, a broken one is named") {
  ChainDb db;
  if (!db.admin_dsn) return;
  WriteEvents(*db.pool, db.Batch("process", 3), "w");  // lane 0: the chain as it was
  // A writer on lane 1 holds its lane's head (a transaction left open after its insert) ...
  pqxx::connection held(db.dsn);
  pqxx::work one(held);
  one.exec_params("SELECT audit.append_requests($1::jsonb, 1, 'w')",
                  nlohmann::json::array({{{"event_id", suite::core::NewUuid()}, {"stream_id", "0-0"},
                                          {"timestamp", suite::core::NowIso()}, {"request_id", "held"},
                                          {"status", "success"}, {"duration_ms", 1}, {"http_status", 200}}})
                      .dump());
  // ... a writer on lane 2 stores meanwhile, and one on lane 1 waits for the head.
  auto lane2 = db.Batch("process", 5), lane1 = db.Batch("process", 4);
  auto two = std::async(std::launch::async, [&] { return WriteEvents(*db.pool, lane2, "w", 2); });
  REQUIRE(two.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(two.get() == 5);
  auto also_one = std::async(std::launch::async, [&] { return WriteEvents(*db.pool, lane1, "w", 1); });
  CHECK(also_one.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  one.commit();
  REQUIRE(also_one.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(also_one.get() == 4);
  // Many batches on two lanes at once.
  std::vector<std::vector<StreamEvent>> batches;
  for (int i = 0; i < 20; ++i) batches.push_back(db.Batch(i % 4 == 0 ? "security" : "process", 10));
  auto run = [&](int lane) {
    for (int i = lane - 1; i < 20; i += 2) WriteEvents(*db.pool, batches[static_cast<std::size_t>(i)], "w", lane);
  };
  std::thread a(run, 1), b(run, 2);
  a.join();
  b.join();
  auto v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(v["valid"] == true);
  CHECK(v["chains"]["requests"]["records"] == 3 + 1 + 5 + 4 + 150);
  CHECK(v["chains"]["requests"]["lanes"] == 3);
  CHECK(v["chains"]["requests"]["head_seq"] == 3);  // lane 0's
  CHECK(v["chains"]["security_events"]["records"] == 50);
  // Each lane counts from 1 and its batches link to its own only.
  for (int lane : {1, 2})
    CHECK(db.Scalar("SELECT count(*) FROM audit.chain_batches a JOIN audit.chain_batches b ON b.chain = a.chain "
                    "AND b.lane = a.lane AND b.first_seq = a.last_seq + 1 AND b.prev_link = a.link "
                    "WHERE a.chain = 'requests' AND a.lane = " + std::to_string(lane)) ==
          db.Scalar("SELECT count(*) - 1 FROM audit.chain_batches WHERE chain = 'requests' AND lane = " +
                    std::to_string(lane)));
  CHECK(db.Scalar("SELECT min(chain_seq) FROM audit.requests WHERE chain_lane = 2") == 1);
  // A record of lane 2 changed: the chain is broken there, and says so.
  db.Tamper("UPDATE audit.requests SET status = 'failure' WHERE chain_lane = 2 AND chain_seq = 3");
  v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(Broken(v, "requests")["lane"] == 2);
  CHECK(Broken(v, "requests")["seq"] == 3);
  CHECK(Broken(v, "requests")["reason"] == "hash");
  // A lane out of range is refused.
  CHECK_THROWS(WriteEvents(*db.pool, db.Batch("process", 1), "w", 1024));
}

TEST_CASE("chain lanes: an event two lanes store at once is stored once, whichever commits, and no lane has a gap") {
  ChainDb db;
  if (!db.admin_dsn) return;
  for (const bool first_commits : {true, false}) {
    INFO("the first writer " << (first_commits ? "commits" : "rolls back"));
    // Lane 1 stores an event and holds its transaction open (a consumer whose entry was claimed
    // by another meanwhile); lane 2 gets the same event and one more.
    auto shared = db.Batch("process", 1), more = db.Batch("process", 1);
    auto both = shared;
    both.push_back(more.front());
    pqxx::connection held(db.dsn);
    pqxx::work one(held);
    auto rows = nlohmann::json::array();
    rows.push_back({{"event_id", shared.front().event.event_id}, {"stream_id", "0-0"},
                    {"timestamp", shared.front().event.timestamp}, {"request_id", shared.front().event.request_id},
                    {"status", "success"}, {"duration_ms", 1}, {"http_status", 200}});
    CHECK(one.exec_params1("SELECT audit.append_requests($1::jsonb, 1, 'w')", rows.dump())[0].as<int>() == 1);
    auto two = std::async(std::launch::async, [&] { return WriteEvents(*db.pool, both, "w", 2); });
    // Lane 2 waits for lane 1's verdict on the shared event ...
    CHECK(two.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
    if (first_commits)
      one.commit();
    else
      one.abort();
    REQUIRE(two.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    // ... and then stores what lane 1 did not.
    CHECK(two.get() == (first_commits ? 1u : 2u));
    CHECK(db.Scalar("SELECT count(*) FROM audit.requests WHERE event_id = '" + shared.front().event.event_id +
                    "'") == 1);
  }
  const auto v = VerifyChains(*db.pool);
  INFO(v.dump());
  CHECK(v["valid"] == true);
  CHECK(v["chains"]["requests"]["records"] == 4);
  CHECK(db.Scalar("SELECT count(*) FROM audit.event_ids") == 4);
}

TEST_CASE("the service role may add and read records, and change none") {
  ChainDb db;
  if (!db.admin_dsn) return;
  // The role exists wherever the suite runs; created here when this test runs first. Its
  // rights come from the migration, run by another role (the owner).
  db.Admin("DO $$BEGIN CREATE ROLE audit LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END$$");
  db.Admin("GRANT CONNECT ON DATABASE " + db.name + " TO audit");
  // The grants again (as an upgrade does): the migration ran before the role was certain to exist.
  db.Tamper("SELECT audit.grant_service_role()");

  pqxx::connection c(db.dsn);
  {
    pqxx::nontransaction s(c);
    s.exec("SET ROLE audit");
  }
  auto events = db.Batch("process", 2);
  {
    pqxx::work tx(c);
    auto rows = nlohmann::json::array();
    for (const auto& e : events)
      rows.push_back({{"event_id", e.event.event_id}, {"stream_id", e.stream_id}, {"timestamp", suite::core::NowIso()},
                      {"request_id", "r"}, {"status", "success"}, {"duration_ms", 1}, {"http_status", 200}});
    CHECK(tx.exec_params1("SELECT audit.append_requests($1::jsonb, 0, 'w')", rows.dump())[0].as<int>() == 2);
    CHECK(tx.exec_params1("SELECT audit.append_requests($1::jsonb, 0, 'w')", rows.dump())[0].as<int>() == 0);
    CHECK(tx.exec1("SELECT count(*) FROM audit.ndjson_outbox")[0].as<int>() == 2);
    tx.exec("DELETE FROM audit.ndjson_outbox");
    tx.exec("INSERT INTO audit.ndjson_files (writer, path, size) VALUES ('w', '/tmp/x', 0)");
    tx.exec("UPDATE audit.ndjson_files SET size = 10");
    CHECK(tx.exec1("SELECT count(*) FROM audit.requests")[0].as<int>() == 2);
    CHECK(tx.exec1("SELECT reason IS NULL FROM audit.verify_chain('requests')")[0].as<bool>());
    tx.commit();
  }
  for (const char* sql :
       {"INSERT INTO audit.requests (event_id, stream_id, timestamp, request_id, status, duration_ms, http_status, "
        "chain_lane, chain_seq, hash) VALUES (gen_random_uuid(), '0-0', now(), 'r', 'success', 1, 200, 0, 9, '')",
        "INSERT INTO audit.requests_p0 (event_id, stream_id, timestamp, request_id, status, duration_ms, "
        "http_status, chain_lane, chain_seq, hash) VALUES (gen_random_uuid(), '0-0', now(), 'r', 'success', 1, 200, "
        "0, 9, '')",
        "SELECT * FROM audit.apply_retention_at(1, now() + interval '100 days')",
        "UPDATE audit.requests SET status = 'failure'", "DELETE FROM audit.requests", "TRUNCATE audit.requests",
        "ALTER TABLE audit.requests DISABLE TRIGGER requests_append_only", "UPDATE audit.chain_heads SET seq = 0",
        "INSERT INTO audit.chain_checkpoints (chain, through_seq, hash, deleted, days) VALUES ('requests', 1, '', 1, 1)",
        "DROP TABLE audit.requests", "CREATE TABLE audit.x (a int)", "DELETE FROM audit.schema_migrations"}) {
    pqxx::work tx(c);
    INFO(sql);
    CHECK_THROWS_AS(tx.exec(sql), pqxx::sql_error);
  }
  {
    // Retention is the one way to delete, and it keeps at least a day.
    pqxx::work tx(c);
    CHECK(tx.exec("SELECT * FROM audit.apply_retention(1)").empty());
    tx.commit();
  }
  CHECK(db.Scalar("SELECT count(*) FROM audit.requests") == 2);
  CHECK(VerifyChains(*db.pool)["valid"] == true);
}

TEST_CASE("process records: filters, time range and cursor pages, newest first, stats and export agree") {
  ChainDb db;
  if (!db.admin_dsn) return;
  // 25 records one second apart from 2025-10-26T12:00:00Z; every fifth a failure, users a/b,
  // actions count (odd) and summarize (even), the last five at one and the same instant.
  std::vector<StreamEvent> events;
  for (int i = 0; i < 25; ++i) {
    auto e = db.Event("process");
    const int second = i < 20 ? i : 20;
    char ts[64];
    std::snprintf(ts, sizeof ts, "2025-10-26T12:00:%02d.000000+00:00", second);
    e["timestamp"] = ts;
    e["request_id"] = "q-" + std::to_string(i);
    e["status"] = i % 5 == 0 ? "failure" : "success";
    e["action"] = i % 2 ? "count" : "summarize";
    e["duration_ms"] = i % 2 ? 10 : 20;
    e["subject"] = i < 10 ? "a" : "b";
    events.push_back({"0-" + std::to_string(i), db.Typed(e)});
  }
  REQUIRE(WriteEvents(*db.pool, events, "w") == 25);

  // Every page in order, none twice, none lost: the five at one instant cross a page boundary.
  RequestFilter f;
  f.limit = 4;
  std::vector<std::string> seen;
  for (int page = 0; page < 20; ++page) {
    const auto out = QueryRequests(*db.pool, f);
    for (const auto& item : out["items"]) seen.push_back(item["request_id"]);
    if (out["next_cursor"].is_null()) break;
    f.after = DecodeCursor(out["next_cursor"].get<std::string>());
    REQUIRE(f.after);
  }
  REQUIRE(seen.size() == 25);
  CHECK(seen.front() == "q-24");  // newest first; at one instant, the later stored first
  CHECK(seen[4] == "q-20");
  CHECK(seen.back() == "q-0");
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 25);

  RequestFilter g;
  g.since_us = *suite::core::ParseIsoTimestamp("2025-10-26T12:00:05Z");
  g.until_us = *suite::core::ParseIsoTimestamp("2025-10-26T14:00:10+02:00");  // 12:00:10Z, exclusive
  g.subject = "a";
  auto out = QueryRequests(*db.pool, g);
  CHECK(out["count"] == 5);  // 5..9
  CHECK(out["items"][0]["request_id"] == "q-9");
  CHECK(out["items"][0]["user"] == "a");
  CHECK(out["items"][0]["chain_seq"] == 10);
  CHECK(out["next_cursor"].is_null());
  g.status = "failure";
  CHECK(QueryRequests(*db.pool, g)["count"] == 1);  // q-5

  // The export: the same records as NDJSON lines, a page at a time.
  RequestFilter e;
  e.limit = 10;
  std::optional<std::string> next;
  const auto text = ExportRequests(*db.pool, e, next);
  CHECK(std::count(text.begin(), text.end(), '\n') == 10);
  CHECK(text.rfind("{\"timestamp\":", 0) == 0);
  REQUIRE(next);
  e.after = DecodeCursor(*next);
  e.limit = 100;
  const auto rest = ExportRequests(*db.pool, e, next);
  CHECK(std::count(rest.begin(), rest.end(), '\n') == 15);
  CHECK_FALSE(next);

  auto stats = RequestStats(*db.pool, std::nullopt, std::nullopt);
  INFO(stats.dump());
  CHECK(stats["total"] == 25);
  CHECK(stats["by_status"] == nlohmann::json{{"success", 20}, {"failure", 5}});
  CHECK(stats["actions_total"] == 2);
  CHECK(stats["by_action"][0] == nlohmann::json{{"action", "summarize"}, {"count", 13}, {"avg_duration_ms", 20.0},
                                                {"failures", 3}});
  CHECK(stats["by_action"][1] == nlohmann::json{{"action", "count"}, {"count", 12}, {"avg_duration_ms", 10.0},
                                                {"failures", 2}});
  stats = RequestStats(*db.pool, *suite::core::ParseIsoTimestamp("2025-10-26T12:00:20Z"), std::nullopt);
  CHECK(stats["total"] == 5);

  for (const char* bad : {"", "1", "x.1", "1.x", "-1.1", "1.0", "1.2.3", "99999999999999999999.1"})
    CHECK_FALSE(DecodeCursor(bad).has_value());
  CHECK(DecodeCursor(EncodeCursor({1761480000000000, 7}))->id == 7);
}

TEST_CASE("security events without details read back as null, and the answer is JSON") {
  ChainDb db;
  if (!db.admin_dsn) return;
  auto e = db.Event("security");
  e["details"] = nullptr;
  e["user_id"] = 42;
  WriteEvents(*db.pool, {{"0-1", db.Typed(e)}}, "w");
  const auto out = QuerySecurityEvents(*db.pool, SecurityFilter{});
  REQUIRE(out["items"].size() == 1);
  CHECK(out["items"][0]["details"].is_null());
  CHECK(out["items"][0]["user_id"] == 42);
  CHECK(nlohmann::json::parse(out.dump())["items"][0]["event_type"] == "login_failure");
}

TEST_CASE("access events: the protocol is stored, filtered on and chained, events without it keep verifying") {
  ChainDb db;
  if (!db.admin_dsn) return;
  // An older gateway's events (no protocol), then a newer one's: h2 and gRPC calls.
  std::vector<StreamEvent> batch = db.Batch("request", 2);
  for (const char* protocol : {"h2", "grpc", "grpc"}) {
    auto e = db.Event("request");
    e["protocol"] = protocol;
    batch.push_back({"0-" + std::to_string(db.next), db.Typed(e)});
  }
  WriteEvents(*db.pool, batch, "w");
  REQUIRE(VerifyChains(*db.pool)["valid"] == true);
  CHECK(db.Scalar("SELECT count(*) FROM audit.access_events WHERE protocol IS NULL") == 2);

  AccessFilter grpc;
  grpc.protocol = "grpc";
  const auto items = QueryAccess(*db.pool, grpc)["items"];
  REQUIRE(items.size() == 2);
  CHECK(items[0]["protocol"] == "grpc");
  CHECK(QueryAccess(*db.pool, AccessFilter{})["items"].size() == 5);
  CHECK(QueryAccess(*db.pool, AccessFilter{})["items"][4]["protocol"].is_null());

  // The field is part of what the hash covers.
  db.Tamper("UPDATE audit.access_events SET protocol = 'h1' WHERE protocol = 'h2'");
  const auto v = VerifyChains(*db.pool);
  CHECK(Broken(v, "access_events")["reason"] == "hash");
  CHECK(Broken(v, "access_events")["seq"] == 3);
}
