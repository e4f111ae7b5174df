#include "suite/observability/log.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
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

// Lines of an event loop's thread, kept for one write per loop turn (BatchLinesOnThisThread).
struct Batch {
  std::function<void()> schedule;  ///< empty: this thread writes each line at once
  std::string lines;
};
thread_local Batch t_batch;
thread_local std::string t_line;  ///< a line being written at once (its capacity stays)
constexpr std::size_t kBatchBytes = 64 * 1024;

void WriteOut(const std::string& bytes) {
  std::lock_guard lock(g_write);
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

// Where the next line is built: the end of this thread's batch, or a line of its own.
std::string& Out() {
  if (t_batch.schedule) return t_batch.lines;
  t_line.clear();
  return t_line;
}

// Ends the line begun on Out(). A batch's first line asks for its write; a warning or an error
// (what may come just before a crash), or a batch past its bound, is written at once.
void Write(std::string& out, std::size_t begun, Level level) {
  out += "}\n";
  if (&out != &t_batch.lines) return WriteOut(out);
  if (level >= Level::kWarning || out.size() >= kBatchBytes) return FlushLines();
  if (begun == 0) t_batch.schedule();
}
}  // namespace

void SetService(std::string name) {
  std::lock_guard lock(g_names_mu);
  g_service.store(&g_names.emplace_back(std::move(name)), std::memory_order_release);
}
void SetMinLevel(Level level) { g_min = level; }

void BatchLinesOnThisThread(std::function<void()> schedule) {
  FlushLines();
  t_batch.schedule = std::move(schedule);
}

void FlushLines() {
  if (t_batch.lines.empty()) return;
  WriteOut(t_batch.lines);
  t_batch.lines.clear();
  // A burst's buffer is not kept for ever (the line of one request is about 300 bytes).
  if (t_batch.lines.capacity() > kBatchBytes) t_batch.lines.shrink_to_fit();
}

void Log(Level level, std::string_view message, nlohmann::json fields) {
  if (level < g_min) return;
  std::string& line = Out();
  const std::size_t begun = line.size();
  Begin(line, level, message);
  if (fields.is_object())
    for (const auto& [k, v] : fields.items()) {
      if (k == "timestamp" || k == "severity" || k == "service" || k == "message") continue;  // ours
      line += ',';
      core::AppendJsonString(line, k);
      line += ':';
      line += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  Write(line, begun, level);
}

void LogFields(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < g_min) return;
  std::string& line = Out();
  const std::size_t begun = line.size();
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
  Write(line, begun, level);
}

}  // namespace suite::obs
