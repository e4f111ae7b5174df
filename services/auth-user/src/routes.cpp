#include "routes.hpp"


#include "suite/core/config.hpp"
#include "suite/core/json.hpp"
#include "suite/core/ids.hpp"
#include "suite/observability/log.hpp"
#include "suite/security/jwt.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::core::FieldError;
using suite::core::ValidationError;
using suite::http::Request;
using suite::http::Response;

namespace {

// Credentials and profiles are small and flat.
constexpr suite::core::JsonLimits kLimits{.max_bytes = 64 * 1024, .max_depth = 8, .max_elements = 1000,
                                          .max_string = 4096};

nlohmann::json Missing(const char* field) { return suite::core::FieldError(field, "field required", "missing"); }

// Seed 002 logs in with an OAuth2 form (username=&password=); JSON is accepted too. The device
// token of an earlier login comes as a `device_token` field or an X-Device-Token header.
struct LoginForm {
  std::string user, pass, device, totp;
};
LoginForm Credentials(const Request& req) {
  std::string user, pass, device(req.Header("x-device-token")), totp(req.Header("x-totp-code"));
  if (req.Header("content-type").rfind("application/json", 0) == 0) {
    auto j = suite::core::ParseJsonBody(req.body, kLimits);
    if (!j.is_object()) throw ApiError(ErrorCode::kValidation, "Request body must be a JSON object");
    if (j.contains("username") && j["username"].is_string()) user = j["username"];
    if (j.contains("password") && j["password"].is_string()) pass = j["password"];
    if (j.contains("device_token") && j["device_token"].is_string()) device = j["device_token"];
    if (j.contains("totp_code") && j["totp_code"].is_string()) totp = j["totp_code"];
  } else {
    auto form = suite::http::ParseForm(req.body);
    if (!form)
      throw ApiError(ErrorCode::kValidation, "Malformed form body",
                     {{"errors", nlohmann::json::array({FieldError("body", "not form-encoded UTF-8 text", "value_error.form")})}});
    for (auto& [k, v] : *form) {
      if (k == "username") user = v;
      if (k == "password") pass = v;
      if (k == "device_token") device = v;
      if (k == "totp_code") totp = v;
    }
  }
  nlohmann::json errors = nlohmann::json::array();
  if (user.empty()) errors.push_back(Missing("username"));
  if (pass.empty()) errors.push_back(Missing("password"));
  if (!errors.empty()) throw ValidationError(std::move(errors));
  return {user, pass, device, totp};
}

ClientInfo Client(const Request& req) {
  return {req.identity.client_ip, std::string(req.Header("user-agent")), req.request_id};
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
    throw ValidationError(nlohmann::json::array({Missing(name)}));
  return *it;
}

std::optional<std::string> OptionalField(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw ValidationError(name, "str type expected", "type_error.str");
  return it->get<std::string>();
}

// The signed-in user: the identity's subject, which for an access token is the username.
std::string Caller(const Request& req) {
  const auto& id = req.identity;
  if (id.subject.empty() || id.method == "none" || id.method == "api_key")
    throw ApiError(ErrorCode::kUnauthenticated, "A user's access token is required");
  return id.subject;
}

// Seed 004's admin endpoints need an administrator's token.
std::string Admin(const Request& req) {
  const auto& id = req.identity;
  if (id.method == "none" || id.subject.empty())
    throw ApiError(ErrorCode::kUnauthenticated, "A user's access token is required");
  if (!id.HasRole("admin")) throw ApiError(ErrorCode::kForbidden, "Administrator privileges required");
  return id.subject;
}

long long Integer(std::string_view text, long long min, long long max, const char* field) {
  const auto v = suite::core::ParseInt(text);
  if (!v || *v < min || *v > max) throw ValidationError(field, "not an integer in the allowed range");
  return *v;
}

Users::UserFilter ListFilter(const Request& req) {
  auto form = suite::http::ParseForm(req.query);
  if (!form) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
  Users::UserFilter f;
  for (auto& [k, v] : *form) {
    if (k == "skip") f.skip = Integer(v, 0, 1'000'000'000, "skip");
    else if (k == "limit") f.limit = static_cast<int>(Integer(v, 1, 100, "limit"));
    else if (k == "search") {
      if (v.size() > 254) throw ValidationError("search", "at most 254 characters");
      f.search = v;
    } else if (k == "is_active") {
      if (v != "true" && v != "false") throw ValidationError("is_active", "must be true or false");
      f.is_active = v == "true";
    } else if (k == "role") {
      if (v != "admin" && v != "user") throw ValidationError("role", "must be admin or user");
      f.role = v;
    }
  }
  return f;
}

std::optional<bool> OptionalBool(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw ValidationError(name, "value could not be parsed to a boolean", "type_error.bool");
  return it->get<bool>();
}

// "/users/{id}[/{action}]" -> id and action; nullopt for anything else.
struct UserPath {
  long long id = 0;
  std::string action;
};
std::optional<UserPath> ParseUserPath(std::string_view path) {
  constexpr std::string_view kPrefix = "/users/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  const auto slash = path.find('/');
  const auto id_text = path.substr(0, slash);
  const auto id = suite::core::ParseInt(id_text);
  if (!id || *id <= 0) return std::nullopt;
  UserPath out;
  out.id = *id;
  if (slash != std::string_view::npos) out.action = std::string(path.substr(slash + 1));
  return out;
}

Actor ActorOf(const Request& req) { return {Caller(req), req.identity.HasRole("admin")}; }

std::optional<int> OptionalInt(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<long long>() < INT32_MIN || it->get<long long>() > INT32_MAX)
    throw ValidationError(name, "value is not a valid integer", "type_error.integer");
  return it->get<int>();
}

// "/api-keys/{id}" -> id.
long long KeyId(std::string_view path) {
  constexpr std::string_view kPrefix = "/api-keys/";
  const auto id = path.substr(0, kPrefix.size()) == kPrefix ? suite::core::ParseInt(path.substr(kPrefix.size()))
                                                             : std::nullopt;
  if (!id || *id <= 0) throw ApiError(ErrorCode::kNotFound, "Not Found");
  return *id;
}

void RegisterApiKeys(suite::http::Router& router, suite::service::WorkerPool& workers, Users& users, ApiKeys& keys) {
  auto create = [&users, &keys](Request& req) {
    const auto actor = ActorOf(req);
    const auto body = JsonObject(req);
    auto key = keys.Create(actor, Field(body, "name"), OptionalField(body, "tier"), OptionalInt(body, "expires_in_days"));
    users.Emit("api_key_created", Severity::kInfo, key["user_id"].get<long long>(), actor.username, Client(req),
               {{"key_id", key["id"]}, {"prefix", key["prefix"]}, {"tier", key["tier"]}});
    return Response::Json(201, key);
  };
  auto list = [&keys](Request& req) { return Response::Json(200, keys.List(ActorOf(req))); };
  router.Blocking("POST", "/api-keys", workers, create);
  router.Blocking("POST", "/api-keys/", workers, create);
  router.Blocking("GET", "/api-keys", workers, list);
  router.Blocking("GET", "/api-keys/", workers, list);
  router.Blocking("DELETE", "/api-keys/*", workers, [&users, &keys](Request& req) {
    const auto actor = ActorOf(req);
    const auto key = keys.Revoke(actor, KeyId(req.path));
    users.Emit("api_key_revoked", Severity::kWarning, key["user_id"].get<long long>(), "", Client(req),
               {{"key_id", key["id"]}, {"prefix", key["prefix"]}, {"actor", actor.username}});
    Response res;
    res.status = 204;
    return res;
  });
  // The gateway's lookup. Only the gateway's own identity may ask: it never forwards a client's
  // request to /internal/, and no client identity it signs has the method "service".
  router.Blocking("POST", "/internal/api-keys/verify", workers, [&keys](Request& req) {
    const auto& id = req.identity;
    if (id.method != "service" || id.subject != "gateway")
      throw ApiError(ErrorCode::kForbidden, "For the gateway only");
    auto found = keys.Verify(Field(JsonObject(req), "key"));
    if (!found) throw ApiError(ErrorCode::kUnauthenticated, "Invalid API key");
    return Response::Json(200, *found);
  });
}

// OAuth 2.0's token endpoint answers errors as RFC 6749 5.2 says (`error` a code,
// `error_description`), beside our `detail` and `request_id`; never cached.
Response OAuthError(const Request& req, int status, const char* error, const std::string& description,
                    bool basic = false) {
  auto res = Response::Json(status, {{"error", error}, {"error_description", description}, {"detail", description},
                                     {"request_id", req.request_id}});
  res.Set("cache-control", "no-store");
  if (status == 401) res.Set("www-authenticate", basic ? "Basic realm=\"oauth\"" : "Bearer realm=\"oauth\"");
  return res;
}

// The client's credentials: HTTP Basic (client_secret_basic) or the form (client_secret_post),
// not both (RFC 6749 2.3.1).
struct ClientCredentials {
  std::string id, secret;
  bool basic = false;
};
std::optional<ClientCredentials> BasicCredentials(std::string_view header) {
  if (header.size() < 6 || (header.substr(0, 6) != "Basic " && header.substr(0, 6) != "basic ")) return std::nullopt;
  std::string b64(header.substr(6));
  if (b64.size() > 1024) return std::nullopt;
  for (auto& ch : b64) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  const auto decoded = suite::security::Base64UrlDecode(b64);
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return ClientCredentials{decoded->substr(0, colon), decoded->substr(colon + 1), true};
}

void RegisterOAuth(suite::http::Router& router, suite::service::WorkerPool& workers, Users& users,
                   ServiceClients& clients, Throttle& throttle, const std::string& public_base_url,
                   const std::string& algorithm) {
  // OpenID Connect Discovery: what another gateway (or any OIDC client) needs to take our tokens.
  router.Blocking("GET", "/.well-known/openid-configuration", workers, [&users, public_base_url, algorithm](Request&) {
    const auto& cfg = users.config();
    auto res = Response::Json(
        200, {{"issuer", cfg.issuer},
              {"jwks_uri", public_base_url + "/.well-known/jwks.json"},
              {"token_endpoint", public_base_url + "/oauth/token"},
              {"grant_types_supported", {"client_credentials"}},
              {"token_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post"}},
              {"response_types_supported", {"token"}},
              {"subject_types_supported", {"public"}},
              {"id_token_signing_alg_values_supported", {algorithm}},
              {"claims_supported", {"iss", "sub", "aud", "exp", "iat", "jti", "roles", "scope", "client_id", "tier"}}});
    res.Set("cache-control", "public, max-age=300");
    return res;
  });
  // client_credentials (RFC 6749 4.4): a service account's token, without a user.
  router.Blocking("POST", "/oauth/token", workers, [&users, &clients, &throttle](Request& req) {
    throttle.Token(Client(req).ip);
    if (req.Header("content-type").rfind("application/x-www-form-urlencoded", 0) != 0)
      return OAuthError(req, 400, "invalid_request", "The body must be application/x-www-form-urlencoded");
    const auto form = suite::http::ParseForm(req.body);
    if (!form) return OAuthError(req, 400, "invalid_request", "Malformed form body");
    std::optional<std::string> grant, scope, form_id, form_secret;
    for (const auto& [k, v] : *form) {
      auto& slot = k == "grant_type" ? grant : k == "scope" ? scope : k == "client_id" ? form_id
                   : k == "client_secret" ? form_secret : scope;
      if (k != "grant_type" && k != "scope" && k != "client_id" && k != "client_secret") continue;
      if (slot) return OAuthError(req, 400, "invalid_request", "Parameter " + k + " given twice");
      slot = v;
    }
    if (!grant) return OAuthError(req, 400, "invalid_request", "grant_type is required");
    if (*grant != "client_credentials")
      return OAuthError(req, 400, "unsupported_grant_type", "Only client_credentials is supported here");
    auto creds = BasicCredentials(req.Header("authorization"));
    if (creds && (form_id || form_secret))
      return OAuthError(req, 400, "invalid_request", "Client credentials in both the header and the body");
    if (!creds) {
      if (!form_id || !form_secret) return OAuthError(req, 401, "invalid_client", "Client authentication required");
      creds = ClientCredentials{*form_id, *form_secret, false};
    }
    if (scope && scope->size() > 2048) return OAuthError(req, 400, "invalid_scope", "scope is too long");
    const auto client = clients.Authenticate(creds->id, creds->secret);
    if (!client) {
      users.Emit("client_authentication_failed", Severity::kWarning, std::nullopt, "", Client(req),
                 {{"client_id", creds->id.substr(0, 64)}});
      return OAuthError(req, 401, "invalid_client", "Client authentication failed", creds->basic);
    }
    const auto granted = GrantedScopes(*client, scope.value_or(""));
    if (!granted) return OAuthError(req, 400, "invalid_scope", "A requested scope is not granted to this client");
    std::string scope_text;
    for (const auto& s : *granted) scope_text += (scope_text.empty() ? "" : " ") + s;
    const auto& cfg = users.config();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    const auto ttl = clients.config().token_ttl.count();
    const nlohmann::json claims = {{"iss", cfg.issuer}, {"aud", cfg.audience}, {"sub", "client:" + client->client_id},
                                   {"client_id", client->client_id}, {"scope", scope_text},
                                   {"roles", nlohmann::json::array()}, {"tier", client->tier}, {"type", "access"},
                                   {"jti", suite::core::NewUuid()}, {"iat", now}, {"exp", now + ttl}};
    users.Emit("client_token_issued", Severity::kInfo, std::nullopt, "", Client(req),
               {{"client_id", client->client_id}, {"scope", scope_text}});
    auto res = Response::Json(200, {{"access_token", users.SignAccess(claims)}, {"token_type", "Bearer"},
                                    {"expires_in", ttl}, {"scope", scope_text}});
    res.Set("cache-control", "no-store");
    return res;
  });
  // The service accounts (administrators).
  router.Blocking("POST", "/auth/clients", workers, [&users, &clients](Request& req) {
    const auto admin = Admin(req);
    const auto body = JsonObject(req);
    std::vector<std::string> scopes;
    if (const auto it = body.find("scopes"); it != body.end() && !it->is_null()) {
      if (!it->is_array()) throw ValidationError("scopes", "must be a list of strings", "type_error.list");
      for (const auto& s : *it) {
        if (!s.is_string()) throw ValidationError("scopes", "must be a list of strings", "type_error.list");
        scopes.push_back(s.get<std::string>());
      }
    }
    auto out = clients.Create(admin, Field(body, "name"), scopes, OptionalField(body, "tier").value_or("free"));
    users.Emit("client_created", Severity::kWarning, std::nullopt, admin, Client(req),
               {{"client_id", out["client_id"]}, {"scopes", out["scopes"]}, {"tier", out["tier"]}});
    return Response::Json(201, out);
  });
  router.Blocking("GET", "/auth/clients", workers, [&clients](Request& req) {
    Admin(req);
    return Response::Json(200, clients.List());
  });
  router.Blocking("DELETE", "/auth/clients/*", workers, [&users, &clients](Request& req) {
    const auto admin = Admin(req);
    const std::string id = req.path.substr(std::string_view("/auth/clients/").size());
    auto out = clients.Revoke(id);
    users.Emit("client_revoked", Severity::kWarning, std::nullopt, admin, Client(req), {{"client_id", id}});
    return Response::Json(200, out);
  });
}

}  // namespace

