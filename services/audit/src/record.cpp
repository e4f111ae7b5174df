#include "record.hpp"

#include "suite/core/json.hpp"

namespace audit {

std::optional<nlohmann::json> ParseStreamEvent(std::string_view text, std::string& why) {
  // An event is produced by our services; these bounds are far above any real one.
  static constexpr suite::core::JsonLimits kLimits{
      .max_bytes = 1024 * 1024, .max_depth = 32, .max_elements = 50'000, .max_string = 64 * 1024};
  auto parsed = suite::core::ParseJson(text, kLimits);
  if (!parsed.ok()) {
    why = parsed.error;
    return std::nullopt;
  }
  auto& e = parsed.value;
  if (!e.is_object()) {
    why = "event is not an object";
    return std::nullopt;
  }
  const auto id = e.find("event_id");
  if (id == e.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    why = "event_id missing";
    return std::nullopt;
  }
  for (const char* k : {"type", "timestamp", "request_id", "status"}) {  // read as strings
    const auto it = e.find(k);
    if (it != e.end() && !it->is_string()) {
      why = std::string(k) + " is not a string";
      return std::nullopt;
    }
  }
  for (const char* k : {"dataset_id", "action", "client", "subject"}) {  // strings or null
    const auto it = e.find(k);
    if (it != e.end() && !it->is_string() && !it->is_null()) {
      why = std::string(k) + " is not a string or null";
      return std::nullopt;
    }
  }
  for (const char* k : {"duration_ms", "http_status"}) {
    const auto it = e.find(k);
    if (it != e.end() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0 &&
                           it->get<std::int64_t>() <= 2'147'483'647)) {
      why = std::string(k) + " is not a non-negative 32-bit integer";
      return std::nullopt;
    }
  }
  if (e.value("type", "") == "security") {
    static constexpr const char* kSeverities[] = {"INFO", "WARNING", "ERROR", "CRITICAL"};
    const auto type = e.find("event_type"), severity = e.find("severity");
    if (type == e.end() || !type->is_string() || type->get_ref<const std::string&>().empty() ||
        type->get_ref<const std::string&>().size() > 64) {
      why = "event_type missing";
      return std::nullopt;
    }
    bool known = false;
    if (severity != e.end() && severity->is_string())
      for (const char* s : kSeverities) known = known || *severity == s;
    if (!known) {
      why = "severity is not INFO, WARNING, ERROR or CRITICAL";
      return std::nullopt;
    }
    const auto uid = e.find("user_id");
    if (uid != e.end() && !uid->is_null() && !uid->is_number_integer()) {
      why = "user_id is not an integer";
      return std::nullopt;
    }
    for (const char* k : {"username", "user_agent", "service"}) {
      const auto it = e.find(k);
      if (it != e.end() && !it->is_string() && !it->is_null()) {
        why = std::string(k) + " is not a string or null";
        return std::nullopt;
      }
    }
  }
  if (e.value("type", "") == "request") {  // the gateway's access event
    for (const char* k : {"method", "route", "path", "reason", "auth_method", "tier"}) {
      const auto it = e.find(k);
      if (it == e.end() || !it->is_string() || it->get_ref<const std::string&>().size() > 1024) {
        why = std::string(k) + " missing or not a string";
        return std::nullopt;
      }
    }
    for (const char* k : {"key_id", "user_agent"}) {
      const auto it = e.find(k);
      if (it != e.end() && !it->is_string() && !it->is_null()) {
        why = std::string(k) + " is not a string or null";
        return std::nullopt;
      }
    }
    for (const char* k : {"bytes_in", "bytes_out"}) {
      const auto it = e.find(k);
      if (it != e.end() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
        why = std::string(k) + " is not a non-negative integer";
        return std::nullopt;
      }
    }
  }
  return std::move(e);
}

}  // namespace audit
