// Relay (suite/http/upgrade.hpp): two pumps, one per direction, and a watch over both.
#include <boost/asio.hpp>

#include <algorithm>
#include <memory>

#include "suite/http/upgrade.hpp"
#include "suite/observability/log.hpp"

namespace suite::http {

namespace net = boost::asio;

namespace {
using Clock = std::chrono::steady_clock;

struct RelayState {
  explicit RelayState(const net::any_io_executor& ex) : wake(ex) {}
  net::steady_timer wake;  ///< the watch's wait: cut short when a pump ends
  Clock::time_point last = Clock::now();  ///< the last byte either way
  int running = 2;
};

constexpr std::size_t kRelayPiece = 16 * 1024;

// One direction, until its source ends or its sink fails; then both sides close, which ends
// the other direction too.
Task<void> Pump(Duplex& from, Duplex& to, std::shared_ptr<RelayState> state) {
  try {
    auto piece = std::make_unique_for_overwrite<char[]>(kRelayPiece);
    for (;;) {
      const std::size_t n = co_await from.ReadSome(piece.get(), kRelayPiece);
      if (n == 0) break;
      state->last = Clock::now();
      if (!co_await to.Write(std::string_view(piece.get(), n))) break;
      state->last = Clock::now();
    }
  } catch (const std::exception& e) {
    obs::Error("relay failed", {{"error", e.what()}});
  }
  from.Close();
  to.Close();
  --state->running;
  state->wake.cancel();
}

// Spawned from a plain function: GCC 12 mishandles co_spawn's arguments inside a coroutine.
void Start(const net::any_io_executor& ex, Duplex& from, Duplex& to, const std::shared_ptr<RelayState>& state) {
  net::co_spawn(ex, Pump(from, to, state), LogException{"relay"});
}
}  // namespace

Task<RelayEnd> Relay(Duplex& a, Duplex& b, RelayLimits limits) {
  const auto ex = co_await net::this_coro::executor;
  auto state = std::make_shared<RelayState>(ex);
  const auto started = Clock::now();
  Start(ex, a, b, state);
  Start(ex, b, a, state);
  RelayEnd end = RelayEnd::kClosed;
  bool closing = false;
  // The pumps hold `a` and `b`: this waits for both before it returns.
  while (state->running > 0) {
    const auto idle_at = state->last + limits.idle;
    const auto cap_at = started + limits.lifetime;
    if (!closing && Clock::now() >= std::min(idle_at, cap_at)) {
      end = Clock::now() >= cap_at ? RelayEnd::kLifetime : RelayEnd::kIdle;
      closing = true;
      a.Close();
      b.Close();
    }
    state->wake.expires_at(closing ? Clock::now() + std::chrono::seconds(1) : std::min(idle_at, cap_at));
    co_await state->wake.async_wait(net::as_tuple(net::use_awaitable));
  }
  co_return end;
}

}  // namespace suite::http
