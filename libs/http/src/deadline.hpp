#pragma once
// Internal to libs/http: the deadline of a connection's streams (PlainStream, TlsStream), as
// beast::tcp_stream's is seen from outside (an operation pending when it passes fails with
// beast::error::timeout, and so does one started after), but armed lazily.
//
// beast::tcp_stream starts a timer wait with every read and write and cancels it when the
// operation completes: two timer-queue changes and one more handler per operation, four reads
// and writes per proxied request on each side. Here setting a deadline stores a time. The one
// timer is moved only when the new deadline is earlier than the time it is set for; when it
// fires at a deadline that was pushed later meanwhile, it sets itself for that one. A busy
// keep-alive connection, whose deadline moves forward with every request, touches its timer
// about once per timeout period instead of four times per request.
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

namespace suite::http::detail {

struct Deadline {
  using Clock = std::chrono::steady_clock;
  explicit Deadline(const boost::asio::any_io_executor& ex) : timer(ex) {}

  boost::asio::steady_timer timer;
  Clock::time_point due = Clock::time_point::max();    ///< when pending operations fail
  Clock::time_point armed = Clock::time_point::max();  ///< what the timer is set for
  std::uint64_t arming = 0;  ///< tells the current wait from one it replaced
  bool timed_out = false;    ///< `due` passed: every operation fails with timeout until reset
};

/// `Core` holds `Deadline deadline` and `Expired()`, which ends what is pending (it is called
/// with `timed_out` set); the wait holds it weakly.
template <class Core>
void ArmDeadline(const std::shared_ptr<Core>& core) {
  Deadline& d = core->deadline;
  d.armed = d.due;
  const auto arming = ++d.arming;
  d.timer.expires_at(d.due);  // a wait for a later time ends with operation_aborted
  d.timer.async_wait([weak = std::weak_ptr<Core>(core), arming](const boost::system::error_code& ec) {
    if (ec) return;  // replaced by an earlier deadline, or the stream is gone
    const auto c = weak.lock();
    if (!c || c->deadline.arming != arming) return;
    Deadline& d = c->deadline;
    d.armed = Deadline::Clock::time_point::max();
    if (d.due == Deadline::Clock::time_point::max()) return;  // cleared meanwhile
    if (Deadline::Clock::now() < d.due) return ArmDeadline(c);  // pushed later meanwhile
    d.timed_out = true;
    c->Expired();
  });
}

template <class Core>
void SetDeadline(const std::shared_ptr<Core>& core, Deadline::Clock::duration after) {
  Deadline& d = core->deadline;
  d.timed_out = false;
  d.due = Deadline::Clock::now() + after;
  if (d.due < d.armed) ArmDeadline(core);
}

/// No deadline: a wait still pending finds nothing due and ends.
inline void ClearDeadline(Deadline& d) {
  d.timed_out = false;
  d.due = Deadline::Clock::time_point::max();
}

}  // namespace suite::http::detail
