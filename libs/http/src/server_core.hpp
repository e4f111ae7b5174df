#pragma once
// Internal to the server: the state a Server's listeners and sessions share (server.cpp
// accepts and counts connections, session.cpp speaks HTTP on them).
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "suite/http/loop.hpp"
#include "plain_stream.hpp"
#include "tls_stream.hpp"
#include "suite/http/server.hpp"
#include "suite/observability/log.hpp"

namespace suite::http::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// Closes a session's socket from the stop sequence when it waits idle for a request.
struct SessionHandle {
  std::function<void()> close;
  /// Set by an HTTP/2 session: the drain began (it sends GOAWAY while its streams finish).
  std::function<void()> drain;
  /// Set by the session (no lock: it changes twice per request), read by the stop sequence.
  std::atomic<bool> idle{true};
};

using suite::http::LogException;

struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerCore(Loops l, ServerOptions o, obs::Metrics& m)
      : loops(std::move(l)), options(std::move(o)), metrics(m), extra_lines(RenderLines(options.extra_headers)),
        extra_fields(RenderFields(options.extra_headers)) {}

  Loops loops;  ///< one acceptor per listener on each; a connection stays on its loop
  ServerOptions options;
  obs::Metrics& metrics;
  HeadHandler handler;
  /// options.extra_headers as head lines ("Name: value\r\n"), checked and written once: every
  /// answer copies them (those it does not set itself) instead of checking them again.
  /// Each as (name, line); a header that cannot be written has none (and is skipped, as before).
  const Headers extra_lines;
  static Headers RenderLines(const Headers& headers);
  /// The same for HTTP/2: (lowercase name, value), those that can be written.
  const Headers extra_fields;
  static Headers RenderFields(const Headers& headers);
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  // One per TLS listener: the files, and the context new connections get (swapped by ReloadTls).
  struct TlsSlot {
    TlsFiles files;
    std::atomic<std::shared_ptr<net::ssl::context>> context;
    std::atomic<double> not_after{0};  ///< the certificate's expiry (Unix time), for the alert
  };
  std::vector<std::shared_ptr<TlsSlot>> tls_slots;
  std::vector<std::shared_ptr<TlsSlot>> acceptor_tls;  ///< per acceptor: its TLS slot, or null
  std::atomic<bool> draining{false};   ///< set by Drain(): each connection ends after its answer
  std::atomic<bool> idle_closed{false};  ///< the drain's grace is over: idle connections were closed
  std::unique_ptr<net::steady_timer> grace;  ///< the drain's grace for idle connections
  std::atomic<bool> detached{false};   ///< set by ~Server: the metrics may no longer exist
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> active{0};  ///< requests between head and written answer
  std::mutex mu;
  std::list<SessionHandle> sessions;                   // guarded by mu
  std::map<net::ip::address, std::size_t> per_client;  // guarded by mu; no entry at zero

  // A connection slot, taken at accept and given back when the session's coroutine ends
  // (whatever the way: handshake failure, error, exception).
  // It also runs when a pending session's frame is destroyed with the io_context, after the
  // Server (and perhaps the metrics) are gone: it keeps the core alive, and `detached` keeps
  // it off the metrics.
  class Slot {
   public:
    Slot(std::shared_ptr<ServerCore> core, const net::ip::address& client) : core_(std::move(core)), client_(client) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { core_->Release(client_); }

   private:
    std::shared_ptr<ServerCore> core_;
    net::ip::address client_;
  };
  bool Acquire(const net::ip::address& client);
  void Release(const net::ip::address& client);
  void Drain();
  void CloseIdle();
  bool Drained();
  std::shared_ptr<net::ssl::context> MakeTls(const TlsFiles& files);
  /// The expiry of the certificate `ctx` serves (Unix time; 0 when unreadable).
  static double NotAfter(net::ssl::context& ctx);
  net::awaitable<void> Accept(tcp::acceptor& acceptor, std::shared_ptr<TlsSlot> tls);
  /// A connection the acceptor took: a session for it, or a reset past the connection caps.
  void Admit(tcp::socket socket, const std::shared_ptr<TlsSlot>& tls);
  net::awaitable<void> Plain(tcp::socket socket, net::ip::address client);
  net::awaitable<void> Secure(tcp::socket socket, net::ip::address client, std::shared_ptr<net::ssl::context> tls);
};

// The HTTP/1.1 exchanges of one connection, until it closes (session.cpp). `client` is the
// address taken at accept (no second getpeername); the caller's Slot keeps `core` alive.
net::awaitable<void> Session(ServerCore& core, PlainStream& stream, const net::ip::address& client);
net::awaitable<void> Session(ServerCore& core, TlsStream& stream, const net::ip::address& client);

// The HTTP/2 exchanges of a connection (h2_session.cpp), once its preface came (h2c, whose
// first bytes the HTTP/1.1 session read: `preread`) or ALPN chose h2; until it closes.
net::awaitable<void> H2Session(ServerCore& core, PlainStream& stream, SessionHandle& handle,
                               const std::string& remote_ip, std::string preread);
net::awaitable<void> H2Session(ServerCore& core, TlsStream& stream, SessionHandle& handle,
                               const std::string& remote_ip, std::string preread);

}  // namespace suite::http::detail
