#pragma once
/// A body that is passed on rather than held: the one interface both directions share (a
/// request's upload read from the client, an answer read from the upstream, or one made on the
/// fly). Apart from message.hpp so that the plain message types stay free of Asio.
#include <cstdint>
#include <optional>
#include <string_view>

#include "suite/http/message.hpp"
#include "suite/http/task.hpp"

namespace suite::http {

/// A body that passes through in pieces instead of being held whole: a large upload on its way
/// upstream, a large answer on its way to the client. The consumer pulls, so a slow side slows
/// the other down and one piece is held at a time. One consumer, on the producer's loop.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  /// The next piece (at most kBodyPiece bytes), valid until the next call; empty once the body
  /// is complete or has failed: status() says which.
  virtual Task<std::string_view> Next() = 0;
  virtual BodyStatus status() const = 0;
  /// The declared length (Content-Length); nullopt when it is not known ahead (chunked).
  virtual std::optional<std::uint64_t> length() const = 0;
  /// Bytes handed out so far.
  virtual std::uint64_t consumed() const = 0;
  /// The fields that came after the body (HTTP/2 trailers), once Next returned empty with kOk;
  /// null when none.
  virtual const Headers* trailers() const { return nullptr; }
};

}  // namespace suite::http
