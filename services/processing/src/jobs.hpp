#pragma once
/// Seed 003's jobs: POST /jobs queues a validated /process body in PostgreSQL; workers in every
/// replica claim due jobs with FOR UPDATE SKIP LOCKED, run them, and record the outcome. A
/// running job carries its worker's heartbeat: when a worker dies (kill -9, a lost node), the
/// job is queued again once the heartbeat is older than `stale_after`. A failed run is retried
/// with exponential backoff and the job ends as failed after `max_attempts` runs.
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "suite/core/error.hpp"
#include "suite/db/pool.hpp"
#include "suite/security/identity.hpp"

namespace prometheus {
class Counter;
class Histogram;
}  // namespace prometheus
namespace suite::audit {
class Publisher;
}
namespace suite::obs {
class Metrics;
}

namespace processing {

struct JobsOptions {
  std::size_t workers = 2;                           ///< JOBS_WORKERS; 0: this replica queues only
  int max_attempts = 3;                              ///< JOBS_MAX_ATTEMPTS
  std::chrono::milliseconds retry_base{1000};        ///< JOBS_RETRY_BASE_MS: 1st retry; doubles, at most 5 min
  std::chrono::milliseconds heartbeat{5000};         ///< JOBS_HEARTBEAT_MS
  std::chrono::milliseconds stale_after{30'000};     ///< JOBS_STALE_MS: a heartbeat this old means a dead worker
  std::chrono::milliseconds poll{500};               ///< JOBS_POLL_MS: an idle worker looks again this often
  std::size_t max_open_per_owner = 100;              ///< JOBS_MAX_OPEN_PER_OWNER: queued + running, else 429
  std::chrono::hours retention{24 * 7};              ///< JOBS_RETENTION_HOURS: finished jobs are deleted after
  std::string worker_name;                           ///< unique per process (host, pid, random)
};

/// The job types of the metrics' `job_type` label: the seed's actions, every other action
/// counted as "other" (a client-chosen label value would be a series per request).
inline constexpr std::array<const char*, 4> kJobTypes = {"summarize", "count", "validate", "other"};
std::size_t JobTypeIndex(std::string_view action);

/// Seed 003's 404: {"code":"JOB_NOT_FOUND","message":"Job not found: <id>","details":{"job_id":"<id>"}}.
suite::core::ApiError JobNotFound(std::string_view id);

/// Who may read or cancel a job: "user:<subject>" for a JWT caller, "key:<key id>" for an API key.
std::string OwnerOf(const suite::security::Identity& who);

/// A job a worker claimed.
struct ClaimedJob {
  std::string id, request_id, owner, action, dataset_id;
  nlohmann::json body;
  int attempts = 0, max_attempts = 0;
};

/// The jobs table (SQL only; each call is one transaction, so the pool may retry it).
class JobStore {
 public:
  JobStore(suite::db::Pool& pool, JobsOptions options) : pool_(pool), options_(std::move(options)) {}
  /// Queues a validated body; the job as GET /jobs/{id} shows it. 429 past the owner's cap.
  nlohmann::json Create(const std::string& owner, const std::string& request_id, const nlohmann::json& body);
  /// The job, when it exists and `owner` may see it (admins see every job); else nullopt.
  std::optional<nlohmann::json> Get(const std::string& id, const std::string& owner, bool admin);
  /// Cancels a queued job: the job, or 404 (unknown / not the caller's), or 409 (not queued).
  nlohmann::json Cancel(const std::string& id, const std::string& owner, bool admin);

  std::optional<ClaimedJob> Claim();
  /// Records a run's outcome; the status it left the job in ("completed", "queued" for a
  /// retry, "failed"), or nullopt when the job is no longer this worker's (it was reaped).
  std::optional<std::string> Finish(const ClaimedJob& job, bool success, const nlohmann::json& result_or_error);
  void Heartbeat();
  /// Jobs whose worker stopped beating: queued again, or failed when out of attempts. Returns
  /// the actions of those that failed.
  std::vector<std::string> Reap();
  struct Depth {
    long long queued = 0;        ///< waiting, due or backing off
    double oldest_due_seconds = 0;  ///< how long the longest-waiting due job has waited
  };
  Depth Measure();
  long long Purge();

 private:
  suite::db::Pool& pool_;
  JobsOptions options_;
};

/// The worker threads and the housekeeping thread (heartbeat, reaper, queue depth, retention).
class JobRunner {
 public:
  JobRunner(JobStore& store, suite::audit::Publisher& publisher, JobsOptions options);
  ~JobRunner();
  void Start();
  /// Also run `fn` in each hourly retention pass (other tables of the schema); before Start().
  void OnHousekeeping(std::function<void()> fn) { hourly_ = std::move(fn); }
  /// A job was queued here: wake one idle worker now.
  void Notify();
  void NoteCreated(std::string_view action);
  /// status: success | failure | cancelled.
  void NoteFinished(std::string_view action, std::string_view status, double seconds);
  /// jobs_created_total{job_type}, jobs_completed_total{job_type,status},
  /// job_processing_seconds{job_type}, jobs_queue_depth, jobs_oldest_due_seconds, jobs_running.
  void ExportMetrics(suite::obs::Metrics& metrics);
  /// Take no new job (the host's stop begins); running ones finish.
  void Drain();
  bool Drained() const { return running_ == 0; }
  void Stop();

 private:
  void Work();
  void Housekeep();
  JobStore& store_;
  suite::audit::Publisher& publisher_;
  JobsOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool draining_ = false, stopping_ = false;
  std::atomic<int> running_{0};
  std::atomic<long long> queued_{0};
  std::atomic<double> oldest_due_{0};
  std::vector<std::thread> threads_;
  std::function<void()> hourly_;
  std::array<prometheus::Counter*, kJobTypes.size()> created_{};
  /// [job type][success, failure, cancelled]
  std::array<std::array<prometheus::Counter*, 3>, kJobTypes.size()> completed_{};
  std::array<prometheus::Histogram*, kJobTypes.size()> seconds_{};
};

}  // namespace processing
