#include "suite/core/config_reader.hpp"

#include <algorithm>

namespace suite::core {

ConfigReader::ConfigReader(const nlohmann::json& j, std::vector<std::string>& errors, std::string path)
    : j_(j), errors_(errors), path_(std::move(path)) {}

std::string ConfigReader::Path(std::string_view key) const {
  if (key.empty()) return path_.empty() ? "/" : path_;
  // RFC 6901 escaping of '~' and '/' in a key.
  std::string out = path_ + "/";
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

void ConfigReader::Fail(std::string_view key, const std::string& why) { errors_.push_back(Path(key) + ": " + why); }

bool ConfigReader::IsObject() {
  if (j_.is_object()) return true;
  Fail("", "must be an object");
  return false;
}

const nlohmann::json* ConfigReader::Member(std::string_view key) const {
  if (!j_.is_object()) return nullptr;
  const auto it = j_.find(std::string(key));
  return it == j_.end() ? nullptr : &*it;
}

bool ConfigReader::Has(std::string_view key) const { return Member(key) != nullptr; }

void ConfigReader::OnlyKeys(std::initializer_list<std::string_view> keys) {
  if (!j_.is_object()) return;
  for (const auto& [k, v] : j_.items())
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) Fail(k, "unknown key");
}

std::optional<ConfigReader> ConfigReader::At(std::string_view key) {
  const auto* m = Member(key);
  if (m == nullptr) return std::nullopt;
  return ConfigReader(*m, errors_, Path(key));
}

std::vector<ConfigReader> ConfigReader::Items(std::string_view key) {
  std::vector<ConfigReader> out;
  const auto* m = Member(key);
  if (m == nullptr) return out;
  if (!m->is_array()) {
    Fail(key, "must be an array");
    return out;
  }
  for (std::size_t i = 0; i < m->size(); ++i) out.emplace_back((*m)[i], errors_, Path(key) + "/" + std::to_string(i));
  return out;
}

void ConfigReader::Required(std::string_view key, std::string& out) {
  if (!Has(key)) {
    Fail(key, "is required");
    return;
  }
  Optional(key, out);
}

void ConfigReader::Optional(std::string_view key, std::string& out) {
  const auto* m = Member(key);
  if (m == nullptr) return;
  if (!m->is_string()) return Fail(key, "must be a string");
  out = m->get<std::string>();
}

void ConfigReader::Optional(std::string_view key, std::optional<std::string>& out) {
  const auto* m = Member(key);
  if (m == nullptr) return;
  if (!m->is_string()) return Fail(key, "must be a string");
  out = m->get<std::string>();
}

void ConfigReader::Optional(std::string_view key, bool& out) {
  const auto* m = Member(key);
  if (m == nullptr) return;
  if (!m->is_boolean()) return Fail(key, "must be true or false");
  out = m->get<bool>();
}

void ConfigReader::Optional(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max) {
  const auto* m = Member(key);
  if (m == nullptr) return;
  if (!m->is_number_integer()) return Fail(key, "must be an integer");
  const auto v = m->get<std::int64_t>();
  if (v < min || v > max) return Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  out = v;
}

void ConfigReader::Optional(std::string_view key, std::vector<std::string>& out) {
  const auto* m = Member(key);
  if (m == nullptr) return;
  if (!m->is_array()) return Fail(key, "must be an array of strings");
  std::vector<std::string> values;
  for (std::size_t i = 0; i < m->size(); ++i) {
    if (!(*m)[i].is_string()) {
      errors_.push_back(Path(key) + "/" + std::to_string(i) + ": must be a string");
      return;
    }
    values.push_back((*m)[i].get<std::string>());
  }
  out = std::move(values);
}

}  // namespace suite::core
