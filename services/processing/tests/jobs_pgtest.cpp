#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <thread>

#include "jobs.hpp"
#include "suite/db/migrations.hpp"
#include "suite/testing/env.hpp"

namespace processing {
const std::vector<suite::db::Migration>& Migrations();
}

using namespace processing;
using nlohmann::json;

namespace {

struct Fixture {
  std::optional<std::string> dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  std::unique_ptr<suite::db::Pool> pool;
  explicit Fixture() {
    if (!dsn) return;
    pool = std::make_unique<suite::db::Pool>(*dsn, 8, std::chrono::milliseconds(2000));
    pool->With([](pqxx::connection& c) { return suite::db::Migrate(c, "processing", Migrations()); });
    // Each case starts from an empty queue (a worker claims any due job); ctest never runs two
    // of these cases at once (LOCK processing_jobs in CMakeLists.txt).
    Exec("DELETE FROM processing.jobs");
  }
  void Exec(const std::string& sql) {
    pool->With([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec(sql);
      tx.commit();
      return 0;
    });
  }
  JobsOptions Options(const std::string& worker) const {
    JobsOptions o;
    o.worker_name = worker;
    o.retry_base = std::chrono::milliseconds(40);
    o.stale_after = std::chrono::milliseconds(100);
    return o;
  }
};

json Body(const std::string& action, json payload = json::object()) {
  return {{"dataset_id", "d1"}, {"action", action}, {"payload", std::move(payload)}};
}

}  // namespace

TEST_CASE("jobs: queued, claimed once, completed with the run's result, shown to its owner only") {
  Fixture f;
  if (!f.dsn) return;
  JobStore store(*f.pool, f.Options("w1"));
  const auto job = store.Create("user:alice", "req-1", Body("count", {{"items", {1, 2, 3}}}));
  CHECK(job["status"] == "queued");
  CHECK(job["attempts"] == 0);
  CHECK(job["request_id"] == "req-1");
  const std::string id = job["job_id"];
  CHECK(id.size() == 36);

  auto claimed = store.Claim();
  REQUIRE(claimed);
  CHECK(claimed->id == id);
  CHECK(claimed->attempts == 1);
  CHECK(claimed->body["payload"]["items"].size() == 3);
  CHECK_FALSE(store.Claim());  // nothing else is due
  CHECK(store.Get(id, "user:alice", false).value()["status"] == "running");

  CHECK(store.Finish(*claimed, true, {{"count", 3}}) == std::optional<std::string>("completed"));
  const auto done = store.Get(id, "user:alice", false);
  REQUIRE(done);
  CHECK(done->at("status") == "completed");
  CHECK(done->at("result") == json{{"count", 3}});
  CHECK(done->at("error").is_null());
  CHECK(done->at("finished_at").is_string());

  CHECK_FALSE(store.Get(id, "user:mallory", false));  // another caller: as if it did not exist
  CHECK_FALSE(store.Get(id, "key:alice", false));     // an API key named like the user is not the user
  CHECK(store.Get(id, "user:admin", true));           // an administrator sees every job
  CHECK_FALSE(store.Get("00000000-0000-4000-8000-000000000000", "user:alice", false));
  CHECK_FALSE(store.Get("../../etc/passwd", "user:alice", false));
}

TEST_CASE("jobs: only a queued job is cancelled, unknown ids are seed 003's JOB_NOT_FOUND") {
  Fixture f;
  if (!f.dsn) return;
  JobStore store(*f.pool, f.Options("w1"));
  const std::string id = store.Create("user:alice", "r", Body("summarize"))["job_id"];
  try {
    store.Cancel(id, "user:bob", false);
    FAIL("another caller cancelled it");
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kJobNotFound);
    CHECK(std::string(e.what()) == "Job not found: " + id);
    CHECK(e.details() == json{{"job_id", id}});
  }
  CHECK(store.Cancel(id, "user:alice", false)["status"] == "cancelled");
  CHECK_FALSE(store.Claim());  // a cancelled job never runs
  try {
    store.Cancel(id, "user:alice", false);
    FAIL("cancelled twice");
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kConflict);
    CHECK(e.details()["status"] == "cancelled");
  }
  const std::string running = store.Create("user:alice", "r", Body("count"))["job_id"];
  REQUIRE(store.Claim());
  CHECK_THROWS_AS(store.Cancel(running, "user:alice", true), suite::core::ApiError);
  const std::string huge(100'000, 'a');
  try {
    store.Cancel(huge, "user:alice", false);
    FAIL("no 404");
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kJobNotFound);
    CHECK(e.details()["job_id"].get<std::string>().size() == 64);  // echoed, bounded
  }
}

TEST_CASE("jobs: a failed run is retried after a growing backoff, then the job fails") {
  Fixture f;
  if (!f.dsn) return;
  auto opts = f.Options("w1");
  opts.max_attempts = 3;
  JobStore store(*f.pool, opts);
  const std::string id = store.Create("user:alice", "r", Body("summarize", {{"force_fail", true}}))["job_id"];
  const json error = {{"code", "BAD_REQUEST"}, {"message", "forced failure requested: payload.force_fail=true"}};
  std::vector<std::chrono::steady_clock::duration> waits;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<ClaimedJob> c;
    while (!(c = store.Claim())) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    waits.push_back(std::chrono::steady_clock::now() - t0);
    CHECK(c->attempts == attempt);
    CHECK(store.Finish(*c, false, error) == std::optional<std::string>(attempt < 3 ? "queued" : "failed"));
  }
  // Due again only after the backoff: 40 ms after the 1st run, 80 ms after the 2nd.
  CHECK(waits[1] >= std::chrono::milliseconds(35));
  CHECK(waits[2] >= std::chrono::milliseconds(75));
  const auto job = store.Get(id, "user:alice", false).value();
  CHECK(job["status"] == "failed");
  CHECK(job["attempts"] == 3);
  CHECK(job["error"] == error);
  CHECK_FALSE(store.Claim());
}

