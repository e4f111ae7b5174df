#include "process.hpp"

#include "suite/core/error.hpp"
#include "suite/core/json.hpp"

namespace processing {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxIdLength = 256;

using suite::core::FieldError;

Outcome Invalid(json errors) {
  Outcome o;
  o.http_status = 422;
  o.status = "failure";
  o.error_code = "VALIDATION_ERROR";
  o.message = "Request validation failed";
  o.details = {{"errors", std::move(errors)}};
  return o;
}

void CheckString(const json& body, const char* field, json& errors) {
  if (!body.contains(field)) {
    errors.push_back(FieldError(field, "field required", "missing"));
  } else if (!body[field].is_string()) {
    errors.push_back(FieldError(field, "str type expected", "type_error.str"));
  } else {
    const auto len = body[field].get_ref<const std::string&>().size();
    if (len == 0) errors.push_back(FieldError(field, "ensure this value has at least 1 characters", "value_error.any_str.min_length"));
    if (len > kMaxIdLength) errors.push_back(FieldError(field, "ensure this value has at most 256 characters", "value_error.any_str.max_length"));
  }
}

std::size_t LengthOf(const json& payload, const char* key) {
  if (!payload.contains(key)) return 0;
  const auto& v = payload[key];
  if (v.is_array() || v.is_object()) return v.size();
  return v.is_null() ? 0 : 1;
}

json RunAction(const std::string& action, const std::string& dataset, const json& payload) {
  if (action == "summarize") {
    const auto n = LengthOf(payload, "rows");
    return {{"summary", std::to_string(n) + " records processed"}, {"rows_processed", n}, {"dataset", dataset}};
  }
  if (action == "count") {
    const auto n = LengthOf(payload, "items");
    return {{"count", n}, {"dataset", dataset}};
  }
  if (action == "validate") {
    json checks = json::array();
    checks.push_back({{"check", "payload_is_object"}, {"passed", true}});
    checks.push_back({{"check", "payload_not_empty"}, {"passed", !payload.empty()}});
    bool rows_ok = !payload.contains("rows") || payload["rows"].is_array();
    checks.push_back({{"check", "rows_is_list"}, {"passed", rows_ok}});
    bool valid = true;
    for (const auto& c : checks) valid = valid && c["passed"].get<bool>();
    return {{"valid", valid}, {"checks", checks}, {"dataset", dataset}};
  }
  return {{"message", "Action '" + action + "' processed"}, {"dataset", dataset}};
}

}  // namespace

Parsed Parse(std::string_view body_text, const suite::core::JsonLimits& limits) {
  Parsed out;
  auto parsed = suite::core::ParseJson(body_text, limits);
  if (!parsed.ok()) {
    out.invalid = Invalid(json::array({FieldError("body", "Request body is not valid JSON: " + parsed.error, "value_error.jsondecode")}));
    return out;
  }
  json& body = parsed.value;
  if (!body.is_object()) {
    out.invalid = Invalid(json::array({FieldError("body", "Request body must be a JSON object", "type_error.dict")}));
    return out;
  }
  json errors = json::array();
  CheckString(body, "dataset_id", errors);
  CheckString(body, "action", errors);
  if (body.contains("payload") && !body["payload"].is_object() && !body["payload"].is_null())
    errors.push_back(FieldError("payload", "value is not a valid dict", "type_error.dict"));
  if (!errors.empty()) {
    out.invalid = Invalid(std::move(errors));
    if (body.contains("dataset_id") && body["dataset_id"].is_string()) out.invalid.dataset_id = body["dataset_id"];
    if (body.contains("action") && body["action"].is_string()) out.invalid.action = body["action"];
    return out;
  }
  out.ok = true;
  out.body = std::move(body);
  return out;
}

Outcome Run(const json& body) {
  Outcome out;
  out.dataset_id = body["dataset_id"].get<std::string>();
  out.action = body["action"].get<std::string>();
  // Referenced, never copied: the payload is the client's, of any (bounded) shape.
  static const json kEmpty = json::object();
  const auto it = body.find("payload");
  const json& payload = it != body.end() && it->is_object() ? *it : kEmpty;
  if (payload.contains("force_fail") && payload["force_fail"] == true) {
    out.http_status = 400;
    out.status = "failure";
    out.error_code = "BAD_REQUEST";
    out.message = "forced failure requested: payload.force_fail=true";
    return out;
  }
  out.status = "success";
  out.data = RunAction(out.action, out.dataset_id, payload);
  return out;
}

Outcome Process(std::string_view body_text, const suite::core::JsonLimits& limits) {
  auto parsed = Parse(body_text, limits);
  return parsed.ok ? Run(parsed.body) : std::move(parsed.invalid);
}

}  // namespace processing
