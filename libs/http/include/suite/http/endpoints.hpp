#pragma once
/// The endpoints of one upstream (its replicas) as one loop's pool sees them: which one takes
/// the next request (least loaded), and passive health. An endpoint failing `eject_after` times
/// in a row (connect error, timeout, broken answer, 502/504; not a 503, a load-shedding answer)
/// is ejected for `eject_for`; then one request probes it (half-open): success brings it back,
/// failure ejects it again for twice as long (up to `max_eject`). With every endpoint ejected the upstream's circuit is open: requests
/// are refused at once instead of waiting on a dead service. Pure logic, no I/O; one loop's.
#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace suite::http {

struct EndpointHealth {
  std::size_t eject_after = 5;
  std::chrono::milliseconds eject_for{5000};
  std::chrono::milliseconds max_eject{60'000};
};

class EndpointSet {
 public:
  using Clock = std::chrono::steady_clock;
  EndpointSet(std::size_t endpoints, EndpointHealth health);

  struct Choice {
    std::size_t index;
    bool probe;  ///< a half-open endpoint's one trial request
  };
  /// A due half-open endpoint (its probe) first; else the healthy endpoint with the fewest
  /// requests in flight, round robin among equals; nullopt when every one is ejected. The chosen
  /// one counts the request in flight until Finished().
  std::optional<Choice> Pick(Clock::time_point now);
  enum class Change { kNone, kEjected, kRestored };
  Change Finished(std::size_t index, bool ok, Clock::time_point now);
  /// While every endpoint is ejected: until the first is due again (at least 1 s).
  std::chrono::seconds RetryAfter(Clock::time_point now) const;
  std::size_t in_flight(std::size_t index) const { return states_[index].in_flight; }
  bool ejected(std::size_t index) const { return states_[index].failures >= health_.eject_after; }
  std::chrono::milliseconds ejected_for(std::size_t index) const { return states_[index].backoff; }

 private:
  struct State {
    std::size_t in_flight = 0;
    std::size_t failures = 0;  ///< in a row
    Clock::time_point open_until{};
    std::chrono::milliseconds backoff{0};  ///< the current (or next) ejection's length
    bool probing = false;
  };
  EndpointHealth health_;
  std::vector<State> states_;
  std::size_t next_ = 0;  ///< round robin's start
};

}  // namespace suite::http
