#include "suite/http/endpoints.hpp"

#include <algorithm>

namespace suite::http {

EndpointSet::EndpointSet(std::size_t endpoints, EndpointHealth health)
    : health_(health), states_(std::max<std::size_t>(endpoints, 1)) {
  for (auto& s : states_) s.backoff = health_.eject_for;
}

std::optional<EndpointSet::Choice> EndpointSet::Pick(Clock::time_point now) {
  const std::size_t n = states_.size();
  std::optional<std::size_t> best;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (next_ + k) % n;
    auto& s = states_[i];
    if (ejected(i)) {
      if (s.probing || now < s.open_until) continue;
      s.probing = true;  // half-open: this request decides
      ++s.in_flight;
      next_ = (i + 1) % n;
      return Choice{i, true};
    }
    if (!best || s.in_flight < states_[*best].in_flight) best = i;
  }
  if (!best) return std::nullopt;
  next_ = (*best + 1) % n;
  ++states_[*best].in_flight;
  return Choice{*best, false};
}

EndpointSet::Change EndpointSet::Finished(std::size_t i, bool ok, Clock::time_point now) {
  auto& s = states_[i];
  if (s.in_flight > 0) --s.in_flight;
  const bool was_ejected = ejected(i);
  if (ok) {
    s.failures = 0;
    s.probing = false;
    s.backoff = health_.eject_for;
    return was_ejected ? Change::kRestored : Change::kNone;
  }
  if (was_ejected) {
    if (!s.probing) return Change::kNone;  // a request sent before the ejection
    s.probing = false;  // the probe failed: out again, for longer
    s.backoff = std::min(s.backoff * 2, health_.max_eject);
    s.open_until = now + s.backoff;
    return Change::kEjected;
  }
  if (++s.failures < health_.eject_after) return Change::kNone;
  s.open_until = now + s.backoff;
  return Change::kEjected;
}

std::chrono::seconds EndpointSet::RetryAfter(Clock::time_point now) const {
  auto first = Clock::time_point::max();
  for (const auto& s : states_) first = std::min(first, s.open_until);
  const auto left = std::chrono::ceil<std::chrono::seconds>(first - now);
  return std::max(left, std::chrono::seconds(1));
}

}  // namespace suite::http
