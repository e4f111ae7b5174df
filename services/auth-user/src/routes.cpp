#include "routes.hpp"

#include "suite/core/json.hpp"
#include "suite/http/service.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Request;
using suite::http::Response;

namespace {

// Credentials and profiles are small and flat.
constexpr suite::core::JsonLimits kLimits{.max_bytes = 64 * 1024, .max_depth = 8, .max_elements = 1000,
                                          .max_string = 4096};

nlohmann::json Missing(std::initializer_list<const char*> fields) {
  nlohmann::json errors = nlohmann::json::array();
  for (const char* f : fields) errors.push_back({{"field", f}, {"message", "field required"}, {"type", "missing"}});
  return errors;
}

// Seed 002 logs in with an OAuth2 form (username=&password=); JSON is accepted too.
std::pair<std::string, std::string> Credentials(const Request& req) {
  std::string user, pass;
  if (req.Header("content-type").rfind("application/json", 0) == 0) {
    auto j = suite::core::ParseJsonBody(req.body, kLimits);
    if (!j.is_object()) throw ApiError(ErrorCode::kValidation, "Request body must be a JSON object");
    if (j.contains("username") && j["username"].is_string()) user = j["username"];
    if (j.contains("password") && j["password"].is_string()) pass = j["password"];
  } else {
    auto form = suite::http::ParseForm(req.body);
    if (!form)
      throw ApiError(ErrorCode::kValidation, "Malformed form body",
                     {{"errors", nlohmann::json::array({{{"field", "body"},
                                                         {"message", "not form-encoded UTF-8 text"},
                                                         {"type", "value_error.form"}}})}});
    for (auto& [k, v] : *form) {
      if (k == "username") user = v;
      if (k == "password") pass = v;
    }
  }
  nlohmann::json errors = nlohmann::json::array();
  if (user.empty()) errors.push_back(Missing({"username"})[0]);
  if (pass.empty()) errors.push_back(Missing({"password"})[0]);
  if (!errors.empty()) throw ApiError(ErrorCode::kValidation, "Request validation failed", {{"errors", errors}});
  return {user, pass};
}

}  // namespace

void Register(suite::http::Router& router, suite::http::WorkerPool& workers, Users& users) {
  router.Blocking("POST", "/auth/register", workers, [&users](Request& req) {
    auto j = suite::core::ParseJsonBody(req.body, kLimits);
    if (!j.is_object()) throw ApiError(ErrorCode::kValidation, "Request body must be a JSON object");
    nlohmann::json errors = nlohmann::json::array();
    for (const char* f : {"username", "email", "password"})
      if (!j.contains(f) || !j[f].is_string()) errors.push_back(Missing({f})[0]);
    if (!errors.empty()) throw ApiError(ErrorCode::kValidation, "Request validation failed", {{"errors", errors}});
    return Response::Json(201, users.Register(j["username"], j["email"], j["password"]));
  });
  router.Blocking("POST", "/auth/login", workers, [&users](Request& req) {
    auto [user, pass] = Credentials(req);
    try {
      return Response::Json(200, users.Login(user, pass, suite::http::IdentityOf(req).client_ip));
    } catch (const ApiError& e) {
      if (e.code() != ErrorCode::kForbidden || !e.details().contains("retry_after_seconds")) throw;
      auto res = Response::Error(e.code(), e.what(), req.request_id, e.details());
      res.Set("retry-after", std::to_string(e.details()["retry_after_seconds"].get<long long>()));
      return res;
    }
  });
}

}  // namespace auth
