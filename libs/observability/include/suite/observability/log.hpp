#pragma once
/// One JSON object per line on stdout; thread-safe; fields given by the caller.
#include <nlohmann/json.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace suite::obs {

enum class Level { kDebug, kInfo, kWarning, kError };

void SetService(std::string name);
/// From now on, the lines this thread writes are kept and written together, in one write, by
/// FlushLines(), which `schedule` must make run before the thread sleeps (an event loop posts
/// it to itself); `schedule` is called once per batch, with its first line. A warning or an
/// error is written at once (with the lines kept before it), and so is a batch past 64 KiB.
/// A crash loses at most the info lines of the loop turn it happens in. Empty: at once again.
void BatchLinesOnThisThread(std::function<void()> schedule);
/// Writes the lines this thread kept.
void FlushLines();
void SetMinLevel(Level level);
/// Writes {"timestamp","severity","service","message", ...fields}.
void Log(Level level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

/// A field of a line written without building a JSON document: text, or a number.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), text(v) {}
  Field(std::string_view k, const std::string& v) : key(k), text(v) {}
  Field(std::string_view k, const char* v) : key(k), text(v) {}
  Field(std::string_view k, double v) : key(k), number(v), is_number(true) {}
  Field(std::string_view k, int v) : key(k), integer(v), is_integer(true) {}
  Field(std::string_view k, long long v) : key(k), integer(v), is_integer(true) {}
  std::string_view key;  ///< a plain identifier (written as is)
  std::string_view text;
  double number = 0;
  long long integer = 0;
  bool is_number = false, is_integer = false;
};
/// The same line as Log's, for what is written per request: no allocation but the line's.
void LogFields(Level level, std::string_view message, std::initializer_list<Field> fields);
inline void Info(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
  Log(Level::kInfo, m, std::move(f));
}
inline void Warn(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
  Log(Level::kWarning, m, std::move(f));
}
inline void Error(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
  Log(Level::kError, m, std::move(f));
}

}  // namespace suite::obs
