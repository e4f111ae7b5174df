#include "suite/core/config.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace suite::core {

std::optional<std::string> Env::Raw(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

void Env::Fail(const char* name, const std::string& why) {
  errors_.push_back(std::string(name) + ": " + why);
}

std::string Env::Str(const char* name, std::optional<std::string> fallback) {
  if (auto v = Raw(name)) return *v;
  if (!fallback) Fail(name, "is required");
  return fallback.value_or("");
}

std::string Env::Secret(const char* name, std::size_t min_len) {
  auto value = OptionalSecret(name);
  if (!value) {
    Fail(name, "is required (or " + std::string(name) + "_FILE)");
    return {};
  }
  if (value->size() < min_len)
    Fail(name, "must be at least " + std::to_string(min_len) + " characters");
  return *value;
}

std::optional<std::string> Env::OptionalSecret(const char* name) {
  std::optional<std::string> value = Raw(name);
  if (!value) {
    const std::string file_var = std::string(name) + "_FILE";
    if (auto path = Raw(file_var.c_str())) {
      std::ifstream in(*path);
      if (!in) {
        Fail(file_var.c_str(), "cannot read the file it names");
        return std::string();
      }
      std::stringstream ss;
      ss << in.rdbuf();
      value = ss.str();
      while (!value->empty() && (value->back() == '\n' || value->back() == '\r')) value->pop_back();
    }
  }
  return value;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t out = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return out;
}

std::int64_t Env::Int(const char* name, std::optional<std::int64_t> fallback, std::int64_t min,
                      std::int64_t max) {
  auto v = Raw(name);
  if (!v) {
    if (!fallback) Fail(name, "is required");
    return fallback.value_or(min);
  }
  const auto parsed = ParseInt(*v);
  if (!parsed) {
    Fail(name, "must be an integer, got '" + *v + "'");
    return fallback.value_or(min);
  }
  const std::int64_t out = *parsed;
  if (out < min || out > max) {
    Fail(name, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return fallback.value_or(min);
  }
  return out;
}

bool Env::Bool(const char* name, bool fallback) {
  auto v = Raw(name);
  if (!v) return fallback;
  if (*v == "true" || *v == "1" || *v == "yes" || *v == "on") return true;
  if (*v == "false" || *v == "0" || *v == "no" || *v == "off") return false;
  Fail(name, "must be true or false, got '" + *v + "'");
  return fallback;
}

std::uint16_t Env::Port(const char* name, std::optional<std::uint16_t> fallback) {
  std::optional<std::int64_t> fb;
  if (fallback) fb = *fallback;
  return static_cast<std::uint16_t>(Int(name, fb, 0, 65535));
}

std::chrono::milliseconds Env::Millis(const char* name, std::int64_t fallback_ms,
                                      std::int64_t min_ms, std::int64_t max_ms) {
  return std::chrono::milliseconds(Int(name, fallback_ms, min_ms, max_ms));
}

void Env::Finish() const {
  if (errors_.empty()) return;
  for (const auto& e : errors_)
    std::fprintf(stderr, "%s: configuration error: %s\n", service_.c_str(), e.c_str());
  std::exit(2);
}

}  // namespace suite::core
