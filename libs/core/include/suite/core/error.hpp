#pragma once
/// Protocol-agnostic error codes, the one table that maps them to HTTP, and the envelope
/// `{"error":{"code","message","request_id","details"}}` every service answers with.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
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
  kJobNotFound,       ///< 404: seed 003's JOB_NOT_FOUND, with the id in details
  kMethodNotAllowed,
  kConflict,
  kPayloadTooLarge,
  kRequestTimeout,     ///< 408: a body that stalled or came too slowly (logged; its connection is closed)
  kUriTooLong,         ///< 414
  kHeadersTooLarge,    ///< 431
  kValidation,
  kRateLimited,
  kQuotaExceeded,
  kInternal,
  kUpstreamUnavailable,
  kServiceUnavailable,  ///< 503: the upstream cannot be reached (or is shedding load)
  kOverloaded,          ///< 503: this process is too busy (a full worker queue)
  kUpstreamTimeout,
};

/// "RATE_LIMIT_EXCEEDED", ...
std::string_view CodeName(ErrorCode code);
int HttpStatus(ErrorCode code);

/// Thrown by handlers; rendered in one place (suite::http::ErrorReply). `message` reaches the
/// client, `internal` only the log. An error carries the headers its answer needs:
///   throw ApiError(ErrorCode::kForbidden, "Account locked").RetryAfter(std::chrono::seconds(60));
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
  /// Seconds for `Retry-After` (429, 503, a locked account's 403); 0: none.
  long long retry_after() const { return retry_after_; }
  /// The `WWW-Authenticate` challenge of a 401; empty: the plain `Bearer realm="api"`.
  const std::string& challenge() const { return challenge_; }
  /// Members of the body beside "error" and "detail" (a 429's "timestamp").
  const nlohmann::json& top_level() const { return top_level_; }

  ApiError&& RetryAfter(std::chrono::seconds s) && { retry_after_ = std::max<long long>(1, s.count()); return std::move(*this); }
  ApiError&& Challenge(std::string c) && { challenge_ = std::move(c); return std::move(*this); }
  ApiError&& TopLevel(nlohmann::json j) && { top_level_ = std::move(j); return std::move(*this); }
  ApiError& RetryAfter(std::chrono::seconds s) & { retry_after_ = std::max<long long>(1, s.count()); return *this; }
  ApiError& Challenge(std::string c) & { challenge_ = std::move(c); return *this; }

 private:
  ErrorCode code_;
  nlohmann::json details_;
  std::string internal_;
  long long retry_after_ = 0;
  std::string challenge_;
  nlohmann::json top_level_;
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
