#include "user_keys.hpp"

#include "service_request.hpp"
#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
#include "suite/observability/log.hpp"
#include "suite/security/api_key.hpp"

namespace gateway {

using suite::http::Task;
using Clock = std::chrono::steady_clock;

namespace {
constexpr const char* kVerifyPath = "/internal/api-keys/verify";
}

KeyCheck AuthUserKeyVerifier::Read(const suite::http::ClientResult& r) {
  KeyCheck out;
  if (r.status != suite::http::ClientResult::Status::kOk) {
    out.verdict = KeyVerdict::kUnavailable;
    return out;
  }
  if (r.response.status == 401) return out;  // unknown, revoked, expired or its owner inactive
  if (r.response.status != 200) {
    out.verdict = KeyVerdict::kUnavailable;
    return out;
  }
  auto parsed = suite::core::ParseJson(r.response.body, {.max_bytes = 16 * 1024, .max_depth = 4,
                                                         .max_elements = 200, .max_string = 1024});
  const auto& j = parsed.value;
  auto str = [&](const char* k) -> std::optional<std::string> {
    if (!j.contains(k) || !j[k].is_string()) return std::nullopt;
    return j[k].get<std::string>();
  };
  const auto prefix = str("prefix"), tier = str("tier"), username = str("username");
  if (!parsed.ok() || !j.is_object() || j.value("valid", false) != true || !prefix || !tier || !username ||
      !j.contains("user_id") || !j["user_id"].is_number_integer()) {
    suite::obs::Warn("auth-user's key verification answer is unusable");
    out.verdict = KeyVerdict::kUnavailable;
    return out;
  }
  out.verdict = KeyVerdict::kValid;
  out.key.name = *prefix;
  // An end user's key has one of the public tiers; "unlimited" is the operator's (API_KEYS) alone.
  out.key.tier = *tier == "pro" || *tier == "enterprise" ? *tier : "free";
  out.key.subject = *username;
  if (j.contains("roles") && j["roles"].is_array())
    for (const auto& role : j["roles"])
      if (role.is_string()) out.key.roles.push_back(role);
  out.user_id = j["user_id"];
  if (j.contains("expires_at") && j["expires_at"].is_number_integer()) out.expires_at = j["expires_at"].get<long long>();
  return out;
}

Task<KeyCheck> AuthUserKeyVerifier::Verify(std::string key) {
  auto req = ServiceRequest(signer_, "POST", kVerifyPath);
  req.headers.emplace_back("content-type", "application/json");
  req.body = nlohmann::json{{"key", std::move(key)}}.dump();
  const auto result = co_await auth_user_.Call(std::move(req));
  co_return Read(result);
}

UserKeys::UserKeys(KeyVerifier& verifier, UserKeyOptions options)
    : verifier_(verifier), options_(options), lookups_(options.max_entries) {}

std::optional<KeyCheck> UserKeys::Cached(const std::string& hash) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(hash);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.until <= Clock::now()) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.check;
}

void UserKeys::Store(const std::string& hash, const KeyCheck& check) {
  const auto now = Clock::now();
  auto ttl = std::chrono::duration_cast<Clock::duration>(check.verdict == KeyVerdict::kValid ? options_.valid_ttl
                                                                                             : options_.invalid_ttl);
  if (check.verdict == KeyVerdict::kValid && check.expires_at) {
    const auto left = std::chrono::seconds(
        *check.expires_at - std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count());
    ttl = std::min(ttl, std::chrono::duration_cast<Clock::duration>(left));
  }
  if (ttl <= Clock::duration::zero()) return;
  std::lock_guard lock(mu_);
  // Without the revocation feed, a valid key is not remembered: each use asks auth-user.
  if (check.verdict == KeyVerdict::kValid && !live_) return;
  if (entries_.size() >= options_.max_entries) {
    for (auto it = entries_.begin(); it != entries_.end();) it = it->second.until <= now ? entries_.erase(it) : std::next(it);
    if (entries_.size() >= options_.max_entries) return;
  }
  entries_[hash] = {check, now + ttl};
}

Task<KeyCheck> UserKeys::Find(std::string key, std::string client_ip) {
  const std::string hash = suite::security::ApiKeyHash(key);
  if (auto hit = Cached(hash)) co_return *hit;
  // An uncached look-up costs auth-user a query: an address that keeps presenting keys that do
  // not exist is stopped here; and there is a bound on look-ups at once.
  KeyCheck refused;
  refused.verdict = KeyVerdict::kThrottled;
  const auto minute = std::chrono::seconds(60);
  if (lookups_.Exhausted(client_ip, options_.lookups_per_minute, minute)) co_return refused;
  refused.verdict = KeyVerdict::kUnavailable;
  if (!Enter()) co_return refused;
  KeyCheck check = co_await verifier_.Verify(std::move(key));
  Leave();
  if (check.verdict == KeyVerdict::kInvalid) lookups_.Check(client_ip, options_.lookups_per_minute, minute);
  if (check.verdict == KeyVerdict::kValid || check.verdict == KeyVerdict::kInvalid) Store(hash, check);
  co_return check;
}

bool UserKeys::Enter() {
  std::lock_guard lock(mu_);
  if (in_flight_ >= options_.max_in_flight) return false;
  ++in_flight_;
  return true;
}

void UserKeys::Leave() {
  std::lock_guard lock(mu_);
  --in_flight_;
}

void UserKeys::Revoked(const std::string& payload) {
  auto parsed = suite::core::ParseJson(payload, {.max_bytes = 4096, .max_depth = 2, .max_elements = 16, .max_string = 128});
  if (!parsed.ok() || !parsed.value.is_object()) {
    suite::obs::Warn("unreadable key revocation; forgetting every cached key");
    std::lock_guard lock(mu_);
    entries_.clear();
    return;
  }
  const auto& j = parsed.value;
  std::lock_guard lock(mu_);
  if (j.contains("key_hash") && j["key_hash"].is_string()) entries_.erase(j["key_hash"].get<std::string>());
  if (j.contains("user_id") && j["user_id"].is_number_integer()) {
    const auto user = j["user_id"].get<long long>();
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->second.check.verdict == KeyVerdict::kValid && it->second.check.user_id == user ? entries_.erase(it) : std::next(it);
  }
}

void UserKeys::SetLive(bool live) {
  std::lock_guard lock(mu_);
  live_ = live;
  if (!live) {
    // Revocations published from now on are missed: forget what they could have revoked.
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->second.check.verdict == KeyVerdict::kValid ? entries_.erase(it) : std::next(it);
  }
}

std::size_t UserKeys::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace gateway
