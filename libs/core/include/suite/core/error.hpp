#pragma once
/// Protocol-agnostic error codes, the one table that maps them to HTTP, and the envelope
/// `{"error":{"code","message","request_id","details"}}` every service answers with.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace suite::core {

enum class ErrorCode {
  kBadRequest,
  kUnauthenticated,
  kForbidden,
  kEmailNotVerified,  ///< 403: the account's address is not confirmed yet
  kMfaRequired,       ///< 401: the password was right; a second factor is needed
  kNotFound,
  kMethodNotAllowed,
  kConflict,
  kPayloadTooLarge,
  kValidation,
  kRateLimited,
  kQuotaExceeded,
  kInternal,
  kUpstreamUnavailable,
  kServiceUnavailable,
  kUpstreamTimeout,
};

/// "RATE_LIMIT_EXCEEDED", ...
std::string_view CodeName(ErrorCode code);
int HttpStatus(ErrorCode code);

/// Thrown by handlers; the server turns it into the envelope. `message` reaches the client,
/// `internal` only the log.
class ApiError : public std::runtime_error {
 public:
  ApiError(ErrorCode code, std::string message, nlohmann::json details = nullptr,
           std::string internal = {})
      : std::runtime_error(message),
        code_(code),
        details_(std::move(details)),
        internal_(std::move(internal)) {}
  ErrorCode code() const { return code_; }
  const nlohmann::json& details() const { return details_; }
  const std::string& internal() const { return internal_; }

 private:
  ErrorCode code_;
  nlohmann::json details_;
  std::string internal_;
};

/// One entry of a 422's `details.errors`: {"field","message","type"} (FastAPI's shape).
nlohmann::json FieldError(std::string_view field, std::string_view message, std::string_view type = "value_error");
/// 422 "Request validation failed" with details {"errors": errors}.
ApiError ValidationError(nlohmann::json errors);
/// The same for one field.
ApiError ValidationError(std::string_view field, std::string_view message, std::string_view type = "value_error");

/// The envelope body. `detail` mirrors the message for clients of the FastAPI systems we
/// replace, which read `detail`.
/// `top_level`: more members beside "error" and "detail" (seed 001's 429 "timestamp").
std::string ErrorBody(ErrorCode code, std::string_view message, std::string_view request_id,
                      const nlohmann::json& details = nullptr, const nlohmann::json& top_level = nullptr);

}  // namespace suite::core
