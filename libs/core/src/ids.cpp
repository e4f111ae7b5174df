#include "suite/core/ids.hpp"

#include <openssl/rand.h>

#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <vector>

namespace suite::core {

namespace {
void Random(unsigned char* out, std::size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

std::string NewUuid() {
  unsigned char b[16];
  Random(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string IsoTimestamp(std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(tp.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us % 1000000));
  return buf;
}

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  Random(reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

std::string RandomHex(std::size_t n) {
  std::vector<unsigned char> b(n);
  Random(b.data(), n);
  std::string out;
  out.reserve(2 * n);
  for (auto c : b) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::optional<std::string> ClientRequestId(std::string_view x_request_id, std::string_view x_cloud_trace_context) {
  if (IsValidRequestId(x_request_id)) return std::string(x_request_id);
  const auto trace = x_cloud_trace_context.substr(0, x_cloud_trace_context.find('/'));
  if (trace.size() != 32) return std::nullopt;
  for (char c : trace)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return std::nullopt;
  return std::string(trace);
}

std::optional<std::string> TraceIdOf(std::string_view tp) {
  auto hex = [](std::string_view s) {
    for (char c : s)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
  };
  if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return std::nullopt;
  const auto version = tp.substr(0, 2), trace = tp.substr(3, 32), parent = tp.substr(36, 16), flags = tp.substr(53, 2);
  if (!hex(version) || version == "ff" || !hex(trace) || trace == std::string_view("00000000000000000000000000000000") ||
      !hex(parent) || parent == std::string_view("0000000000000000") || !hex(flags))
    return std::nullopt;
  return std::string(trace);
}

}  // namespace suite::core
