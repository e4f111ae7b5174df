#include "settings.hpp"

namespace auth {

Settings Settings::FromEnv(suite::core::Env& env) {
  Settings s;
  s.host = suite::service::HostConfig::FromEnv(env, "auth-user", 8081);
  s.database_url = env.Secret("DATABASE_URL", 1);
  s.redis = suite::redis::OptionsFromEnv(env, "REDIS_URL");
  s.audit = suite::audit::PublisherOptionsFromEnv(env, "auth-user");
  s.jwt_secret = env.Secret("JWT_SECRET", 32);
  auto& cfg = s.auth;
  cfg.access_ttl = std::chrono::minutes(env.Int("ACCESS_TOKEN_EXPIRE_MINUTES", 15, 1, 24 * 60));
  cfg.device_secret = s.jwt_secret;
  cfg.password_min_score = static_cast<int>(env.Int("PASSWORD_MIN_SCORE", 3, 0, 4));
  cfg.lockout_threshold = static_cast<int>(env.Int("LOCKOUT_THRESHOLD", 5, 1, 100));
  cfg.lockout_duration = std::chrono::minutes(env.Int("LOCKOUT_MINUTES", 30, 1, 24 * 60));
  s.login_per_minute = static_cast<int>(env.Int("LOGIN_RATE_PER_MINUTE", 10, 0, 100'000));
  s.register_per_minute = static_cast<int>(env.Int("REGISTER_RATE_PER_MINUTE", 5, 0, 100'000));
  s.sessions.refresh_ttl = std::chrono::hours(24 * env.Int("REFRESH_TOKEN_EXPIRE_DAYS", 7, 1, 365));
  s.sessions.reuse_grace = std::chrono::seconds(env.Int("REFRESH_REUSE_GRACE_SECONDS", 5, 0, 60));
  s.password.ops_limit = static_cast<std::uint64_t>(env.Int("ARGON2_OPS_LIMIT", 2, 1, 10));
  s.password.mem_limit =
      static_cast<std::size_t>(env.Int("ARGON2_MEMORY_KIB", 64 * 1024, 8, 4 * 1024 * 1024)) * 1024;
  // ES256 signing keys live in PostgreSQL sealed under SIGNING_KEYS_SECRET; the JWKS is always
  // published. ACCESS_TOKEN_ALGORITHM chooses what signs access tokens (HS256: seed 000's secret).
  s.signing_secret = env.Secret("SIGNING_KEYS_SECRET", 32);
  s.algorithm = env.Str("ACCESS_TOKEN_ALGORITHM", "ES256");
  if (s.algorithm != "HS256" && s.algorithm != "ES256") env.Fail("ACCESS_TOKEN_ALGORITHM", "must be HS256 or ES256");
  if (s.signing_secret == s.jwt_secret) env.Fail("SIGNING_KEYS_SECRET", "must differ from JWT_SECRET");
  cfg.issuer = env.Str("JWT_ISSUER", "suite-auth");
  cfg.audience = env.Str("JWT_AUDIENCE", "suite-api");
  s.totp_issuer = env.Str("TOTP_ISSUER", "suite");
  s.max_keys_per_user = static_cast<int>(env.Int("MAX_API_KEYS_PER_USER", 20, 1, 1000));
  s.mail_per_minute = static_cast<int>(env.Int("MAIL_RATE_PER_MINUTE", 5, 0, 100'000));
  s.token_per_minute = static_cast<int>(env.Int("OAUTH_TOKEN_RATE_PER_MINUTE", 120, 0, 100'000));
  s.clients.token_ttl = std::chrono::seconds(env.Int("CLIENT_TOKEN_EXPIRE_SECONDS", 900, 60, 86'400));
  s.clients.max_clients = static_cast<int>(env.Int("MAX_SERVICE_CLIENTS", 1000, 1, 100'000));
  // E-mail (seed 004): SMTP_HOST/PORT/USER/PASSWORD, EMAIL_FROM (defaults to SMTP_USER).
  auto& smtp = s.smtp;
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
  auto& email = s.email;
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
  s.admin_user = env.Str("ADMIN_USERNAME", "");
  s.admin_email = env.Str("ADMIN_EMAIL", "");
  s.admin_password = s.admin_user.empty() ? std::string() : env.Secret("ADMIN_PASSWORD", 8);
  if (!s.admin_user.empty() && s.admin_email.empty()) env.Fail("ADMIN_EMAIL", "is required with ADMIN_USERNAME");
  return s;
}

}  // namespace auth
