#pragma once
/// Wall-clock time from one injectable source, so that what depends on the date (a daily quota's
/// key, an expiry) is tested at midnight without waiting for it (suite::testing::FakeClock).
#include <chrono>

namespace suite::core {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  static const Clock& System();
};

inline const Clock& Clock::System() {
  struct SystemClock final : Clock {
    std::chrono::system_clock::time_point Now() const override { return std::chrono::system_clock::now(); }
  };
  static const SystemClock clock;
  return clock;
}

}  // namespace suite::core
