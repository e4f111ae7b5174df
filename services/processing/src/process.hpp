#pragma once
/// Seed 000's POST /process, as a pure function: validation, the actions, the forced failure.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "suite/core/json.hpp"

namespace processing {

struct Outcome {
  int http_status = 200;
  std::string status;       ///< "success" | "failure" (seed 000's log field)
  nlohmann::json data;      ///< the `data` of a success
  std::string error_code;   ///< for failures: VALIDATION_ERROR | BAD_REQUEST
  std::string message;      ///< for failures, seed wording
  nlohmann::json details;   ///< for validation failures: {"errors":[...]}
  std::string dataset_id, action;
  /// Seed 000's log `output`: the data on success, the message on failure.
  nlohmann::json Output() const { return status == "success" ? data : nlohmann::json(message); }
};

/// A request body that passed validation (or the 422 outcome that says why it did not).
struct Parsed {
  bool ok = false;
  nlohmann::json body;  ///< the whole request: dataset_id, action, payload
  Outcome invalid;      ///< when !ok
};

/// Parses and validates `body` under `limits` (a body over them is invalid like any other).
Parsed Parse(std::string_view body, const suite::core::JsonLimits& limits = {});
/// Runs a body Parse() accepted: the action's data, or the forced failure.
Outcome Run(const nlohmann::json& body);
/// Parse, then Run: what POST /process answers.
Outcome Process(std::string_view body, const suite::core::JsonLimits& limits = {});

}  // namespace processing
