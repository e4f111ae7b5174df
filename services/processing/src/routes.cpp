#include "routes.hpp"

#include <iomanip>
#include <sstream>

#include "idempotency.hpp"
#include "jobs.hpp"
#include "process.hpp"
#include "suite/core/json.hpp"
#include "suite/core/ids.hpp"

namespace processing {

using suite::http::Request;
using suite::http::Response;
using suite::core::ErrorCode;

namespace {

std::optional<std::string> OrNone(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

Response HandleProcess(Request& req, suite::audit::Publisher& publisher, const suite::core::JsonLimits& limits) {
  const Outcome out = Process(req.body, limits);
  const auto& caller = req.identity;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - req.start).count();
  publisher.Publish({.service = "processing",
                     .request_id = req.request_id,
                     .record = suite::audit::ProcessRecord{
                         .dataset_id = OrNone(out.dataset_id),
                         .action = OrNone(out.action),
                         .status = out.status == "success" ? suite::audit::Outcome::kSuccess
                                                           : suite::audit::Outcome::kFailure,
                         .duration_ms = ms,
                         .output = out.Output(),
                         .http_status = out.http_status,
                         .client = OrNone(caller.client_ip),
                         .subject = OrNone(caller.subject)}});
  if (out.status == "success")
    return Response::Json(200, {{"request_id", req.request_id}, {"status", "success"}, {"data", out.data}});
  const auto code = out.http_status == 422 ? ErrorCode::kValidation : ErrorCode::kBadRequest;
  return Response::Error(code, out.message, req.request_id, out.details);
}

// Seed 001's POST /api/test: echoes a test run.
Response HandleApiTest(Request& req, const suite::core::JsonLimits& limits) {
  auto body = suite::core::ParseJsonBody(req.body, limits);
  if (!body.is_object())
    return Response::Error(ErrorCode::kValidation, "Request body must be a JSON object", req.request_id,
                           {{"errors", nlohmann::json::array({suite::core::FieldError("body", "invalid JSON object", "type_error.dict")})}});
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream id;
  id << "test_" << std::put_time(&tm, "%Y%m%d_%H%M%S");
  nlohmann::json out = {{"success", true}, {"test_id", id.str()}, {"timestamp", suite::core::NowIso()}};
  out["received_data"] = std::move(body);  // moved: the client's value is never deep-copied
  return Response::Json(200, out);
}

// Answers with `answer()` at most once per caller, route and Idempotency-Key (when the request
// has one); a retry gets the kept answer.
template <class F>
Response Idempotent(Request& req, Idempotency& idem, const std::string& route, F&& answer) {
  const auto header = req.Header("idempotency-key");
  if (!req.HasHeader("idempotency-key")) return answer();
  Idempotency::CheckKey(header);
  const std::string key(header), owner = OwnerOf(req.identity);
  if (auto kept = idem.Begin(owner, route, key, req.body)) {
    Response replay;
    replay.status = kept->status;
    replay.body = std::move(kept->body);
    replay.Set("Content-Type", "application/json");
    replay.Set("Idempotent-Replayed", "true");
    return replay;
  }
  Response res;
  try {
    res = answer();
  } catch (...) {
    idem.Release(owner, route, key);
    throw;
  }
  // A refused body (422) or a failure of ours (5xx) is not an answer to keep.
  if (res.status == 422 || res.status >= 500)
    idem.Release(owner, route, key);
  else
    idem.Finish(owner, route, key, {res.status, res.body});
  return res;
}

std::string JobId(const Request& req) {
  constexpr std::string_view kPrefix = "/jobs/";
  return req.path.size() > kPrefix.size() ? req.path.substr(kPrefix.size()) : std::string();
}

}  // namespace

void RegisterJobs(suite::http::Router& router, suite::http::Offload& workers, JobStore& store, JobRunner& runner,
                  Idempotency& idempotency, suite::core::JsonLimits limits) {
  auto create_once = [&store, &runner, limits](Request& req) {
    auto parsed = Parse(req.body, limits);
    if (!parsed.ok) return Response::Error(ErrorCode::kValidation, parsed.invalid.message, req.request_id, parsed.invalid.details);
    const auto& caller = req.identity;
    auto job = store.Create(OwnerOf(caller), req.request_id, parsed.body);
    runner.NoteCreated(job["action"].get_ref<const std::string&>());
    runner.Notify();
    const std::string location = "/jobs/" + job["job_id"].get<std::string>();
    auto res = Response::Json(202, {{"job_id", job["job_id"]}, {"status", job["status"]}, {"request_id", req.request_id},
                                    {"created_at", job["created_at"]}, {"status_url", location}});
    res.Set("Location", location);
    return res;
  };
  auto create = [create_once, &idempotency](Request& req) {
    return Idempotent(req, idempotency, "POST /jobs", [&] { return create_once(req); });
  };
  router.Blocking("POST", "/jobs", workers, create);
  router.Blocking("POST", "/jobs/", workers, create);
  router.Blocking("GET", "/jobs/*", workers, [&store](Request& req) {
    const auto& caller = req.identity;
    const auto id = JobId(req);
    auto job = store.Get(id, OwnerOf(caller), caller.HasRole("admin"));
    if (!job) throw JobNotFound(id);
    return Response::Json(200, *job);
  });
  router.Blocking("DELETE", "/jobs/*", workers, [&store, &runner](Request& req) {
    const auto& caller = req.identity;
    auto job = store.Cancel(JobId(req), OwnerOf(caller), caller.HasRole("admin"));
    runner.NoteFinished(job["action"].get_ref<const std::string&>(), "cancelled", 0);
    return Response::Json(200, job);
  });
}

void Register(suite::http::Router& router, suite::http::Offload& workers, suite::audit::Publisher& publisher,
              Idempotency& idempotency, suite::core::JsonLimits limits) {
  router.Blocking("POST", "/process", workers, [&publisher, &idempotency, limits](Request& req) {
    return Idempotent(req, idempotency, "POST /process", [&] { return HandleProcess(req, publisher, limits); });
  });
  router.Inline("POST", "/api/test", [limits](Request& req) { return HandleApiTest(req, limits); });
}

}  // namespace processing
