#include "jobs.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "process.hpp"
#include "suite/audit/publisher.hpp"
#include "suite/core/error.hpp"
#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"

namespace processing {

using nlohmann::json;
using suite::core::ApiError;
using suite::core::ErrorCode;

namespace {

// What GET /jobs/{id} shows, in the order it shows it.
constexpr const char* kColumns =
    "id::text, status, dataset_id, action, attempts, max_attempts, request_id, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
    "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
    "to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
    "result::text, error::text, owner";

json TextOrNull(const pqxx::field& f) { return f.is_null() ? json(nullptr) : json(f.c_str()); }
json JsonOrNull(const pqxx::field& f) { return f.is_null() ? json(nullptr) : json::parse(f.c_str()); }

json JobJson(const pqxx::row& r) {
  return {{"job_id", r[0].c_str()},       {"status", r[1].c_str()},        {"dataset_id", r[2].c_str()},
          {"action", r[3].c_str()},       {"attempts", r[4].as<int>()},    {"max_attempts", r[5].as<int>()},
          {"request_id", r[6].c_str()},   {"created_at", TextOrNull(r[7])}, {"started_at", TextOrNull(r[8])},
          {"finished_at", TextOrNull(r[9])}, {"result", JsonOrNull(r[10])}, {"error", JsonOrNull(r[11])}};
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

}  // namespace

ApiError JobNotFound(std::string_view id) {
  // The id comes from the path: echoed, but never more than a UUID's length of it.
  const std::string shown(id.substr(0, 64));
  return ApiError(ErrorCode::kJobNotFound, "Job not found: " + shown, {{"job_id", shown}});
}

std::size_t JobTypeIndex(std::string_view action) {
  for (std::size_t i = 0; i + 1 < kJobTypes.size(); ++i)
    if (action == kJobTypes[i]) return i;
  return kJobTypes.size() - 1;
}

std::string OwnerOf(const suite::security::Identity& who) {
  if (who.method.find("jwt") != std::string::npos) return "user:" + who.subject;
  return "key:" + (who.api_key_id.empty() ? who.subject : who.api_key_id);
}

json JobStore::Create(const std::string& owner, const std::string& request_id, const json& body) {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    // One owner's creations are serialised, so that the cap holds under concurrency.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('processing.jobs:' || $1))", owner);
    const auto open = tx.exec_params1(
        "SELECT count(*) FROM processing.jobs WHERE owner = $1 AND status IN ('queued', 'running')", owner)[0].as<long long>();
    if (open >= static_cast<long long>(options_.max_open_per_owner))
      throw ApiError(ErrorCode::kRateLimited,
                     "Too many unfinished jobs: at most " + std::to_string(options_.max_open_per_owner) +
                         " queued or running per caller")
          .RetryAfter(std::chrono::seconds(5));
    auto r = tx.exec_params1(std::string("INSERT INTO processing.jobs (id, owner, request_id, dataset_id, action, body, max_attempts) "
                                         "VALUES (gen_random_uuid(), $1, $2, $3, $4, $5::jsonb, $6) RETURNING ") + kColumns,
                             owner, request_id, body["dataset_id"].get<std::string>(), body["action"].get<std::string>(),
                             body.dump(-1, ' ', false, json::error_handler_t::replace), options_.max_attempts);
    tx.commit();
    return JobJson(r);
  });
}

std::optional<json> JobStore::Get(const std::string& id, const std::string& owner, bool admin) {
  if (!IsUuid(id)) return std::nullopt;
  return pool_.With([&](pqxx::connection& c) -> std::optional<json> {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM processing.jobs WHERE id = $1", id);
    if (rows.empty() || (!admin && owner != rows[0][12].c_str())) return std::nullopt;
    return JobJson(rows[0]);
  });
}

