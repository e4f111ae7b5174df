#pragma once
/// A pooled keep-alive HTTP/1.1 client for one upstream: one or more endpoints (its replicas),
/// the least loaded taking each request, each ejected for a while after failures in a row
/// (suite/http/endpoints.hpp; all ejected: refused at once, kUnavailable). Connections are
/// reused up to `max_requests_per_connection` (an idle one is checked for a peer close before it
/// carries a request). A request is sent a second time, on a fresh connection (another endpoint
/// when there is one), only when it cannot have been acted on: the connection could not be made,
/// not one byte of it was written, or it is idempotent and a reused connection closed before any
/// response byte. `done` is always called exactly once, even when Beast refuses to frame it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "suite/http/body_stream.hpp"
#include "suite/http/endpoints.hpp"
#include "suite/http/loop.hpp"
#include "suite/http/message.hpp"
#include "suite/http/task.hpp"
#include "suite/http/upgrade.hpp"

namespace boost::asio {
class io_context;
}

namespace suite::http {

struct ClientRequest {
  std::string method;
  std::string target;
  Headers headers;
  /// Header lines written ahead (AppendHeaderLine: "name: value\r\n" each), sent after
  /// `headers`: a proxy renders what it forwards once, from the request it received. The pool
  /// writes Host and the framing fields itself; none of those may be here.
  std::string header_lines;
  std::string body;
  /// A body sent as it is pulled from here instead of `body` (Content-Length when its length
  /// is declared, else chunked). Once a byte of it is taken the request is never sent again.
  BodyStream* body_stream = nullptr;
  /// With body_stream, to an HTTP/2 upstream: the body is pulled on after Call returned, while
  /// the answer comes (a call streaming both ways), and this keeps it valid meanwhile
  /// (Request::body_owner). Null: Call returns once the body was sent whole.
  std::shared_ptr<void> body_owner;
  /// An answer longer than kBodyPiece, or chunked, comes back as `response.body_stream` (which
  /// holds the connection until it is read to its end or dropped) instead of whole in `body`.
  bool stream_response = false;
  /// This request's deadline (writing it and reading the answer; with a streamed body, each
  /// write, then the answer's head and each of its pieces); else the pool's request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
  /// A protocol to switch to ("websocket"): sent with `Connection: Upgrade`; a 101 answer comes
  /// back with `response.upgraded`, which holds the upstream's connection and relays it to the
  /// client's within `relay` (suite/http/upgrade.hpp). Any other answer is an answer as usual.
  std::string upgrade;
  RelayLimits relay;
};

struct ClientResult {
  /// kUnavailable: every endpoint is ejected (the circuit is open); nothing was sent.
  /// kBodyFailed: the request's streamed body failed (`body_status` says how); the upstream got
  /// an incomplete request and its connection was closed. Not the upstream's failure.
  enum class Status { kOk, kConnectFailed, kTimeout, kFailed, kUnavailable, kBodyFailed };
  Status status = Status::kFailed;
  BodyStatus body_status = BodyStatus::kOk;
  Response response;
  std::string error;  ///< for logs only
  std::chrono::seconds retry_after{0};  ///< kUnavailable: until an endpoint is tried again
};

struct Endpoint {
  std::string host;
  std::uint16_t port = 80;
};

struct UpstreamOptions {
  std::string host = "127.0.0.1";  ///< the first endpoint
  std::uint16_t port = 80;
  std::vector<Endpoint> more;      ///< further endpoints of the same service
  /// Idle connections kept per endpoint and loop. HTTP/2 clients put hundreds of requests in
  /// flight on a few connections: with 64, every request past that many concurrent ones opened
  /// and closed an upstream connection of its own (a connect and a close were 20% of the time
  /// under h2load). HAProxy and Envoy keep every idle connection; this only bounds a burst's.
  std::size_t max_idle = 1024;
  std::size_t max_requests_per_connection = 1000;  ///< then it is closed (nginx's keepalive_requests)
  EndpointHealth health;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds idle_ttl{30'000};  ///< below the upstream's keep-alive timeout
  std::size_t max_response_body = 16 * 1024 * 1024;  ///< an answer held whole (not stream_response)
  /// The upstream speaks HTTP/2 (a gRPC service): H2UpstreamPool, with prior knowledge in the
  /// clear (h2c), or agreed by ALPN over TLS.
  bool http2 = false;
  /// TLS to the upstream (https://; HTTP/2 only): its certificate must chain to `tls_ca_file`
  /// (PEM; empty: the system's store) and carry the endpoint's host name or address.
  bool tls = false;
  std::string tls_ca_file;
  /// HTTP/2: the streams one connection carries before another is opened (the upstream's own
  /// SETTINGS_MAX_CONCURRENT_STREAMS when lower), and the connections per endpoint and loop.
  std::uint32_t h2_streams_per_connection = 100;
  std::size_t h2_max_connections = 8;

  std::vector<Endpoint> Endpoints() const;
};

/// Where a route's requests go: a seam, so that the gateway's forwarding is tested without
/// sockets (suite::testing::FakeUpstream).
class Upstream {
 public:
  virtual ~Upstream() = default;
  /// Resumes on the caller's executor with the answer or the failure.
  virtual Task<ClientResult> Call(ClientRequest request) = 0;
  /// "host:port": for logs and as a metric label (one per configured upstream).
  virtual const std::string& name() const = 0;
  /// Endpoint ejections so far, every loop's (a counter for /metrics).
  virtual std::uint64_t ejections() const { return 0; }
};

/// One pool of connections per event loop: a request goes out on its caller's loop.
class UpstreamPool final : public Upstream {
 public:
  UpstreamPool(boost::asio::io_context& io, UpstreamOptions options);
  UpstreamPool(const Loops& loops, UpstreamOptions options);
  ~UpstreamPool() override;
  /// `done` runs on the caller's loop (loop 0 for a caller on no loop).
  void Send(ClientRequest request, std::function<void(ClientResult)> done);
  Task<ClientResult> Call(ClientRequest request) override;
  const std::string& name() const override { return name_; }
  const UpstreamOptions& options() const;
  std::uint64_t ejections() const override;

