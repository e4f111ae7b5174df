#pragma once
/// Upgraded connections (HTTP/1.1 `Upgrade`, RFC 9110 7.8: WebSocket): after a 101 answer a
/// connection carries bytes both ways, no longer HTTP. A handler answers 101 with
/// `Response::upgraded` set; the server writes the head and hands the client's connection to it.
/// The upstream pool does the other half: a request with `ClientRequest::upgrade` answered 101
/// comes back with `upgraded` set, holding the upstream's connection, and relays the two.
#include <chrono>
#include <cstddef>
#include <string_view>

#include "suite/http/task.hpp"

namespace suite::http {

/// One side of an upgraded exchange, as bytes. Used by one coroutine reading and one writing at
/// a time, on the connection's loop.
class Duplex {
 public:
  virtual ~Duplex() = default;
  /// Up to `size` bytes; 0 at the end (the peer closed, failed, or Close() was called).
  virtual Task<std::size_t> ReadSome(char* into, std::size_t size) = 0;
  /// All of `bytes`; false when the connection failed or was closed.
  virtual Task<bool> Write(std::string_view bytes) = 0;
  /// Ends what is pending (a read returns 0, a write false) and every later call.
  virtual void Close() = 0;
};

/// What a 101 answer hands the client's connection to, once its head is written.
class Upgraded {
 public:
  virtual ~Upgraded() = default;
  virtual Task<void> Run(Duplex& client) = 0;
};

/// How long a relay may last: nothing either way for `idle`, or `lifetime` in all, ends it.
struct RelayLimits {
  std::chrono::milliseconds idle{60'000};
  std::chrono::milliseconds lifetime{3'600'000};
};

/// How a relay ended (for the log): a side closed, or a limit.
enum class RelayEnd { kClosed, kIdle, kLifetime };

/// Copies bytes both ways until either side ends (then both are closed) or a limit passes.
/// Returns once both directions have stopped.
Task<RelayEnd> Relay(Duplex& a, Duplex& b, RelayLimits limits);

}  // namespace suite::http
