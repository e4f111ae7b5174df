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

ClientInfo Client(const Request& req) {
  return {suite::http::IdentityOf(req).client_ip, std::string(req.Header("user-agent"))};
}

nlohmann::json JsonObject(const Request& req) {
  auto j = suite::core::ParseJsonBody(req.body, kLimits);
  if (!j.is_object()) throw ApiError(ErrorCode::kValidation, "Request body must be a JSON object");
  return j;
}

// A required string field, or a 422 naming it.
std::string Field(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
    throw ApiError(ErrorCode::kValidation, "Request validation failed", {{"errors", Missing({name})}});
  return *it;
}

std::optional<std::string> OptionalField(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string())
    throw ApiError(ErrorCode::kValidation, "Request validation failed",
                   {{"errors", nlohmann::json::array({{{"field", name}, {"message", "str type expected"},
                                                       {"type", "type_error.str"}}})}});
  return it->get<std::string>();
}

// The signed-in user: the identity's subject, which for an access token is the username.
std::string Caller(const Request& req) {
  const auto id = suite::http::IdentityOf(req);
  if (id.subject.empty() || id.method == "none" || id.method == "api_key")
    throw ApiError(ErrorCode::kUnauthenticated, "A user's access token is required");
  return id.subject;
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
      return Response::Json(200, users.Login(user, pass, Client(req)));
    } catch (const ApiError& e) {
      if (e.code() != ErrorCode::kForbidden || !e.details().contains("retry_after_seconds")) throw;
      auto res = Response::Error(e.code(), e.what(), req.request_id, e.details());
      res.Set("retry-after", std::to_string(e.details()["retry_after_seconds"].get<long long>()));
      return res;
    }
  });
  // Sessions: the refresh token is the credential (public at the gateway).
  router.Blocking("POST", "/auth/refresh", workers, [&users](Request& req) {
    return Response::Json(200, users.Refresh(Field(JsonObject(req), "refresh_token"), Client(req)));
  });
  router.Blocking("POST", "/auth/logout", workers, [&users](Request& req) {
    users.Logout(Field(JsonObject(req), "refresh_token"));
    return Response::Json(200, {{"message", "Successfully logged out"}});
  });
  router.Blocking("POST", "/auth/logout-all", workers, [&users](Request& req) {
    const auto ended = users.LogoutAll(Caller(req));
    return Response::Json(200, {{"message", "All sessions ended"}, {"sessions_ended", ended}});
  });
  router.Blocking("GET", "/auth/sessions", workers, [&users](Request& req) {
    return Response::Json(200, users.ListSessions(Caller(req)));
  });
  router.Blocking("POST", "/auth/change-password", workers, [&users](Request& req) {
    const auto caller = Caller(req);
    const auto body = JsonObject(req);
    users.ChangePassword(caller, Field(body, "current_password"), Field(body, "new_password"));
    return Response::Json(200, {{"message", "Password changed successfully"}});
  });
  router.Blocking("GET", "/users/me", workers, [&users](Request& req) {
    return Response::Json(200, users.Me(Caller(req)));
  });
  router.Blocking("PUT", "/users/me", workers, [&users](Request& req) {
    const auto caller = Caller(req);
    const auto body = JsonObject(req);
    return Response::Json(200, users.UpdateMe(caller, OptionalField(body, "username"), OptionalField(body, "email")));
  });
}

}  // namespace auth
