#pragma once
/// A process runs one or more event loops, each an io_context run by exactly one thread (so
/// what runs on a loop needs no strand and takes no lock against itself). Loop 0 also runs the
/// control plane (signals, reloads, background refreshes). Per-loop resources (upstream pools,
/// Redis connections) are picked by the loop the caller runs on.
#include <cstddef>
#include <functional>
#include <vector>

#include "suite/http/task.hpp"

namespace boost::asio {
class io_context;
}

namespace suite::http {

using Loops = std::vector<boost::asio::io_context*>;

/// The index of the loop the calling thread runs; 0 on a thread that runs none.
std::size_t ThisLoop();
/// Called by the runtime on each loop's thread before it runs the loop.
void SetThisLoop(std::size_t index, boost::asio::io_context* loop = nullptr);
/// Runs `fn` on the calling thread's loop once the handlers ready now have run, before the loop
/// waits again (it posts `fn` behind them): what a turn of the loop gathered (log lines, events)
/// goes out together. On a thread that runs no loop, `fn` runs at once. A loop stopped before
/// `fn` ran drops it: who gathers must also flush when the loops have stopped.
void AtTurnEnd(std::function<void()> fn);
/// Resumes the awaiting coroutine behind everything queued on its loop now, AtTurnEnd work
/// included: what it does next (write an answer) follows what the turn gathered (that answer's
/// access event, in the spool).
Task<void> BehindTurnEnd();

/// The element of `per_loop` that belongs to the caller's loop (the first off the loops).
template <class T>
T& ForThisLoop(std::vector<T>& per_loop) {
  const auto i = ThisLoop();
  return per_loop[i < per_loop.size() ? i : 0];
}

}  // namespace suite::http
