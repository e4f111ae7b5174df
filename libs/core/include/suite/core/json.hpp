#pragma once
/// The one way untrusted JSON is parsed: bounded in size, nesting depth, element count and
/// string length, UTF-8 checked, U+0000 refused (PostgreSQL text and jsonb cannot hold it). The
/// limits are enforced while parsing (a SAX pass that stops at the first excess), so 100 KB of
/// `[[[[...` costs 64 levels, never a deep value and never a deep recursion elsewhere.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace suite::core {

struct JsonLimits {
  std::size_t max_bytes = 1024 * 1024;
  std::size_t max_depth = 64;          ///< nested arrays/objects
  std::size_t max_elements = 100'000;  ///< values of any kind in the document
  std::size_t max_string = 64 * 1024;  ///< bytes in one string or key
};

struct JsonResult {
  nlohmann::json value;  ///< discarded on failure
  std::string error;     ///< empty on success; a message safe to show the client
  std::string type;      ///< on failure: value_error.jsondecode, value_error.json.too_deep, ...
  bool ok() const { return error.empty(); }
};

/// Parses `text` under `limits`. Never throws on bad input.
JsonResult ParseJson(std::string_view text, const JsonLimits& limits = {});

/// Parses a request body: the value, or throws ApiError(kValidation, 422) whose details name
/// the failure (`{"errors":[{"field":"body","message":...,"type":...}]}`).
nlohmann::json ParseJsonBody(std::string_view text, const JsonLimits& limits = {});

/// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

/// Appends `s` as a JSON string (quoted, escaped). Text that is not UTF-8 (a client's raw bytes)
/// has its non-ASCII bytes replaced by '?', and U+0000 (which storage cannot hold) too: the
/// result is always valid JSON of clean text. For writers that build JSON without a document.
void AppendJsonString(std::string& out, std::string_view s);

/// Valid UTF-8 without U+0000: what every text field must be before it reaches storage.
bool IsCleanText(std::string_view s);

/// A-Z to a-z, every other byte kept (header names, host names, e-mail comparisons).
std::string AsciiLower(std::string_view s);
inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
/// Equal but for ASCII case (header names, protocol tokens), without a lowered copy of either.
bool AsciiEqualsIgnoreCase(std::string_view a, std::string_view b);

/// Without leading and trailing spaces and tabs (HTTP's optional whitespace, list items).
inline std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace suite::core
