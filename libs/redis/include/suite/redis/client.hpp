#pragma once
/// An asynchronous Redis client on one loop: one connection, driven by one coroutine (connect,
/// authenticate, read replies; reconnect with backoff). Commands are pipelined, and those issued
/// in one turn of the loop leave in one write; replies are parsed by hiredis's reader alone.
/// Every command has a deadline. Commands issued while disconnected fail at once, so callers
/// choose their own failure mode (fail open, buffer and retry, ...). Nothing blocks the loop,
/// not even resolving the host name.
///
/// Given sentinels instead of a host, the client asks them for the named primary, checks with
/// ROLE that the server it reached is the primary, and follows a failover: a sentinel's
/// +switch-master, a READONLY answer or a lost connection sends it back to the sentinels. Lua
/// scripts are run again by their source where the new primary lacks them (NOSCRIPT).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "suite/core/config.hpp"

namespace boost::asio {
class io_context;
}

namespace suite::obs {
class Metrics;
}

namespace suite::redis {

struct Reply {
  enum class Type { kError, kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kError;
  std::string str;  ///< string, status or error text
  long long integer = 0;
  std::vector<Reply> elements;

  bool ok() const { return type != Type::kError; }
  static Reply Failure(std::string why) { return Reply{Type::kError, std::move(why), 0, {}}; }
};

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  /// Sentinel mode: when set, host and port are not used. The primary named `master_name` is
  /// asked of these in turn (the last one that answered first), with the same user and password.
  std::vector<Endpoint> sentinels;
  std::string master_name;
  std::string username;  ///< Redis 6 ACL user (empty: the default user)
  std::string password;
  int db = 0;
  /// TLS (rediss://): the server's certificate is checked against `tls_ca_file` (else the
  /// system's store) and the host's name or address; TLS 1.2 at least. A client certificate
  /// when the server asks for one (Redis's tls-auth-clients, on by default).
  bool tls = false;
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{1000};
  std::chrono::milliseconds max_backoff{2000};
  /// Subscriber mode: how often the connection proves it still delivers (a round trip on a
  /// channel of its own). A probe unanswered at the next one drops and remakes the connection,
  /// so a server that froze or a path that died silently is noticed in two intervals.
  std::chrono::milliseconds subscriber_probe{5000};
};

/// A server-side Lua script, named by its SHA-1 (computed once, here).
class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha() const { return sha_; }

 private:
  std::string source_, sha_;
};

/// redis://[[user]:password@]host[:port][/db]: user and password percent-decoded, an IPv6 host
/// in brackets, db 0-15. Or, for a primary watched by sentinels,
/// redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master_name[/db] (port 26379
/// unless given): the sentinels must accept the same user and password as the primary.
/// rediss:// and rediss+sentinel:// are the same over TLS (sentinels included).
std::optional<Options> ParseUrl(std::string_view url);
/// Reads and checks the URL variable `name` (required), recording errors in `env`; with TLS,
/// also REDIS_CA_FILE, REDIS_CERT_FILE and REDIS_KEY_FILE (optional; the last two together).
Options OptionsFromEnv(core::Env& env, const char* name);

class Client {
 public:
  using Callback = std::function<void(Reply)>;
  Client(boost::asio::io_context& io, Options options, std::string name = "redis");
  ~Client();
  /// Starts connecting (and reconnecting whenever the connection drops).
  void Start();
  void Stop();
  /// Thread-safe. `cb` runs on the client's strand. `timeout` overrides command_timeout (use a
  /// longer one for blocking commands such as XREADGROUP BLOCK).
  void Command(std::vector<std::string> args, Callback cb,
               std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// EVALSHA, falling back to EVAL (which caches it) when the server answers NOSCRIPT.
  /// `script` must outlive the call.
  void Eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
            Callback cb);
  /// Command, awaited: resumes on the awaiting coroutine's executor with the reply (at once,
  /// without a hop, when that is this client's loop: one connection per loop).
  boost::asio::awaitable<Reply> Call(std::vector<std::string> args,
                                     std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// Eval, awaited (as Call). `script` must outlive the call.
  boost::asio::awaitable<Reply> Run(const Script& script, std::vector<std::string> keys, std::vector<std::string> args);
  bool connected() const;
  /// The server connected to (the primary, in sentinel mode); empty when not connected. For
  /// logs and tests; any thread.
  Endpoint server() const;
  /// Sentinel mode: how many times the client has connected to another primary than the one
  /// before (a failover it followed). Any thread.
  std::uint64_t primary_switches() const;
  /// The loop the client runs on.
  boost::asio::io_context& io() const;
  /// redis_connected{client}: 1 while the connection is up; redis_primary_switches_total{client}.
  void ExportMetrics(obs::Metrics& metrics);

  using MessageFn = std::function<void(const std::string& channel, const std::string& payload)>;
  /// Puts this client's connection in subscriber mode (it carries nothing else then; use
  /// another Client for commands) on `channels`, again after every reconnect. `on_message` and
  /// `on_state` run on the client's strand. `on_state(true)` comes once all channels are
  /// confirmed, `on_state(false)` when the connection is lost: what is published meanwhile is
  /// missed, so a cache kept fresh by the messages must stop trusting itself until the next true.
  /// A connection that stops answering (Options::subscriber_probe) counts as lost.
  /// Call before Start().
  void Subscribe(std::vector<std::string> channels, MessageFn on_message, std::function<void(bool)> on_state);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace suite::redis
