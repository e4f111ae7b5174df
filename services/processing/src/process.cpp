#include "process.hpp"

#include <cmath>
#include <map>
#include <set>

#include "suite/core/error.hpp"
#include "suite/core/json.hpp"

namespace processing {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxIdLength = 256;
// Rows (or items) one request may carry: the body limit bounds bytes, this bounds the work
// (validate keeps a copy of each row's text to find duplicates).
constexpr std::size_t kMaxRows = 10'000;

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

// count, sum, mean, min, max of a series of numbers (null when there were none).
struct Stats {
  std::size_t count = 0;
  double sum = 0, min = 0, max = 0;
  void Add(double v) {
    min = count == 0 ? v : std::min(min, v);
    max = count == 0 ? v : std::max(max, v);
    sum += v;
    ++count;
  }
  json ToJson() const {
    if (count == 0) return nullptr;
    return {{"count", count}, {"sum", sum}, {"mean", sum / static_cast<double>(count)}, {"min", min}, {"max", max}};
  }
};

bool IsNumber(const json& v) { return v.is_number() && std::isfinite(v.get<double>()); }

// Seed 000's summary, plus statistics: of the rows that are numbers, and of each numeric field
// of the rows that are objects.
json Summarize(const std::string& dataset, const json& payload) {
  const auto n = LengthOf(payload, "rows");
  json out = {{"summary", std::to_string(n) + " records processed"}, {"rows_processed", n}, {"dataset", dataset}};
  Stats values;
  std::map<std::string, Stats> fields;
  if (const auto it = payload.find("rows"); it != payload.end() && it->is_array()) {
    for (const auto& row : *it) {
      if (IsNumber(row)) values.Add(row.get<double>());
      if (!row.is_object()) continue;
      for (const auto& [k, v] : row.items())
        if (IsNumber(v)) fields[k].Add(v.get<double>());
    }
  }
  out["statistics"] = values.ToJson();
  json per_field = json::object();
  for (const auto& [k, st] : fields) per_field[k] = st.ToJson();
  out["fields"] = std::move(per_field);
  return out;
}

json Count(const std::string& dataset, const json& payload) {
  const auto n = LengthOf(payload, "items");
  json out = {{"count", n}, {"dataset", dataset}};
  if (const auto it = payload.find("items"); it != payload.end() && it->is_array()) {
    std::set<std::string> distinct;
    for (const auto& item : *it) distinct.insert(item.dump());
    out["distinct"] = distinct.size();
  }
  return out;
}

constexpr std::size_t kMaxFindings = 100;

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "number";
    default: return "other";
  }
}

// Findings about `rows`: missing, not a list, nulls, rows or fields of another type than the
// first ones, duplicates. At most kMaxFindings are listed; every check still counts them all.
json Validate(const std::string& dataset, const json& payload) {
  json findings = json::array();
  std::size_t total = 0;
  auto find = [&](const char* check, json where, std::string message) {
    ++total;
    if (findings.size() < kMaxFindings) {
      json f = {{"check", check}, {"message", std::move(message)}};
      if (!where.is_null()) f["row"] = std::move(where);
      findings.push_back(std::move(f));
    }
  };
  std::map<std::string, int> failed;  // check -> findings
  auto note = [&](const char* check, json where, std::string message) {
    ++failed[check];
    find(check, std::move(where), std::move(message));
  };
  const auto it = payload.find("rows");
  std::size_t checked = 0;
  if (it == payload.end() || it->is_null()) {
    note("rows_present", nullptr, "payload.rows is missing");
  } else if (!it->is_array()) {
    note("rows_is_list", nullptr, std::string("payload.rows is ") + TypeName(*it) + ", not a list");
  } else if (it->empty()) {
    note("rows_present", nullptr, "payload.rows is empty");
  } else {
    const auto& rows = *it;
    checked = rows.size();
    const std::string first_type = TypeName(rows[0]);
    std::map<std::string, std::string> field_types;  // from the first row that has the field
    std::map<std::string, std::size_t> seen;           // row text -> first index
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      if (row.is_null()) {
        note("no_nulls", i, "row " + std::to_string(i) + " is null");
        continue;
      }
      if (TypeName(row) != first_type)
        note("consistent_types", i, "row " + std::to_string(i) + " is " + TypeName(row) + ", row 0 is " + first_type);
      if (row.is_object()) {
        for (const auto& [k, v] : row.items()) {
          if (v.is_null()) {
            note("no_nulls", i, "row " + std::to_string(i) + ": field '" + k + "' is null");
            continue;
          }
          auto [type, fresh] = field_types.emplace(k, TypeName(v));
          if (!fresh && type->second != TypeName(v))
            note("consistent_types", i, "row " + std::to_string(i) + ": field '" + k + "' is " + TypeName(v) +
                                            ", earlier rows have " + type->second);
        }
      }
      auto [dup, first] = seen.emplace(row.dump(), i);
      if (!first)
        note("no_duplicates", i, "row " + std::to_string(i) + " repeats row " + std::to_string(dup->second));
    }
  }
  json checks = json::array();
  checks.push_back({{"check", "payload_is_object"}, {"passed", true}});
  checks.push_back({{"check", "payload_not_empty"}, {"passed", !payload.empty()}});
  for (const char* c : {"rows_present", "rows_is_list", "no_nulls", "consistent_types", "no_duplicates"})
    checks.push_back({{"check", c}, {"passed", failed.count(c) == 0}, {"findings", failed.count(c) ? failed[c] : 0}});
  // Seed 000 passed a payload without rows; so do we: only rows that are there are judged.
  bool valid = !payload.empty();
  for (const auto& [check, n] : failed)
    if (check != "rows_present") valid = false;
  json out = {{"valid", valid}, {"checks", std::move(checks)}, {"findings", std::move(findings)},
              {"findings_total", total}, {"rows_checked", checked}, {"dataset", dataset}};
  return out;
}

json RunAction(const std::string& action, const std::string& dataset, const json& payload) {
  if (action == "summarize") return Summarize(dataset, payload);
  if (action == "count") return Count(dataset, payload);
  if (action == "validate") return Validate(dataset, payload);
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
  if (body.contains("payload") && body["payload"].is_object())
    for (const char* list : {"rows", "items"}) {
      const auto it = body["payload"].find(list);
      if (it != body["payload"].end() && it->is_array() && it->size() > kMaxRows)
        errors.push_back(FieldError(std::string("payload.") + list,
                                    "ensure this value has at most " + std::to_string(kMaxRows) + " items",
                                    "value_error.list.max_items"));
    }
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
