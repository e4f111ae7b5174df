#include "suite/core/ids.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <vector>

namespace suite::core {

namespace {

// Random bytes for ids and tokens. OpenSSL 3's RAND_bytes takes the DRBG's lock and calls
// getpid() (fork detection) on every call, and a request needs five or so (request id, trace
// and span ids, event id, rate-limit member): each thread keeps 4 KiB of RAND_bytes output and
// hands it out, wiping what it handed out, refilling when it runs short. A fork makes every
// pool stale in the child (pthread_atfork bumps the generation), so a child never repeats
// its parent's bytes.
std::atomic<unsigned> g_fork_generation{0};

struct RandomPool {
  unsigned char bytes[4096];
  std::size_t used = sizeof bytes;
  unsigned generation = 0;
};
thread_local RandomPool t_random;

void Random(unsigned char* out, std::size_t n) {
  static const int registered = pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1); });
  (void)registered;
  auto& pool = t_random;
  if (n > sizeof pool.bytes / 4) {  // large requests (none on the request path) go straight through
    if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
    return;
  }
  const unsigned generation = g_fork_generation.load(std::memory_order_relaxed);
  if (pool.generation != generation || sizeof pool.bytes - pool.used < n) {
    if (RAND_bytes(pool.bytes, sizeof pool.bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    pool.used = 0;
    pool.generation = generation;
  }
  std::memcpy(out, pool.bytes + pool.used, n);
  OPENSSL_cleanse(pool.bytes + pool.used, n);
  pool.used += n;
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
  const auto secs = static_cast<std::time_t>(us / 1000000 - (us % 1000000 < 0 ? 1 : 0));
  const auto frac = static_cast<long long>(us - static_cast<long long>(secs) * 1000000);
  // "YYYY-MM-DDTHH:MM:SS" is the same for a whole second: each thread keeps the last one.
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[80];
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  char out[80 + 14];
  std::size_t n = std::strlen(cached);
  std::memcpy(out, cached, n);
  out[n++] = '.';
  for (long long div = 100000; div > 0; div /= 10) out[n++] = static_cast<char>('0' + (frac / div) % 10);
  std::memcpy(out + n, "+00:00", 6);
  return std::string(out, n + 6);
}

std::optional<std::int64_t> ParseIsoTimestamp(std::string_view t) {
  std::size_t i = 0;
  auto digits = [&](std::size_t n, int& out) {
    if (i + n > t.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const char c = t[i + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    i += n;
    return true;
  };
  auto sep = [&](char c) { return i < t.size() && t[i] == c ? (++i, true) : false; };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!digits(4, y) || !sep('-') || !digits(2, mo) || !sep('-') || !digits(2, d)) return std::nullopt;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap))
    return std::nullopt;
  std::int64_t micros = 0, offset = 0;
  if (i < t.size()) {
    if (!(sep('T') || sep('t') || sep(' ')) || !digits(2, h) || !sep(':') || !digits(2, mi)) return std::nullopt;
    if (sep(':')) {
      if (!digits(2, s)) return std::nullopt;
      if (sep('.')) {
        std::size_t n = 0;
        std::int64_t scale = 100000;
        for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, ++n) {
          micros += (t[i] - '0') * scale;
          scale /= 10;
        }
        if (n == 0 || n > 9) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || s > 59) return std::nullopt;
    if (sep('Z') || sep('z')) {
    } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
      const int sign = t[i++] == '-' ? -1 : 1;
      int oh = 0, om = 0;
      if (!digits(2, oh) || !sep(':') || !digits(2, om) || oh > 23 || om > 59) return std::nullopt;
      offset = sign * (oh * 3600 + om * 60);
    }
    if (i != t.size()) return std::nullopt;
  }
  // Days from the civil date (Howard Hinnant's algorithm).
  const int yy = mo <= 2 ? y - 1 : y;
  const int era = yy / 400, yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
  return (days * 86400 + h * 3600 + mi * 60 + s - offset) * 1000000 + micros;
}

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  Random(reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

std::string RandomHex(std::size_t n) {
  // The bytes go in the second half of the result and are spelled out from the front: one
  // allocation (none for 7 bytes or fewer).
  std::string out(2 * n, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data()) + n;
  Random(bytes, n);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = bytes[i];
    out[2 * i] = kHex[c >> 4];
    out[2 * i + 1] = kHex[c & 0xf];
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