 private:
  struct Impl;
  std::vector<std::shared_ptr<Impl>> impls_;  ///< one per loop
  std::string name_;
  std::shared_ptr<std::atomic<std::uint64_t>> ejections_;
};

/// The pool for an upstream that speaks HTTP/2 with prior knowledge (h2c): requests go as
/// streams, multiplexed on one connection per endpoint and loop (more once one carries
/// `h2_streams_per_connection`), bodies both ways in pieces with HTTP/2's flow control (the
/// window given back is what the caller took), trailers both ways (BodyStream::trailers,
/// Response::trailers), and a body pulled on while the answer comes when the request says so
/// (ClientRequest::body_owner: gRPC's streams both ways). Endpoints, health and ejection as
/// UpstreamPool's. A request is sent again (another connection) only when it was never
/// processed: the connection failed to open, or the upstream refused the stream
/// (REFUSED_STREAM, or past a GOAWAY's last stream), with no byte of its body taken.
class H2UpstreamPool final : public Upstream {
 public:
  H2UpstreamPool(const Loops& loops, UpstreamOptions options);
  ~H2UpstreamPool() override;
  Task<ClientResult> Call(ClientRequest request) override;
  const std::string& name() const override { return name_; }
  std::uint64_t ejections() const override;

 private:
  struct Impl;
  std::vector<std::shared_ptr<Impl>> impls_;  ///< one per loop
  std::string name_;
  std::shared_ptr<std::atomic<std::uint64_t>> ejections_;
};

/// The pool `options` ask for: HTTP/2 (H2UpstreamPool) or HTTP/1.1 (UpstreamPool).
std::unique_ptr<Upstream> MakeUpstream(const Loops& loops, UpstreamOptions options);

/// Parses "http://host:port" or "https://host:port" (no path), or several such URLs separated by
/// commas (the endpoints of one upstream, at most 16, all of one scheme); nullopt when malformed.
std::optional<UpstreamOptions> ParseUpstreamUrl(std::string_view url);

}  // namespace suite::http
