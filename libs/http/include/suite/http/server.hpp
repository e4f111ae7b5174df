#pragma once
/// The HTTP/1.1 and HTTP/2 server (Beast and libnghttp2, C++20 coroutines): keep-alive, header/body/idle timeouts,
/// header and body limits, 100-continue, TLS 1.2+, request ids, one JSON log line and metrics per
/// request, a graceful drain. This header stays free of Beast and Asio templates.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "suite/core/config.hpp"
#include "suite/http/body_stream.hpp"
#include "suite/http/loop.hpp"
#include "suite/http/message.hpp"
#include "suite/http/task.hpp"
#include "suite/observability/metrics.hpp"

namespace boost::asio {
class io_context;
}

namespace suite::http {

namespace detail {
struct ServerCore;
}

struct TlsFiles {
  std::string cert_file;  ///< PEM chain
  std::string key_file;   ///< PEM private key
};

/// HTTP/2 (RFC 9113) on the same listeners: ALPN `h2` on TLS ones, prior knowledge (h2c) on
/// plain ones. Every limit bounds something an attacker can try (CVE-2023-44487's rapid reset,
/// 2024's CONTINUATION floods, HPACK bombs, SETTINGS and PING floods, windows held at zero).
struct Http2Options {
  bool enabled = true;    ///< offer `h2` in ALPN (preferred to http/1.1)
  bool cleartext = true;  ///< take h2c with prior knowledge on plain listeners
  /// Advertised, and counting streams whose handlers still run after a reset: a client cannot
  /// keep more requests busy on a connection by resetting them.
  std::uint32_t max_concurrent_streams = 128;
  /// What a client may send ahead on a stream before its handler reads it (the flow-control
  /// window follows what the handler takes), and on the whole connection.
  std::uint32_t stream_window = 64 * 1024;
  std::uint32_t connection_window = 1024 * 1024;
  /// Streams the client resets: a token bucket (`reset_burst`, refilled `resets_per_second`).
  std::uint32_t reset_burst = 200;
  std::uint32_t resets_per_second = 33;
  /// SETTINGS, PING, PRIORITY, WINDOW_UPDATE and unknown frames: the same kind of bucket, also
  /// refilled by each request and each DATA frame sent (window updates follow what we send).
  std::uint32_t control_burst = 200;
  std::uint32_t control_per_second = 20;
  std::uint32_t max_empty_frames = 16;  ///< frames carrying nothing, in a row
  std::uint32_t max_continuations = 8;  ///< CONTINUATION frames after a HEADERS frame
};

struct ServerOptions {
  std::size_t body_limit = 1024 * 1024;
  std::size_t header_limit = 16 * 1024;
  std::size_t target_limit = 8 * 1024;  ///< the request line's target: 414 past it
  /// The TLS handshake, and a whole request head from its first byte (slowloris). A new
  /// connection's first request gets it from accept; a keep-alive one from its first byte.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{75'000};    ///< keep-alive wait for a next first byte
  std::chrono::milliseconds write_timeout{30'000};
  /// Counted from accept (TLS handshakes included); past a cap a connection is reset at once.
  std::size_t max_connections = 10'000;
  std::size_t max_connections_per_client = 256;      ///< per client IP address
  /// On Drain(): how long a connection idle between requests stays open. A request that
  /// arrives meanwhile is answered (with Connection: close), so a client that sent it just as
  /// the drain began does not see its connection cut under it; what is still idle then is closed.
  std::chrono::milliseconds drain_idle_grace{1000};
  /// When accept fails for want of descriptors (EMFILE/ENFILE): stop accepting this long.
  std::chrono::milliseconds accept_pause{500};
  /// Response headers added to every response (security headers, ...).
  Headers extra_headers;
  /// The header list limit is `header_limit`; the timeouts are the ones above (header, body,
  /// idle, write), applied per stream where they concern one.
  Http2Options http2;
};

/// BODY_LIMIT_BYTES, HEADER_TIMEOUT_MS, BODY_TIMEOUT_MS, IDLE_TIMEOUT_MS, WRITE_TIMEOUT_MS,
/// MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT, HTTP2, H2C, H2_MAX_CONCURRENT_STREAMS,
/// H2_STREAM_WINDOW, H2_CONNECTION_WINDOW, H2_RESET_BURST, H2_RESETS_PER_SECOND,
/// H2_CONTROL_BURST, H2_CONTROL_PER_SECOND, each defaulting to the values above (the
/// per-client cap to `default_per_client`: the edge wants one, a service behind it does not).
ServerOptions ServerOptionsFromEnv(core::Env& env, std::size_t default_per_client = 256);

struct Listener {
  std::string address = "0.0.0.0";
  std::uint16_t port = 0;
  std::optional<TlsFiles> tls;
};

/// What a head-first handler may ask of the connection: the body, once, under a cap it chose.
class BodyReader {
 public:
  using Status = BodyStatus;
  virtual ~BodyReader() = default;
  /// Reads the body into the request under `limit` bytes. A client that sent
  /// `Expect: 100-continue` is told to go on here, not before: refusals never invite a body.
  virtual Task<Status> Read(std::size_t limit) = 0;
  /// As Read, for a body that is passed on rather than used: one declared at most kBodyPiece
  /// long is read into `body`; a longer or chunked one is not read here but handed to the
  /// request as `body_stream`, read as it is pulled, under `limit`. Its reads are bounded by the
  /// body timeout each, and together by a minimum rate (1 KiB/s after the first body timeout),
  /// so a client trickling a byte every few seconds is cut off. kOk means admitted: how the
  /// streamed body ends is its own status().
  virtual Task<Status> Open(std::size_t limit) { return Read(limit); }
  /// The declared Content-Length (nullopt when chunked or absent).
  virtual std::optional<std::uint64_t> content_length() const = 0;
};

/// The server's one handler type. It sees each request as soon as its head has arrived (the body
/// not read yet), runs on the connection's loop, and reads the body through `BodyReader` only if
/// it admits the request. A body it leaves unread closes the connection after the answer (the
/// rest of the upload is drained, not reset). Router::Serve makes one from routes.
using HeadHandler = std::function<Task<Response>(RequestPtr, BodyReader&)>;

/// Runs on the given event loops (suite::service::Runtime's), each run by one thread: every
/// listener gets one acceptor per loop (SO_REUSEPORT, so the kernel spreads connections) and a
/// connection lives on the loop that accepted it. Handlers run on that loop.
class Server {
 public:
  /// `handler` gets each request's head; `options.body_limit` caps what any route may allow.
  Server(Loops loops, ServerOptions options, obs::Metrics& metrics, HeadHandler handler);
  /// One loop.
  Server(boost::asio::io_context& io, ServerOptions options, obs::Metrics& metrics, HeadHandler handler)
      : Server(Loops{&io}, std::move(options), metrics, std::move(handler)) {}
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  /// Binds and starts accepting; throws std::runtime_error naming the address on failure.
  /// Returns the bound port (useful with port 0).
  std::uint16_t Listen(const Listener& listener);
  /// Loads each TLS listener's certificate and key again; new connections get them, open ones
  /// keep theirs. On an error the old ones stay (logged). Returns whether all loaded.
  bool ReloadTls();
  /// The stop began: accept no more, close idle keep-alive connections, and end each busy one
  /// after its answer (`Connection: close`).
  void Drain();
  /// No request in flight.
  bool Drained() const;

 private:
  std::shared_ptr<detail::ServerCore> impl_;
};

}  // namespace suite::http
