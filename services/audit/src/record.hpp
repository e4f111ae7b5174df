#pragma once
/// Decoding of one audit stream record (the `event` field of an `audit.events` entry), apart
/// from Redis and PostgreSQL so that it can be tested and fuzzed alone.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace audit {

/// The event when `text` is a bounded JSON object whose fields have the types the store
/// writes (event_id a non-empty string; duration_ms and http_status integers; the text fields
/// strings or null); nullopt otherwise, with the reason in `why`.
std::optional<nlohmann::json> ParseStreamEvent(std::string_view text, std::string& why);

}  // namespace audit
