#pragma once
#include <atomic>

#include "suite/core/clock.hpp"

namespace suite::testing {

/// A clock that stands still until told to move.
class FakeClock final : public core::Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point at) : now_(at) {}
  /// Seconds since the epoch.
  explicit FakeClock(long long unix_seconds) : now_(std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds))) {}
  std::chrono::system_clock::time_point Now() const override { return now_.load(); }
  void Advance(std::chrono::system_clock::duration d) { now_ = now_.load() + d; }

 private:
  std::atomic<std::chrono::system_clock::time_point> now_;
};

}  // namespace suite::testing
