#include "api_keys.hpp"

#include "rate_limit_config.hpp"

#include <nlohmann/json.hpp>

#include "suite/core/json.hpp"
#include "suite/security/jwt.hpp"

namespace gateway {

std::optional<ApiKeyStore> ApiKeyStore::Parse(std::string_view text, std::string& error) {
  ApiKeyStore store;
  auto add = [&](std::string key, std::string name, std::string tier) -> bool {
    if (key.size() < 8) {
      error = "every key must be at least 8 characters";
      return false;
    }
    if (tier != "free" && tier != "pro" && tier != "enterprise" && tier != kUnlimitedTier) {
      error = "tier must be free, pro, enterprise or unlimited";
      return false;
    }
    for (const auto& e : store.entries_)
      if (e.key.name == name) {
        error = "duplicate key name '" + name + "'";
        return false;
      }
    store.entries_.push_back({suite::security::Sha256Hex(key), {std::move(name), std::move(tier)}});
    return true;
  };
  if (!text.empty() && text.front() == '[') {
    auto parsed = suite::core::ParseJson(text, {.max_bytes = 1 << 20, .max_depth = 4, .max_elements = 100'000,
                                                 .max_string = 4096});
    const auto& j = parsed.value;
    if (!parsed.ok() || !j.is_array()) {
      error = "is not valid JSON";
      return std::nullopt;
    }
    for (std::size_t i = 0; i < j.size(); ++i) {
      const auto& e = j[i];
      if (!e.is_object() || !e.contains("key") || !e["key"].is_string()) {
        error = "entry " + std::to_string(i) + " needs a string \"key\"";
        return std::nullopt;
      }
      for (const char* field : {"name", "tier"})
        if (e.contains(field) && !e[field].is_string()) {
          error = "entry " + std::to_string(i) + ": \"" + field + "\" must be a string";
          return std::nullopt;
        }
      if (!add(e["key"], e.value("name", "key-" + std::to_string(i + 1)), e.value("tier", "free")))
        return std::nullopt;
    }
  } else {
    std::size_t i = 0;
    while (!text.empty()) {
      auto comma = text.find(',');
      std::string key(text.substr(0, comma));
      text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
      while (!key.empty() && key.back() == ' ') key.pop_back();
      while (!key.empty() && key.front() == ' ') key.erase(0, 1);
      if (key.empty()) continue;
      if (!add(std::move(key), "key-" + std::to_string(++i), "free")) return std::nullopt;
    }
  }
  if (store.entries_.empty()) {
    error = "must hold at least one key";
    return std::nullopt;
  }
  return store;
}

std::optional<ApiKey> ApiKeyStore::Find(std::string_view presented) const {
  const std::string digest = suite::security::Sha256Hex(presented);
  std::optional<ApiKey> found;
  for (const auto& e : entries_)  // no early exit: time does not depend on which key matched
    if (suite::security::ConstantTimeEquals(e.digest, digest)) found = e.key;
  return found;
}

}  // namespace gateway
