#include "suite/core/error.hpp"

namespace suite::core {
namespace {
struct Row {
  ErrorCode code;
  std::string_view name;
  int status;
};
constexpr Row kTable[] = {
    {ErrorCode::kBadRequest, "BAD_REQUEST", 400},
    {ErrorCode::kUnauthenticated, "UNAUTHENTICATED", 401},
    {ErrorCode::kForbidden, "FORBIDDEN", 403},
    {ErrorCode::kEmailNotVerified, "EMAIL_NOT_VERIFIED", 403},
    {ErrorCode::kMfaRequired, "MFA_REQUIRED", 401},
    {ErrorCode::kNotFound, "NOT_FOUND", 404},
    {ErrorCode::kJobNotFound, "JOB_NOT_FOUND", 404},
    {ErrorCode::kMethodNotAllowed, "METHOD_NOT_ALLOWED", 405},
    {ErrorCode::kConflict, "CONFLICT", 409},
    {ErrorCode::kPayloadTooLarge, "PAYLOAD_TOO_LARGE", 413},
    {ErrorCode::kRequestTimeout, "REQUEST_TIMEOUT", 408},
    {ErrorCode::kUriTooLong, "URI_TOO_LONG", 414},
    {ErrorCode::kHeadersTooLarge, "REQUEST_HEADER_FIELDS_TOO_LARGE", 431},
    {ErrorCode::kValidation, "VALIDATION_ERROR", 422},
    {ErrorCode::kRateLimited, "RATE_LIMIT_EXCEEDED", 429},
    {ErrorCode::kQuotaExceeded, "QUOTA_EXCEEDED", 429},
    {ErrorCode::kInternal, "INTERNAL_ERROR", 500},
    {ErrorCode::kUpstreamUnavailable, "UPSTREAM_UNAVAILABLE", 502},
    {ErrorCode::kServiceUnavailable, "UPSTREAM_UNAVAILABLE", 503},
    {ErrorCode::kOverloaded, "SERVICE_UNAVAILABLE", 503},
    {ErrorCode::kUpstreamTimeout, "UPSTREAM_TIMEOUT", 504},
};
const Row& Find(ErrorCode code) {
  for (const auto& row : kTable)
    if (row.code == code) return row;
  return Find(ErrorCode::kInternal);
}
}  // namespace

std::string_view CodeName(ErrorCode code) { return Find(code).name; }
int HttpStatus(ErrorCode code) { return Find(code).status; }

nlohmann::json FieldError(std::string_view field, std::string_view message, std::string_view type) {
  return {{"field", field}, {"message", message}, {"type", type}};
}

ApiError ValidationError(nlohmann::json errors) {
  return ApiError(ErrorCode::kValidation, "Request validation failed", {{"errors", std::move(errors)}});
}

ApiError ValidationError(std::string_view field, std::string_view message, std::string_view type) {
  return ValidationError(nlohmann::json::array({FieldError(field, message, type)}));
}

std::string ErrorBody(ErrorCode code, std::string_view message, std::string_view request_id,
                      const nlohmann::json& details, const nlohmann::json& top_level) {
  nlohmann::json err = {{"code", CodeName(code)}, {"message", message}, {"request_id", request_id}};
  if (!details.is_null()) err["details"] = details;
  nlohmann::json body = {{"error", std::move(err)}, {"detail", message}};
  if (top_level.is_object())
    for (const auto& [k, v] : top_level.items())
      if (!body.contains(k)) body[k] = v;
  // `replace`: a message or detail that quotes ill-formed client bytes must not make the error
  // answer itself throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace suite::core
