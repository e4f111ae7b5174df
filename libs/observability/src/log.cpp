#include "suite/observability/log.hpp"

#include <cstdio>
#include <mutex>

#include "suite/core/ids.hpp"

namespace suite::obs {
namespace {
std::mutex g_mu;
std::string g_service = "suite";
Level g_min = Level::kInfo;
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
}  // namespace

void SetService(std::string name) {
  std::lock_guard lock(g_mu);
  g_service = std::move(name);
}
void SetMinLevel(Level level) { g_min = level; }

void Log(Level level, std::string_view message, nlohmann::json fields) {
  if (level < g_min) return;
  nlohmann::json line = {{"timestamp", core::NowIso()},
                         {"severity", kNames[static_cast<int>(level)]},
                         {"message", message}};
  std::string text;
  {
    std::lock_guard lock(g_mu);
    line["service"] = g_service;
  }
  if (fields.is_object())
    for (auto& [k, v] : fields.items()) line[k] = std::move(v);
  text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard lock(g_mu);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace suite::obs