json JobStore::Cancel(const std::string& id, const std::string& owner, bool admin) {
  if (!IsUuid(id)) throw JobNotFound(id);
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM processing.jobs WHERE id = $1 FOR UPDATE", id);
    if (rows.empty() || (!admin && owner != rows[0][12].c_str())) throw JobNotFound(id);
    const std::string status = rows[0][1].c_str();
    if (status != "queued")
      throw ApiError(ErrorCode::kConflict, "Job is " + status + "; only a queued job can be cancelled",
                     {{"job_id", id}, {"status", status}});
    auto r = tx.exec_params1(std::string("UPDATE processing.jobs SET status = 'cancelled', finished_at = now() WHERE id = $1 "
                                         "RETURNING ") + kColumns, id);
    tx.commit();
    return JobJson(r);
  });
}

std::optional<ClaimedJob> JobStore::Claim() {
  return pool_.With([&](pqxx::connection& c) -> std::optional<ClaimedJob> {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "UPDATE processing.jobs SET status = 'running', attempts = attempts + 1, worker = $1, heartbeat_at = now(), "
        "started_at = coalesce(started_at, now()) "
        "WHERE id = (SELECT id FROM processing.jobs WHERE status = 'queued' AND run_after <= now() "
        "            ORDER BY run_after, created_at LIMIT 1 FOR UPDATE SKIP LOCKED) AND status = 'queued' "
        "RETURNING id::text, request_id, owner, action, dataset_id, body::text, attempts, max_attempts",
        options_.worker_name);
    tx.commit();
    if (rows.empty()) return std::nullopt;
    const auto& r = rows[0];
    return ClaimedJob{r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[4].c_str(),
                      json::parse(r[5].c_str()), r[6].as<int>(), r[7].as<int>()};
  });
}

std::optional<std::string> JobStore::Finish(const ClaimedJob& job, bool success, const json& value) {
  const std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return pool_.With([&](pqxx::connection& c) -> std::optional<std::string> {
    pqxx::work tx(c);
    pqxx::result rows;
    if (success) {
      rows = tx.exec_params(
          "UPDATE processing.jobs SET status = 'completed', result = $3::jsonb, error = NULL, worker = NULL, "
          "heartbeat_at = NULL, finished_at = now() WHERE id = $1 AND worker = $2 AND status = 'running' "
          "RETURNING status",
          job.id, options_.worker_name, text);
    } else {
      // Retried after retry_base, 2x, 4x ... (at most 5 minutes), until max_attempts runs.
      rows = tx.exec_params(
          "UPDATE processing.jobs SET error = $3::jsonb, worker = NULL, heartbeat_at = NULL, "
          "status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
          "finished_at = CASE WHEN attempts >= max_attempts THEN now() END, "
          "run_after = CASE WHEN attempts >= max_attempts THEN run_after "
          "  ELSE now() + least($4::float8 * power(2, attempts - 1), 300000) * interval '1 millisecond' END "
          "WHERE id = $1 AND worker = $2 AND status = 'running' RETURNING status",
          job.id, options_.worker_name, text, static_cast<double>(options_.retry_base.count()));
    }
    tx.commit();
    if (rows.empty()) return std::nullopt;
    return std::string(rows[0][0].c_str());
  });
}

void JobStore::Heartbeat() {
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("UPDATE processing.jobs SET heartbeat_at = now() WHERE worker = $1 AND status = 'running'", options_.worker_name);
    tx.commit();
    return 0;
  });
}

std::vector<std::string> JobStore::Reap() {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "UPDATE processing.jobs SET worker = NULL, heartbeat_at = NULL, run_after = now(), "
        "error = '{\"code\":\"WORKER_LOST\",\"message\":\"the worker running this job stopped answering\"}', "
        "status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
        "finished_at = CASE WHEN attempts >= max_attempts THEN now() END "
        "WHERE id IN (SELECT id FROM processing.jobs WHERE status = 'running' "
        "             AND heartbeat_at < now() - $1::float8 * interval '1 millisecond' FOR UPDATE SKIP LOCKED) "
        "RETURNING id::text, status, action",
        static_cast<double>(options_.stale_after.count()));
    tx.commit();
    std::vector<std::string> failed;
    for (const auto& r : rows) {
      suite::obs::Warn("job taken back: its worker stopped answering",
                       {{"job_id", r[0].c_str()}, {"status", r[1].c_str()}});
      if (std::string_view(r[1].c_str()) == "failed") failed.emplace_back(r[2].c_str());
    }
    return failed;
  });
}