void Register(suite::http::Router& router, suite::service::WorkerPool& workers, Components c) {
  Users& users = c.users;
  Throttle& throttle = c.throttle;
  ApiKeys& keys = c.keys;
  SigningKeys& signing = c.signing;
  RegisterApiKeys(router, workers, users, keys);
  RegisterOAuth(router, workers, users, c.clients, throttle, c.public_base_url, c.algorithm);
  // TOTP second factor of the signed-in user.
  router.Blocking("POST", "/auth/totp/enroll", workers, [&users](Request& req) {
    return Response::Json(200, users.TotpEnroll(Caller(req), Client(req)));
  });
  router.Blocking("POST", "/auth/totp/confirm", workers, [&users](Request& req) {
    const auto caller = Caller(req);
    return Response::Json(200, users.TotpConfirm(caller, Field(JsonObject(req), "code"), Client(req)));
  });
  router.Blocking("POST", "/auth/totp/disable", workers, [&users](Request& req) {
    const auto caller = Caller(req);
    const auto body = JsonObject(req);
    users.TotpDisable(caller, Field(body, "password"), Field(body, "code"), Client(req));
    return Response::Json(200, {{"enabled", false}, {"message", "Two-factor authentication is off"}});
  });
  // The public keys of access tokens (public at the gateway), and their rotation (admin).
  router.Blocking("GET", "/.well-known/jwks.json", workers, [&signing](Request&) {
    auto res = Response::Json(200, signing.Jwks());
    res.Set("cache-control", "public, max-age=60");
    return res;
  });
  router.Blocking("GET", "/auth/signing-keys", workers, [&signing](Request& req) {
    Admin(req);
    return Response::Json(200, signing.List());
  });
  router.Blocking("POST", "/auth/signing-keys/rotate", workers, [&users, &signing](Request& req) {
    const auto actor = Admin(req);
    auto out = signing.Rotate();
    users.Emit("signing_key_rotated", Severity::kWarning, std::nullopt, actor, Client(req),
               {{"kid", out["kid"]}, {"retired", out["retired"]}});
    return Response::Json(200, out);
  });
  router.Blocking("POST", "/auth/register", workers, [&users, &throttle](Request& req) {
    throttle.Register(Client(req).ip);
    auto j = suite::core::ParseJsonBody(req.body, kLimits);
    if (!j.is_object()) throw ApiError(ErrorCode::kValidation, "Request body must be a JSON object");
    nlohmann::json errors = nlohmann::json::array();
    for (const char* f : {"username", "email", "password"})
      if (!j.contains(f) || !j[f].is_string()) errors.push_back(Missing(f));
    if (!errors.empty()) throw ValidationError(std::move(errors));
    return Response::Json(201, users.Register(j["username"], j["email"], j["password"], Client(req)));
  });
  router.Blocking("POST", "/auth/login", workers, [&users, &throttle](Request& req) {
    throttle.Login(Client(req).ip);
    const auto form = Credentials(req);
    return Response::Json(200, users.Login(form.user, form.pass, Client(req), form.device, form.totp));
  });
  // E-mail links (public at the gateway). The request endpoints answer alike for every address.
  router.Blocking("GET", "/auth/verify-email", workers, [&users](Request& req) {
    auto form = suite::http::ParseForm(req.query);
    if (!form) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
    std::string token;
    for (auto& [k, v] : *form)
      if (k == "token") token = v;
    if (token.empty()) throw ValidationError(nlohmann::json::array({Missing("token")}));
    return Response::Json(200, users.VerifyEmail(token, Client(req)));
  });
  router.Blocking("POST", "/auth/verify-email", workers, [&users](Request& req) {
    return Response::Json(200, users.VerifyEmail(Field(JsonObject(req), "token"), Client(req)));
  });
  // Requests for a mailed link: throttled per address, answered 202 alike for every e-mail, and
  // the lookup and the mail run after the answer (a known address must not answer later than an
  // unknown one: timing would tell who has an account).
  auto mail_request = [&](const char* path, void (Users::*send)(const std::string&, const ClientInfo&),
                          const char* message) {
    router.Blocking("POST", path, workers, [&users, &throttle, &workers, send, message](Request& req) {
      throttle.Mail(Client(req).ip);
      workers.Submit([&users, send, email = Field(JsonObject(req), "email"), client = Client(req)] {
        (users.*send)(email, client);
      }, [] { suite::obs::Warn("mail request dropped: workers busy"); });
      return Response::Json(202, {{"message", message}});
    });
  };
  mail_request("/auth/resend-verification", &Users::ResendVerification,
               "If the address belongs to an unverified account, a new verification link is on its way.");
  mail_request("/auth/forgot-password", &Users::ForgotPassword,
               "If the address belongs to an account, a password reset link is on its way.");
  router.Blocking("POST", "/auth/reset-password", workers, [&users](Request& req) {
    const auto body = JsonObject(req);
    users.ResetPassword(Field(body, "token"), Field(body, "new_password"), Client(req));
    return Response::Json(200, {{"message", "Password has been reset. Log in with the new password."}});
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
    const auto ended = users.LogoutAll(Caller(req), Client(req));
    return Response::Json(200, {{"message", "All sessions ended"}, {"sessions_ended", ended}});
  });
  router.Blocking("GET", "/auth/sessions", workers, [&users](Request& req) {
    return Response::Json(200, users.ListSessions(Caller(req)));
  });
  router.Blocking("POST", "/auth/change-password", workers, [&users](Request& req) {
    const auto caller = Caller(req);
    const auto body = JsonObject(req);
    users.ChangePassword(caller, Field(body, "current_password"), Field(body, "new_password"), Client(req));
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
  // Administration (seed 004): /users/, /users/{id}, /users/{id}/activate|deactivate|unlock.
  router.Blocking("GET", "/users/*", workers, [&users](Request& req) {
    Admin(req);
    if (req.path == "/users" || req.path == "/users/") return Response::Json(200, users.ListUsers(ListFilter(req)));
    const auto p = ParseUserPath(req.path);
    if (!p || !p->action.empty()) throw ApiError(ErrorCode::kNotFound, "Not Found");
    return Response::Json(200, users.GetUser(p->id));
  });
  router.Blocking("POST", "/users/*", workers, [&users, &keys](Request& req) {
    const auto actor = Admin(req);
    if (req.path == "/users" || req.path == "/users/") {
      const auto body = JsonObject(req);
      const bool admin = OptionalBool(body, "is_superuser").value_or(false);
      const bool verified = OptionalBool(body, "is_verified").value_or(false);
      auto user = users.Register(Field(body, "username"), Field(body, "email"), Field(body, "password"), Client(req),
                                 {.admin = admin, .verified = verified, .self = false});
      users.Emit("admin_user_create", Severity::kWarning, user["id"].get<long long>(), user["username"], Client(req),
                 {{"actor", actor}, {"admin", admin}});
      return Response::Json(201, user);
    }
    const auto p = ParseUserPath(req.path);
    if (!p || (p->action != "activate" && p->action != "deactivate" && p->action != "unlock"))
      throw ApiError(ErrorCode::kNotFound, "Not Found");
    auto user = users.SetState(p->id, p->action, actor, Client(req));
    if (p->action == "deactivate") keys.AnnounceUserRevoked(p->id);
    return Response::Json(200, user);
  });
  router.Blocking("PUT", "/users/*", workers, [&users, &keys](Request& req) {
    const auto actor = Admin(req);
    const auto p = ParseUserPath(req.path);
    if (!p || !p->action.empty()) throw ApiError(ErrorCode::kNotFound, "Not Found");
    const auto body = JsonObject(req);
    Users::UserChanges ch;
    ch.username = OptionalField(body, "username");
    ch.email = OptionalField(body, "email");
    ch.password = OptionalField(body, "password");
    ch.is_active = OptionalBool(body, "is_active");
    ch.is_verified = OptionalBool(body, "is_verified");
    ch.is_superuser = OptionalBool(body, "is_superuser");
    auto user = users.UpdateUser(p->id, ch, actor, Client(req));
    if (ch.is_active == false) keys.AnnounceUserRevoked(p->id);
    return Response::Json(200, user);
  });
  router.Blocking("DELETE", "/users/*", workers, [&users, &keys](Request& req) {
    const auto actor = Admin(req);
    const auto p = ParseUserPath(req.path);
    if (!p || !p->action.empty()) throw ApiError(ErrorCode::kNotFound, "Not Found");
    users.DeleteUser(p->id, actor, Client(req));
    keys.AnnounceUserRevoked(p->id);
    Response res;
    res.status = 204;
    return res;
  });
}

}  // namespace auth
