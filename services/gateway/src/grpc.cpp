#include "grpc.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "suite/core/json.hpp"

namespace gateway {

int GrpcStatusFor(int http_status) {
  if (http_status >= 200 && http_status < 300) return 0;
  switch (http_status) {
    case 400: return 3;   // INVALID_ARGUMENT
    case 401: return 16;  // UNAUTHENTICATED
    case 403: return 7;   // PERMISSION_DENIED
    case 404:
    case 405: return 12;  // UNIMPLEMENTED
    case 408: return 4;   // DEADLINE_EXCEEDED
    case 413:
    case 429:
    case 431: return 8;   // RESOURCE_EXHAUSTED
    case 500: return 13;  // INTERNAL
    case 502:
    case 503:
    case 504: return 14;  // UNAVAILABLE
    default: return 2;    // UNKNOWN
  }
}

std::string GrpcPercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b <= 0x7e && b != '%') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

namespace {
// Our envelope's message ({"error":{"message":...}}), else empty.
std::string EnvelopeMessage(const std::string& body) {
  if (body.empty() || body.size() > 64 * 1024) return {};
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object()) return {};
  const auto error = doc.find("error");
  if (error == doc.end() || !error->is_object()) return {};
  const auto message = error->find("message");
  return message != error->end() && message->is_string() ? message->get<std::string>() : std::string();
}
}  // namespace

void ToGrpcStatus(suite::http::Response& res) {
  const int code = GrpcStatusFor(res.status);
  std::string message = EnvelopeMessage(res.body);
  if (message.empty()) message = "HTTP status " + std::to_string(res.status);
  std::erase_if(res.headers, [](const auto& h) {
    return suite::core::AsciiEqualsIgnoreCase(h.first, "content-type") ||
           suite::core::AsciiEqualsIgnoreCase(h.first, "content-length");
  });
  res.status = 200;
  res.body.clear();
  res.body_stream.reset();
  res.Put("content-type", "application/grpc");
  res.Put("grpc-status", std::to_string(code));
  res.Put("grpc-message", GrpcPercentEncode(message));
}

}  // namespace gateway