JobStore::Depth JobStore::Measure() {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto r = tx.exec1(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(run_after) FILTER (WHERE run_after <= now())), 0) "
        "FROM processing.jobs WHERE status = 'queued'");
    return Depth{r[0].as<long long>(), r[1].as<double>()};
  });
}

long long JobStore::Purge() {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_params(
        "DELETE FROM processing.jobs WHERE id IN (SELECT id FROM processing.jobs WHERE finished_at < now() - $1::float8 * interval '1 hour' "
        "LIMIT 10000)",
        static_cast<double>(options_.retention.count()));
    tx.commit();
    return static_cast<long long>(r.affected_rows());
  });
}

JobRunner::JobRunner(JobStore& store, suite::audit::Publisher& publisher, JobsOptions options)
    : store_(store), publisher_(publisher), options_(std::move(options)) {}

JobRunner::~JobRunner() { Stop(); }

void JobRunner::Start() {
  for (std::size_t i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Work(); });
  threads_.emplace_back([this] { Housekeep(); });
}

void JobRunner::Notify() { cv_.notify_one(); }

void JobRunner::Drain() {
  {
    std::lock_guard lock(mu_);
    draining_ = true;
  }
  cv_.notify_all();
}

void JobRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    draining_ = stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void JobRunner::Work() {
  auto pause = options_.poll;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (draining_) return;
    }
    std::optional<ClaimedJob> job;
    try {
      job = store_.Claim();
      pause = options_.poll;
    } catch (const std::exception& e) {
      suite::obs::Warn("jobs: cannot claim", {{"error", e.what()}});
      pause = std::min(pause * 2, std::chrono::milliseconds(10'000));
    }
    if (!job) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, pause, [this] { return draining_; });
      continue;
    }
    ++running_;
    const auto t0 = std::chrono::steady_clock::now();
    Outcome out;
    try {
      out = Run(job->body);
    } catch (const std::exception& e) {  // a bug, not the client's doing: the run failed, it is retried
      out.status = "failure";
      out.http_status = 500;
      out.error_code = "INTERNAL_ERROR";
      out.message = "the run failed unexpectedly";
      suite::obs::Error("jobs: run threw", {{"job_id", job->id}, {"error", e.what()}});
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool ok = out.status == "success";
    const json value = ok ? out.data : json{{"code", out.error_code}, {"message", out.message}};
    // The outcome is written until it is (the database may be restarting); a worker stopped
    // meanwhile leaves the job running, and the reaper queues it again.
    std::optional<std::string> ended;
    bool written = false;
    for (auto wait = std::chrono::milliseconds(100); !written;) {
      try {
        ended = store_.Finish(*job, ok, value);
        written = true;
      } catch (const std::exception& e) {
        suite::obs::Warn("jobs: cannot record an outcome, retrying", {{"job_id", job->id}, {"error", e.what()}});
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, wait, [this] { return stopping_; })) break;
        wait = std::min(wait * 2, std::chrono::milliseconds(5000));
      }
    }
    --running_;
    if (!ended || *ended == "queued") continue;  // reaped meanwhile, or to be retried
    NoteFinished(job->action, ok ? "success" : "failure", seconds);
    // The job's outcome joins seed 000's log, under the request that queued it.
    publisher_.Publish({.service = "processing",
                        .request_id = job->request_id,
                        .record = suite::audit::ProcessRecord{
                            .dataset_id = job->dataset_id,
                            .action = job->action,
                            .status = out.status == "success" ? suite::audit::Outcome::kSuccess
                                                              : suite::audit::Outcome::kFailure,
                            .duration_ms = static_cast<std::int64_t>(seconds * 1000),
                            .output = out.Output(),
                            .http_status = out.http_status,
                            .subject = job->owner}});
  }
}

