#include "suite/observability/log.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <mutex>

#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"

namespace suite::obs {
namespace {
std::mutex g_write;  ///< one line at a time on stdout
// Set at start (before the loops run), read by every line: a pointer swap. Every name given
// stays (a service names itself once or twice), so a line being written never sees one freed.
const std::string kDefaultService = "suite";
std::atomic<const std::string*> g_service{&kDefaultService};
std::mutex g_names_mu;
std::deque<std::string> g_names;  // guarded by g_names_mu; references stay valid
std::atomic<Level> g_min{Level::kInfo};
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

// {"timestamp":...,"severity":...,"service":...,"message":...
void Begin(std::string& line, Level level, std::string_view message) {
  line += "{\"timestamp\":\"";
  line += core::NowIso();
  line += "\",\"severity\":\"";
  line += kNames[static_cast<int>(level)];
  line += "\",\"service\":";
  core::AppendJsonString(line, *g_service.load(std::memory_order_acquire));
  line += ",\"message\":";
  core::AppendJsonString(line, message);
}

void Write(std::string& line) {
  line += "}\n";
  std::lock_guard lock(g_write);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}
}  // namespace

void SetService(std::string name) {
  std::lock_guard lock(g_names_mu);
  g_service.store(&g_names.emplace_back(std::move(name)), std::memory_order_release);
}
void SetMinLevel(Level level) { g_min = level; }

void Log(Level level, std::string_view message, nlohmann::json fields) {
  if (level < g_min) return;
  std::string line;
  line.reserve(256);
  Begin(line, level, message);
  if (fields.is_object())
    for (const auto& [k, v] : fields.items()) {
      if (k == "timestamp" || k == "severity" || k == "service" || k == "message") continue;  // ours
      line += ',';
      core::AppendJsonString(line, k);
      line += ':';
      line += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  Write(line);
}

void LogFields(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < g_min) return;
  std::string line;
  line.reserve(384);
  Begin(line, level, message);
  for (const auto& f : fields) {
    line += ",\"";
    line += f.key;
    line += "\":";
    if (f.is_integer) {
      line += std::to_string(f.integer);
    } else if (f.is_number) {
      if (!std::isfinite(f.number)) {
        line += "null";
        continue;
      }
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, f.number);
      line.append(buf, r.ptr);
    } else {
      core::AppendJsonString(line, f.text);
    }
  }
  Write(line);
}

}  // namespace suite::obs
