#pragma once
/// Typed configuration from the environment. Every getter records what is wrong instead of
/// throwing, so that start-up can name every bad variable; `Finish()` prints them, one line
/// each, and exits with status 2.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace suite::core {

/// A whole decimal integer (optional '-'), nothing before or after; nullopt otherwise.
std::optional<std::int64_t> ParseInt(std::string_view text);

class Env {
 public:
  explicit Env(std::string service) : service_(std::move(service)) {}

  std::string Str(const char* name, std::optional<std::string> fallback = std::nullopt);
  /// A secret: required, never echoed, at least `min_len` bytes. `NAME_FILE` may point at a file.
  std::string Secret(const char* name, std::size_t min_len);
  /// The same when it may be absent (SMTP_PASSWORD); never echoed either.
  std::optional<std::string> OptionalSecret(const char* name);
  std::int64_t Int(const char* name, std::optional<std::int64_t> fallback, std::int64_t min,
                   std::int64_t max);
  bool Bool(const char* name, bool fallback);
  std::uint16_t Port(const char* name, std::optional<std::uint16_t> fallback);
  std::chrono::milliseconds Millis(const char* name, std::int64_t fallback_ms, std::int64_t min_ms,
                                   std::int64_t max_ms);
  /// Records a problem found by cross-checks after reading.
  void Fail(const char* name, const std::string& why);

  const std::vector<std::string>& errors() const { return errors_; }
  /// Exits(2) after printing every error when any was recorded.
  void Finish() const;

 private:
  std::optional<std::string> Raw(const char* name);
  std::string service_;
  std::vector<std::string> errors_;
};

}  // namespace suite::core
