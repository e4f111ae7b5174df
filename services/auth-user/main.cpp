// auth-user: users, passwords (argon2id), lockout, access tokens, e-mail links.
#include "mail.hpp"
#include "routes.hpp"
#include "signing_keys.hpp"
#include "suite/audit/publisher.hpp"
#include "suite/redis/client.hpp"
#include "suite/db/migrations.hpp"
#include "suite/http/host.hpp"
#include "suite/security/api_key.hpp"
#include "suite/observability/log.hpp"

namespace auth {
const std::vector<suite::db::Migration>& Migrations();
}

int main() {
  suite::core::Env env("auth-user");
  auto host_config = suite::http::HostConfig::FromEnv(env, "auth-user", 8081);
  const auto database_url = env.Secret("DATABASE_URL", 1);
  const auto redis_options = suite::redis::OptionsFromEnv(env, "REDIS_URL");
  const auto jwt_secret = env.Secret("JWT_SECRET", 32);
  auth::AuthConfig cfg;
  cfg.access_ttl = std::chrono::minutes(env.Int("ACCESS_TOKEN_EXPIRE_MINUTES", 15, 1, 24 * 60));
  cfg.device_secret = jwt_secret;
  cfg.password_min_score = static_cast<int>(env.Int("PASSWORD_MIN_SCORE", 3, 0, 4));
  cfg.lockout_threshold = static_cast<int>(env.Int("LOCKOUT_THRESHOLD", 5, 1, 100));
  cfg.lockout_duration = std::chrono::minutes(env.Int("LOCKOUT_MINUTES", 30, 1, 24 * 60));
  const int login_per_minute = static_cast<int>(env.Int("LOGIN_RATE_PER_MINUTE", 10, 0, 100'000));
  const int register_per_minute = static_cast<int>(env.Int("REGISTER_RATE_PER_MINUTE", 5, 0, 100'000));
  auth::SessionConfig sessions;
  sessions.refresh_ttl = std::chrono::hours(24 * env.Int("REFRESH_TOKEN_EXPIRE_DAYS", 7, 1, 365));
  sessions.reuse_grace = std::chrono::seconds(env.Int("REFRESH_REUSE_GRACE_SECONDS", 5, 0, 60));
  suite::security::PasswordParams pw;
  pw.ops_limit = static_cast<std::uint64_t>(env.Int("ARGON2_OPS_LIMIT", 2, 1, 10));
  pw.mem_limit = static_cast<std::size_t>(env.Int("ARGON2_MEMORY_KIB", 64 * 1024, 8, 4 * 1024 * 1024)) * 1024;
  // ES256 signing keys live in PostgreSQL sealed under SIGNING_KEYS_SECRET; the JWKS is always
  // published. ACCESS_TOKEN_ALGORITHM chooses what signs access tokens (HS256: seed 000's secret).
  const auto signing_secret = env.Secret("SIGNING_KEYS_SECRET", 32);
  const auto algorithm = env.Str("ACCESS_TOKEN_ALGORITHM", "ES256");
  if (algorithm != "HS256" && algorithm != "ES256") env.Fail("ACCESS_TOKEN_ALGORITHM", "must be HS256 or ES256");
  if (signing_secret == jwt_secret) env.Fail("SIGNING_KEYS_SECRET", "must differ from JWT_SECRET");
  cfg.issuer = env.Str("JWT_ISSUER", "suite-auth");
  cfg.audience = env.Str("JWT_AUDIENCE", "suite-api");
  const auto env_totp_issuer = env.Str("TOTP_ISSUER", "suite");
  const auto max_keys = env.Int("MAX_API_KEYS_PER_USER", 20, 1, 1000);
  const int mail_per_minute = static_cast<int>(env.Int("MAIL_RATE_PER_MINUTE", 5, 0, 100'000));
  // E-mail (seed 004): SMTP_HOST/PORT/USER/PASSWORD, EMAIL_FROM (defaults to SMTP_USER).
  auth::SmtpConfig smtp;
  smtp.host = env.Str("SMTP_HOST", "");
  smtp.port = env.Port("SMTP_PORT", 587);
  smtp.user = env.Str("SMTP_USER", "");
  smtp.password = env.OptionalSecret("SMTP_PASSWORD").value_or("");
  smtp.from = env.Str("EMAIL_FROM", smtp.user.find('@') != std::string::npos ? smtp.user : "no-reply@localhost");
  smtp.tls = env.Str("SMTP_TLS", "auto");
  smtp.ca_file = env.Str("SMTP_CA_FILE", "");
  smtp.timeout = std::chrono::seconds(env.Int("SMTP_TIMEOUT_SECONDS", 15, 1, 300));
  if (smtp.host.find_first_of(" /\r\n@") != std::string::npos) env.Fail("SMTP_HOST", "must be a host name or address");
  if (smtp.tls != "auto" && smtp.tls != "required" && smtp.tls != "implicit")
    env.Fail("SMTP_TLS", "must be auto, required or implicit");
  if (smtp.from.find('@') == std::string::npos || smtp.from.find_first_of(" <>\r\n") != std::string::npos)
    env.Fail("EMAIL_FROM", "must be a plain address (name@domain)");
  auth::EmailConfig email;
  email.require_verification = env.Bool("REQUIRE_EMAIL_VERIFICATION", true);
  email.public_base_url = env.Str("PUBLIC_BASE_URL", "http://localhost:8000");
  while (!email.public_base_url.empty() && email.public_base_url.back() == '/') email.public_base_url.pop_back();
  if ((email.public_base_url.rfind("https://", 0) != 0 && email.public_base_url.rfind("http://", 0) != 0) ||
      email.public_base_url.find_first_of(" \r\n\"") != std::string::npos)
    env.Fail("PUBLIC_BASE_URL", "must be an http:// or https:// URL (where the gateway is reached)");
  email.verify_ttl = std::chrono::hours(env.Int("EMAIL_VERIFICATION_EXPIRE_HOURS", 24, 1, 24 * 30));
  email.reset_ttl = std::chrono::minutes(env.Int("PASSWORD_RESET_EXPIRE_MINUTES", 60, 5, 24 * 60));
  if (email.require_verification && smtp.host.empty())
    env.Fail("REQUIRE_EMAIL_VERIFICATION",
             "is true (the default) but SMTP_HOST is not set: no one could confirm an address. Set SMTP_HOST, "
             "or REQUIRE_EMAIL_VERIFICATION=false");
  const auto admin_user = env.Str("ADMIN_USERNAME", "");
  const auto admin_email = env.Str("ADMIN_EMAIL", "");
  const auto admin_password = admin_user.empty() ? std::string() : env.Secret("ADMIN_PASSWORD", 8);
  if (!admin_user.empty() && admin_email.empty()) env.Fail("ADMIN_EMAIL", "is required with ADMIN_USERNAME");
  env.Finish();

  suite::http::ServiceHost svc(std::move(host_config));
  suite::db::Pool pool(database_url, svc.workers().threads(), std::chrono::milliseconds(2000));
  suite::security::PasswordHasher hasher(pw);
  suite::security::Hs256 jwt(jwt_secret);
  auth::Users users(pool, hasher, jwt, cfg, sessions, email);
  auth::SmtpSender sender(smtp);
  auth::Outbox outbox(pool, sender);
  if (sender.enabled()) users.SetOutbox(&outbox);
  // Security events go to the audit stream; publishing never blocks a request.
  suite::redis::Client redis(svc.runtime().io(), redis_options, "audit-publisher");
  redis.Start();
  suite::audit::Publisher publisher(redis);
  svc.runtime().OnStop(nullptr, [&] { return publisher.Drained(); });
  users.SetEventSink([&publisher](nlohmann::json event) { publisher.Publish(std::move(event)); });
  auth::SigningKeys signing(pool, suite::security::SecretBox(signing_secret), cfg.access_ttl);
  auth::Totp totp(suite::security::SecretBox(signing_secret), env_totp_issuer);
  users.SetTotp(&totp);
  if (algorithm == "ES256") users.SetSigner([&signing](const nlohmann::json& claims) { return signing.Sign(claims); });
  try {
    pool.With([](pqxx::connection& c) { return suite::db::Migrate(c, "auth", auth::Migrations()); });
    signing.EnsureKey();
    if (!admin_user.empty() && users.EnsureAdmin(admin_user, admin_email, admin_password))
      suite::obs::Info("bootstrap admin created", {{"username", admin_user}});
  } catch (const std::exception& e) {
    suite::obs::Error("start-up failed", {{"error", e.what()}});
    return 1;
  }
  outbox.Start();
  auth::Throttle throttle(pool, login_per_minute, register_per_minute, mail_per_minute);
  auth::ApiKeys keys(pool, {.max_per_user = static_cast<int>(max_keys)});
  // Revocations reach gateway caches at once (pub/sub); a gateway that missed one still
  // re-checks a cached key within its cache lifetime.
  keys.SetRevocationSink([&redis](const nlohmann::json& notice) {
    redis.Command({"PUBLISH", suite::security::kApiKeyRevocations, notice.dump()}, [](suite::redis::Reply reply) {
      if (!reply.ok()) suite::obs::Warn("API-key revocation not published", {{"error", reply.str}});
    });
  });
  auth::Register(svc.router(), svc.workers(), {users, throttle, keys, signing});
  const int rc = svc.Run([&] {
    return nlohmann::json{{"database", pool.Ping() ? "ok" : "unavailable"},
                          {"redis", redis.connected() ? "ok" : "unavailable"}};
  });
  outbox.Stop();
  publisher.Stop();
  redis.Stop();
  return rc;
}