void JobRunner::Housekeep() {
  auto next_purge = std::chrono::steady_clock::now();
  for (;;) {
    try {
      store_.Heartbeat();
      for (const auto& action : store_.Reap()) NoteFinished(action, "failure", 0);
      const auto depth = store_.Measure();
      queued_ = depth.queued;
      oldest_due_ = depth.oldest_due_seconds;
      if (std::chrono::steady_clock::now() >= next_purge) {
        if (const auto n = store_.Purge(); n > 0) suite::obs::Info("jobs: finished jobs past retention deleted", {{"count", n}});
        if (hourly_) hourly_();
        next_purge = std::chrono::steady_clock::now() + std::chrono::hours(1);
      }
    } catch (const std::exception& e) {
      suite::obs::Warn("jobs: housekeeping failed", {{"error", e.what()}});
    }
    std::unique_lock lock(mu_);
    // Beats until the stop: a draining worker's running job must not look dead meanwhile.
    if (cv_.wait_for(lock, options_.heartbeat, [this] { return stopping_; })) return;
  }
}

void JobRunner::NoteCreated(std::string_view action) {
  if (auto* c = created_[JobTypeIndex(action)]) c->Increment();
}

void JobRunner::NoteFinished(std::string_view action, std::string_view status, double seconds) {
  const auto type = JobTypeIndex(action);
  const std::size_t s = status == "success" ? 0 : status == "failure" ? 1 : 2;
  if (auto* c = completed_[type][s]) c->Increment();
  if (s != 2 && seconds_[type]) seconds_[type]->Observe(seconds);
}

void JobRunner::ExportMetrics(suite::obs::Metrics& metrics) {
  auto& registry = metrics.registry();
  auto& created = prometheus::BuildCounter().Name("jobs_created_total").Help("Jobs queued, by job type").Register(registry);
  auto& completed = prometheus::BuildCounter()
                        .Name("jobs_completed_total")
                        .Help("Jobs ended, by job type and status (success, failure, cancelled)")
                        .Register(registry);
  auto& seconds = prometheus::BuildHistogram()
                      .Name("job_processing_seconds")
                      .Help("Time a job's successful or final run took, by job type")
                      .Register(registry);
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                                                   0.1,    0.5,    1,     5,     30};
  constexpr std::array<const char*, 3> kStatuses = {"success", "failure", "cancelled"};
  for (std::size_t t = 0; t < kJobTypes.size(); ++t) {
    created_[t] = &created.Add({{"job_type", kJobTypes[t]}});
    for (std::size_t s = 0; s < kStatuses.size(); ++s)
      completed_[t][s] = &completed.Add({{"job_type", kJobTypes[t]}, {"status", kStatuses[s]}});
    seconds_[t] = &seconds.Add({{"job_type", kJobTypes[t]}}, kBuckets);
  }
  using Kind = suite::obs::Metrics::Kind;
  metrics.Expose("jobs_queue_depth", "Jobs waiting in the shared queue (due or backing off), every replica's view",
                 Kind::kGauge, {{"queue_name", "jobs"}}, [this] { return static_cast<double>(queued_.load()); });
  metrics.Expose("jobs_oldest_due_seconds", "How long the longest-waiting due job has waited for a worker",
                 Kind::kGauge, {{"queue_name", "jobs"}}, [this] { return oldest_due_.load(); });
  metrics.Expose("jobs_running", "Jobs this replica's workers are running", Kind::kGauge, {},
                 [this] { return static_cast<double>(running_.load()); });
}

}  // namespace processing
