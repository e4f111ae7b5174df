// auth-user: users, passwords (argon2id), lockout, access tokens, e-mail links, API keys.
#include <string_view>

#include "routes.hpp"
#include "settings.hpp"
#include "signing_keys.hpp"
#include "suite/audit/publisher.hpp"
#include "suite/db/migrations.hpp"
#include "suite/observability/log.hpp"
#include "suite/security/api_key.hpp"

namespace auth {
const std::vector<suite::db::Migration>& Migrations();
}

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--migrate")
    return suite::db::MigrateCommand("auth-user", "auth", auth::Migrations());
  suite::core::Env env("auth-user");
  const auto s = auth::Settings::FromEnv(env);
  env.Finish();

  suite::service::Host host(s.host);
  auto& pool = host.Own<suite::db::Pool>(s.database_url, host.workers().threads(), std::chrono::milliseconds(2000));
  auto& redis = host.Own<suite::redis::Client>(host.io(), s.redis, "audit-publisher");
  // Security events go to the audit stream; publishing never blocks a request.
  auto audit_options = s.audit;
  audit_options.sync_on = &host.workers();  // the spool's msync waits for the disk: never on the loop
  auto& publisher = host.Own<suite::audit::Publisher>(redis, audit_options);
  host.readiness().Required("database", [&pool] { return pool.Ping(); });
  host.readiness().Optional("redis", [&redis] { return redis.connected(); });
  auto& hasher = host.Own<suite::security::PasswordHasher>(s.password);
  auto& jwt = host.Own<suite::security::Hs256>(s.jwt_secret);
  auto& users = host.Own<auth::Users>(pool, hasher, jwt, s.auth, s.sessions, s.email);
  auto& sender = host.Own<auth::SmtpSender>(s.smtp);
  auto& outbox = host.Own<auth::Outbox>(pool, sender);
  if (sender.enabled()) users.SetOutbox(&outbox);
  users.SetEventSink([&publisher](suite::audit::Event event) { publisher.Publish(std::move(event)); });
  auto& signing = host.Own<auth::SigningKeys>(pool, suite::security::SecretBox(s.signing_secret), s.auth.access_ttl);
  users.SetTotp(&host.Own<auth::Totp>(suite::security::SecretBox(s.signing_secret), s.totp_issuer));
  if (s.algorithm == "ES256") users.SetSigner([&signing](const nlohmann::json& claims) { return signing.Sign(claims); });
  redis.Start();
  try {
    pool.WaitReachable(std::chrono::seconds(60));  // then a failure below is the reason to exit
    pool.With([](pqxx::connection& c) { return suite::db::Migrate(c, "auth", auth::Migrations()); });
    signing.EnsureKey();
    if (!s.admin_user.empty() && users.EnsureAdmin(s.admin_user, s.admin_email, s.admin_password))
      suite::obs::Info("bootstrap admin created", {{"username", s.admin_user}});
  } catch (const std::exception& e) {
    suite::obs::Error("start-up failed", {{"error", e.what()}});
    return 1;
  }
  outbox.Start();
  auto& throttle =
      host.Own<auth::Throttle>(pool, s.login_per_minute, s.register_per_minute, s.mail_per_minute, s.token_per_minute);
  auto& clients = host.Own<auth::ServiceClients>(pool, s.clients);
  auto& keys = host.Own<auth::ApiKeys>(pool, auth::ApiKeyConfig{.max_per_user = s.max_keys_per_user});
  // Revocations reach gateway caches at once (pub/sub); a gateway that missed one still
  // re-checks a cached key within its cache lifetime.
  keys.SetRevocationSink([&redis](const nlohmann::json& notice) {
    redis.Command({"PUBLISH", suite::security::kApiKeyRevocations, notice.dump()}, [](suite::redis::Reply reply) {
      if (!reply.ok()) suite::obs::Warn("API-key revocation not published", {{"error", reply.str}});
    });
  });
  auth::Register(host.router(), host.workers(),
                 {users, throttle, keys, signing, clients, s.email.public_base_url, s.algorithm});
  host.ServeApi();
  return host.Run();
}