TEST_CASE("jobs: a dead worker's job is queued again by another replica, and the dead one cannot finish it") {
  Fixture f;
  if (!f.dsn) return;
  JobStore dead(*f.pool, f.Options("dead-worker")), alive(*f.pool, f.Options("live-worker"));
  const std::string id = dead.Create("user:alice", "r", Body("count"))["job_id"];
  const auto lost = dead.Claim();  // then the process is killed: no heartbeat, no outcome
  REQUIRE(lost);
  alive.Heartbeat();  // a live worker's heartbeat keeps only its own jobs
  CHECK(alive.Reap().empty());
  CHECK(alive.Get(id, "user:alice", false).value()["status"] == "running");  // not stale yet
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(alive.Reap().empty());  // requeued (attempts left), so nothing failed
  const auto job = alive.Get(id, "user:alice", false).value();
  CHECK(job["status"] == "queued");
  CHECK(job["error"]["code"] == "WORKER_LOST");
  const auto again = alive.Claim();
  REQUIRE(again);
  CHECK(again->id == id);
  CHECK(again->attempts == 2);
  CHECK_FALSE(dead.Finish(*lost, true, {{"count", 0}}));  // the old run's outcome is refused
  CHECK(alive.Finish(*again, true, {{"count", 0}}) == std::optional<std::string>("completed"));

  // Out of attempts: the reaper ends the job as failed.
  auto one = f.Options("dead-worker");
  one.max_attempts = 1;
  JobStore once(*f.pool, one);
  const std::string last = once.Create("user:alice", "r", Body("validate"))["job_id"];
  REQUIRE(once.Claim());
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(alive.Reap() == std::vector<std::string>{"validate"});
  CHECK(alive.Get(last, "user:alice", false).value()["status"] == "failed");
}

TEST_CASE("jobs: replicas claiming together take each job exactly once (SKIP LOCKED)") {
  Fixture f;
  if (!f.dsn) return;
  JobStore maker(*f.pool, f.Options("maker"));
  auto opts = f.Options("maker");
  opts.max_open_per_owner = 1000;
  JobStore many(*f.pool, opts);
  std::set<std::string> made;
  for (int i = 0; i < 60; ++i) made.insert(many.Create("user:bulk", "r", Body("count"))["job_id"].get<std::string>());
  std::mutex mu;
  std::multiset<std::string> taken;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      JobStore mine(*f.pool, f.Options("w" + std::to_string(w)));
      while (auto c = mine.Claim()) {
        std::lock_guard lock(mu);
        taken.insert(c->id);
      }
    });
  for (auto& t : workers) t.join();
  CHECK(taken.size() == 60);
  CHECK(std::set<std::string>(taken.begin(), taken.end()) == made);
  const auto depth = maker.Measure();
  CHECK(depth.queued == 0);
}

TEST_CASE("jobs: a caller's unfinished jobs are capped (429), others are not affected, depth counts the queue") {
  Fixture f;
  if (!f.dsn) return;
  auto opts = f.Options("w1");
  opts.max_open_per_owner = 2;
  JobStore store(*f.pool, opts);
  store.Create("key:k1", "r", Body("count"));
  store.Create("key:k1", "r", Body("count"));
  try {
    store.Create("key:k1", "r", Body("count"));
    FAIL("no cap");
  } catch (const suite::core::ApiError& e) {
    CHECK(e.code() == suite::core::ErrorCode::kRateLimited);
    CHECK(e.retry_after() > 0);
  }
  CHECK_NOTHROW(store.Create("key:k2", "r", Body("count")));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto depth = store.Measure();
  CHECK(depth.queued == 3);
  CHECK(depth.oldest_due_seconds >= 0.015);
  // A finished job frees its owner's place.
  auto c = store.Claim();
  REQUIRE(c);
  store.Finish(*c, true, json::object());
  CHECK_NOTHROW(store.Create(c->owner, "r", Body("count")));
}

TEST_CASE("jobs: finished jobs past retention are deleted, unfinished ones never") {
  Fixture f;
  if (!f.dsn) return;
  JobStore store(*f.pool, f.Options("w1"));
  const std::string old_done = store.Create("user:a", "r", Body("count"))["job_id"];
  const std::string old_queued = store.Create("user:a", "r", Body("count"))["job_id"];
  f.Exec("UPDATE processing.jobs SET status = 'completed', finished_at = now() - interval '200 hours' WHERE id = '" +
         old_done + "'");
  f.Exec("UPDATE processing.jobs SET created_at = now() - interval '200 hours' WHERE id = '" + old_queued + "'");
  CHECK(store.Purge() == 1);
  CHECK_FALSE(store.Get(old_done, "user:a", false));
  CHECK(store.Get(old_queued, "user:a", false));
}

TEST_CASE("jobs: owners are told apart by how they authenticated") {
  suite::security::Identity user{.subject = "alice", .method = "jwt"};
  suite::security::Identity both{.subject = "alice", .method = "api_key+jwt", .api_key_id = "k1"};
  suite::security::Identity key{.subject = "alice", .method = "api_key", .api_key_id = "k1"};
  CHECK(OwnerOf(user) == "user:alice");
  CHECK(OwnerOf(both) == "user:alice");
  CHECK(OwnerOf(key) == "key:k1");
  CHECK(JobTypeIndex("summarize") == 0);
  CHECK(kJobTypes[JobTypeIndex("anything-a-client-sends")] == std::string("other"));
}
