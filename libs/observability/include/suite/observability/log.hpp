#pragma once
/// One JSON object per line on stdout; thread-safe; fields given by the caller.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace suite::obs {

enum class Level { kDebug, kInfo, kWarning, kError };

void SetService(std::string name);
void SetMinLevel(Level level);
/// Writes {"timestamp","severity","service","message", ...fields}.
void Log(Level level, std::string_view message, nlohmann::json fields = nlohmann::json::object());
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
