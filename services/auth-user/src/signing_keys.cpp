#include "signing_keys.hpp"

#include "suite/core/ids.hpp"
#include "suite/observability/log.hpp"

namespace auth {

namespace {
// A key advertised while a token it signed may still be live.
const char* const kPublished =
    "(retired_at IS NULL OR retired_at + make_interval(secs => $1) > now())";
}  // namespace

std::string SigningKeys::Create(pqxx::work& tx) {
  const auto key = suite::security::EcKey::Generate();
  const std::string kid = suite::core::NewUuid();
  const std::string sealed = box_.Seal(key.PrivatePem(), kid);
  tx.exec_params("INSERT INTO auth.signing_keys (kid, public_jwk, private_key) VALUES ($1, $2, $3)", kid,
                 key.PublicJwk(kid).dump(), pqxx::binarystring(sealed.data(), sealed.size()));
  return kid;
}

void SigningKeys::EnsureKey() {
  pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))");
    if (tx.exec("SELECT 1 FROM auth.signing_keys WHERE retired_at IS NULL").empty()) {
      const auto kid = Create(tx);
      suite::obs::Info("signing key created", {{"kid", kid}});
    }
    tx.commit();
    return 0;
  });
  Current(std::chrono::milliseconds(0));  // opens the key now: a wrong SIGNING_KEYS_SECRET stops the start
}

std::shared_ptr<const SigningKeys::Ring> SigningKeys::Current(std::chrono::milliseconds max_age) {
  {
    std::lock_guard lock(mu_);
    if (ring_ && std::chrono::steady_clock::now() - ring_->loaded < max_age) return ring_;
  }
  auto ring = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const double keep = static_cast<double>((token_ttl_ + reload_).count() + 60);
    auto rows = tx.exec_params(std::string("SELECT kid, public_jwk, private_key, retired_at IS NULL AS current FROM "
                                           "auth.signing_keys WHERE ") + kPublished + " ORDER BY created_at DESC",
                               keep);
    auto next = std::make_shared<Ring>();
    next->jwks = {{"keys", nlohmann::json::array()}};
    for (const auto& r : rows) {
      next->jwks["keys"].push_back(nlohmann::json::parse(r["public_jwk"].c_str()));
      if (!next->key && r["current"].as<bool>()) {
        const std::string kid = r["kid"].c_str();
        const pqxx::binarystring sealed(r["private_key"]);
        next->kid = kid;
        next->key = std::make_shared<const suite::security::EcKey>(
            suite::security::EcKey::FromPrivatePem(box_.Open(sealed.str(), kid)));
      }
    }
    if (!next->key) throw std::runtime_error("no current signing key");
    next->loaded = std::chrono::steady_clock::now();
    return std::shared_ptr<const Ring>(std::move(next));
  });
  std::lock_guard lock(mu_);
  ring_ = ring;
  return ring;
}

std::string SigningKeys::Sign(const nlohmann::json& claims) {
  const auto ring = Current(reload_);
  return suite::security::SignEs256(*ring->key, ring->kid, claims);
}

// Fresher than the signing key: a key another replica just made must be published before the
// gateway meets a token it signed (a second's cache keeps a flood of requests off the database).
nlohmann::json SigningKeys::Jwks() { return Current(std::chrono::seconds(1))->jwks; }

nlohmann::json SigningKeys::List() {
  return pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const double keep = static_cast<double>((token_ttl_ + reload_).count() + 60);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& r : tx.exec_params(
             "SELECT kid, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"'), "
             "to_char(retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"'), "
             "to_char((retired_at + make_interval(secs => $1)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') "
             "FROM auth.signing_keys ORDER BY created_at DESC LIMIT 50",
             keep)) {
      auto ts = [&](int i) { return r[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(r[i].c_str()); };
      items.push_back({{"kid", r[0].c_str()},
                       {"algorithm", "ES256"},
                       {"created_at", ts(1)},
                       {"retired_at", ts(2)},
                       {"published_until", ts(3)},
                       {"current", r[2].is_null()}});
    }
    return nlohmann::json{{"items", items}};
  });
}

nlohmann::json SigningKeys::Rotate() {
  auto out = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))");
    nlohmann::json retired = nlohmann::json::array();
    for (const auto& r : tx.exec("UPDATE auth.signing_keys SET retired_at = now() WHERE retired_at IS NULL RETURNING kid"))
      retired.push_back(r[0].c_str());
    const auto kid = Create(tx);
    tx.commit();
    return nlohmann::json{{"kid", kid}, {"retired", retired}};
  });
  Current(std::chrono::milliseconds(0));
  return out;
}

}  // namespace auth
