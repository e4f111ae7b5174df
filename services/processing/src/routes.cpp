#include "routes.hpp"

#include <iomanip>
#include <sstream>

#include "process.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/service.hpp"

namespace processing {

using suite::http::Request;
using suite::http::Response;
using suite::core::ErrorCode;

namespace {

nlohmann::json OrNull(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

Response HandleProcess(Request& req, suite::audit::Publisher& publisher) {
  const Outcome out = Process(req.body);
  const auto caller = suite::http::IdentityOf(req);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - req.start).count();
  publisher.Publish({{"type", "process"},
                     {"service", "processing"},
                     {"request_id", req.request_id},
                     {"dataset_id", OrNull(out.dataset_id)},
                     {"action", OrNull(out.action)},
                     {"status", out.status},
                     {"duration_ms", ms},
                     {"output", out.Output()},
                     {"http_status", out.http_status},
                     {"client", caller.client_ip},
                     {"subject", caller.subject}});
  if (out.status == "success")
    return Response::Json(200, {{"request_id", req.request_id}, {"status", "success"}, {"data", out.data}});
  const auto code = out.http_status == 422 ? ErrorCode::kValidation : ErrorCode::kBadRequest;
  return Response::Error(code, out.message, req.request_id, out.details);
}

// Seed 001's POST /api/test: echoes a test run.
Response HandleApiTest(Request& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return Response::Error(ErrorCode::kValidation, "Request body must be a JSON object", req.request_id,
                           {{"errors", nlohmann::json::array({{{"field", "body"}, {"message", "invalid JSON object"}, {"type", "value_error"}}})}});
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream id;
  id << "test_" << std::put_time(&tm, "%Y%m%d_%H%M%S");
  return Response::Json(200, {{"success", true}, {"test_id", id.str()}, {"received_data", body},
                              {"timestamp", suite::core::NowIso()}});
}

}  // namespace

void Register(suite::http::Router& router, suite::audit::Publisher& publisher) {
  router.Inline("POST", "/process", [&publisher](Request& req) { return HandleProcess(req, publisher); });
  router.Inline("POST", "/api/test", [](Request& req) { return HandleApiTest(req); });
}

}  // namespace processing
