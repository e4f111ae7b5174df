#pragma once
/// Test helpers for tests that need real servers. By hand, without a DSN, such a test is
/// skipped with a warning; under tests/run (SUITE_REQUIRE_SERVERS=1) a missing DSN fails it.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>

namespace suite::testing {

inline std::optional<std::string> ServerUrl(const char* var) {
  const char* v = std::getenv(var);
  if (v != nullptr && *v != '\0') return std::string(v);
  const char* req = std::getenv("SUITE_REQUIRE_SERVERS");
  if (req != nullptr && std::string(req) == "1") FAIL(var << " is not set but servers are required");
  WARN(var << " not set: skipping");
  return std::nullopt;
}

}  // namespace suite::testing
