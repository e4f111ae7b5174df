// The Redis client: one connection per client, driven by one coroutine on the client's loop
// (connect, authenticate, read replies; after a loss, back off and again). Commands are written
// as RESP by us and batched: those issued in one turn of the loop leave in one write. Replies
// are parsed by hiredis's reader (its protocol code, no I/O of its own) and handed to their
// commands in order. Nothing here blocks the loop: the host name resolves asynchronously.
#include "suite/redis/client.hpp"

#include "link.hpp"
#include "resp.hpp"

#include <boost/asio.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <charconv>
#include <future>
#include <mutex>
#include <optional>

#include <openssl/sha.h>

#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"

namespace suite::redis {

namespace net = boost::asio;
using boost::system::error_code;
using tcp = net::ip::tcp;
using detail::Encode;
using detail::Link;
using detail::TlsContext;

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  Impl(net::io_context& io, Options o, std::string n)
      : strand(io.get_executor()), options(std::move(o)), name(std::move(n)), link(strand), resolver(strand),
        connect_timer(strand), backoff_timer(strand), deadline(strand), probe_timer(strand) {
    if (options.tls) tls = TlsContext(options, tls_error);
  }

  using Clock = std::chrono::steady_clock;
  // A command sent (or about to be) and not answered yet.
  struct Pending {
    Callback cb;
    Clock::time_point deadline;
    bool done = false;  ///< failed by its deadline; its reply (or the connection's end) is dropped
  };
  struct Subscription {
    std::vector<std::string> channels;
    MessageFn on_message;
    std::function<void(bool)> on_state;
    std::size_t confirmed = 0;
    bool probe_pending = false;
  };
  // Subscribing again to a channel already subscribed is answered with a confirmation and
  // changes nothing: the round trip that proves a subscriber connection still delivers. Nobody
  // publishes on it.
  static constexpr std::string_view kProbeChannel = "suite:subscriber-probe";

  // The loop's own executor ("strand" by its role): one thread runs a loop, so the client's
  // state, touched only on it, needs no lock. Callers on other threads post to it.
  net::io_context::executor_type strand;
  Options options;
  std::string name;
  Link link;
  std::shared_ptr<net::ssl::context> tls;  ///< set with options.tls, unless its files failed
  std::string tls_error;
  tcp::resolver resolver;
  net::steady_timer connect_timer, backoff_timer;
  bool up = false;  ///< connected: commands are taken
  std::atomic<bool> is_connected{false};
  bool stopped = false;
  std::uint64_t generation = 0;  ///< one per connection: a late completion of an old one is ignored
  std::chrono::milliseconds backoff{50};

  // Commands in the order they were written, which is the order Redis answers them.
  std::deque<Pending> pending;
  std::string out;      ///< encoded, waiting for the next write
  std::string sending;  ///< being written
  bool writing = false;
  // One timer watches every pending command, set for the earliest deadline and moved only when
  // it fires or an earlier one arrives: no timer per command.
  net::steady_timer deadline;
  std::optional<Clock::time_point> armed_for;
  std::uint64_t arming = 0;

  std::unique_ptr<Subscription> sub;  ///< set before Start(); used on the strand only
  net::steady_timer probe_timer;

  // The server connected to; read by server() from any thread.
  mutable std::mutex server_mutex;
  Endpoint server;
  std::optional<Endpoint> last_primary;  ///< sentinel mode: the primary connected to last
  std::atomic<std::uint64_t> switches{0};
  // Sentinel mode: the sentinel asked first, and the client that hears of failovers.
  std::size_t sentinel_first = 0;
  std::unique_ptr<Client> watcher;
  // The watcher's own: it connects to the sentinels themselves, in turn, rather than asking
  // them for a primary.
  bool sentinels_as_servers = false;
  bool SentinelMode() const { return !options.sentinels.empty() && !sentinels_as_servers; }

  // -- the connection's coroutine --

  // Static, with the state by pointer it keeps alive: the frame outlives any caller.
  static net::awaitable<void> Run(std::shared_ptr<Impl> self) {
    try {
      while (!self->stopped) {
        if (co_await self->Connect()) {
          co_await self->Read();
          self->Lose();
        }
        if (self->stopped) break;
        self->backoff_timer.expires_after(self->backoff);
        self->backoff = std::min(self->backoff * 2, self->options.max_backoff);
        co_await self->backoff_timer.async_wait(net::as_tuple(net::use_awaitable));
      }
    } catch (const std::exception& e) {
      obs::Error("redis connection loop ended", {{"client", self->name}, {"error", e.what()}});
    }
  }

  // -- connecting --

  // A deadline over several steps on one socket: past it the socket closes (and a resolution
  // under way is cancelled), which ends whatever was awaited on it. Disarm() before the socket
  // goes; fired() tells a timeout from another failure.
  class Deadline {
   public:
    Deadline(net::steady_timer& timer, tcp::socket& socket, tcp::resolver* resolver, std::chrono::milliseconds within)
        : timer_(timer), state_(std::make_shared<int>(kArmed)) {
      timer_.expires_after(within);
      timer_.async_wait([state = state_, &socket, resolver](error_code ec) {
        if (ec || *state != kArmed) return;  // the socket may be gone once disarmed
        *state = kFired;
        error_code ignored;
        socket.close(ignored);
        if (resolver) resolver->cancel();
      });
    }
    ~Deadline() { Disarm(); }
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;
    void Disarm() {
      if (*state_ == kArmed) *state_ = kDisarmed;
      timer_.cancel();
    }
    bool fired() const { return *state_ == kFired; }

   private:
    static constexpr int kArmed = 0, kDisarmed = 1, kFired = 2;
    net::steady_timer& timer_;
    std::shared_ptr<int> state_;
  };

  // Resolves and connects `link` to `to` (and makes TLS's handshake) within connect_timeout.
  net::awaitable<bool> Dial(Link& link, tcp::resolver& resolver, net::steady_timer& timer, const Endpoint& to) {
    if (options.tls && !tls) {
      obs::Error("redis TLS cannot be set up", {{"client", name}, {"error", tls_error}});
      co_return false;
    }
    link.Reset(tls.get());
    auto& socket = link.socket();
    Deadline deadline(timer, socket, &resolver, options.connect_timeout);
    auto [rec, results] = co_await resolver.async_resolve(to.host, std::to_string(to.port), net::as_tuple(net::use_awaitable));
    if (stopped) co_return false;
    if (rec) {
      obs::Warn(deadline.fired() ? "redis connect timeout" : "redis connect failed",
                {{"client", name}, {"server", Describe(to)}, {"error", rec.message()}});
      co_return false;
    }
    auto [cec, endpoint] = co_await net::async_connect(socket, results, net::as_tuple(net::use_awaitable));
    error_code hec;
    if (!cec && !stopped) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      hec = co_await link.Handshake(to.host);
    }
    deadline.Disarm();  // a wait that fired meanwhile must not close what connected
    if (stopped) co_return false;
    if (cec || hec) {
      obs::Warn(deadline.fired() ? "redis connect timeout" : cec ? "redis connect failed" : "redis TLS handshake failed",
                {{"client", name}, {"server", Describe(to)}, {"error", (cec ? cec : hec).message()}});
      link.Close();
      co_return false;
    }
    co_return true;
  }

  // Commands on a connection nobody else uses yet, and their replies, within command_timeout:
  // a connection's setup, a question to a sentinel. nullopt when the connection failed.
  net::awaitable<std::optional<std::vector<Reply>>> Exchange(Link& link, net::steady_timer& timer,
                                                             const std::vector<std::vector<std::string>>& commands) {
    Deadline deadline(timer, link.socket(), nullptr, options.command_timeout);
    std::string bytes;
    for (const auto& c : commands) Encode(bytes, c);
    auto [wec, written] = co_await link.WriteAll(net::buffer(bytes));
    if (wec) co_return std::nullopt;
    detail::ReplyReader reader;
    std::vector<Reply> replies;
    std::array<char, 4096> buf;
    bool broken = false;
    while (replies.size() < commands.size()) {
      auto [ec, n] = co_await link.ReadSome(net::buffer(buf));
      if (ec || stopped || !reader.Feed(std::string_view(buf.data(), n))) co_return std::nullopt;
      while (replies.size() < commands.size()) {
        auto reply = reader.Next(broken);
        if (broken) co_return std::nullopt;
        if (!reply) break;
        replies.push_back(std::move(*reply));
      }
    }
    co_return replies;
  }

  std::vector<std::vector<std::string>> Authenticate() const {
    if (!options.username.empty()) return {{"AUTH", options.username, options.password}};
    if (!options.password.empty()) return {{"AUTH", options.password}};
    return {};
  }

  static std::string Describe(const Endpoint& e) {
    return e.host.find(':') == std::string::npos ? e.host + ":" + std::to_string(e.port)
                                                 : "[" + e.host + "]:" + std::to_string(e.port);
  }

  net::awaitable<bool> Connect() {
    Endpoint to{options.host, options.port};
    if (sentinels_as_servers) {
      to = options.sentinels[sentinel_first];
      sentinel_first = (sentinel_first + 1) % options.sentinels.size();  // the next one after a loss
    } else if (SentinelMode()) {
      auto primary = co_await AskSentinels();
      if (!primary || stopped) co_return false;
      to = std::move(*primary);
    }
    if (!co_await Dial(link, resolver, connect_timer, to)) co_return false;
    // The setup, answered before the connection takes anything else: a wrong password or a
    // server that is not the primary is a failed attempt, tried again after the backoff.
    auto setup = Authenticate();
    if (options.db != 0) setup.push_back({"SELECT", std::to_string(options.db)});
    if (SentinelMode()) setup.push_back({"ROLE"});
    if (!setup.empty()) {
      auto replies = co_await Exchange(link, connect_timer, setup);
      std::string refused;
      if (!replies) {
        refused = "no answer";
      } else {
        for (std::size_t i = 0; i < setup.size() && refused.empty(); ++i)
          if (!(*replies)[i].ok()) refused = setup[i][0] + ": " + (*replies)[i].str;
        if (refused.empty() && SentinelMode() &&
            (replies->back().elements.empty() || replies->back().elements[0].str != "master"))
          refused = "ROLE: not the primary";  // a failover under way: the sentinels will say
      }
      if (stopped) co_return false;
      if (!refused.empty()) {
        obs::Error("redis refused the connection's setup", {{"client", name}, {"server", Describe(to)}, {"error", refused}});
        link.Close();
        co_return false;
      }
    }
    {
      std::lock_guard lock(server_mutex);
      server = to;
    }
    if (SentinelMode()) {
      if (last_primary && *last_primary != to) {
        ++switches;
        obs::Warn("redis failed over: connected to the new primary",
                  {{"client", name}, {"from", Describe(*last_primary)}, {"to", Describe(to)}});
      }
      last_primary = to;
    }
    ++generation;
    up = true;
    is_connected = true;
    backoff = std::chrono::milliseconds(50);
    obs::Info("redis connected", {{"client", name}, {"server", Describe(to)}});
    if (sub) SendSubscribe();
    co_return true;
  }

  // -- sentinel mode --

  // The primary's address, from the first sentinel that knows it (the one that answered last
  // time asked first). A connection of its own per question: sentinels are asked rarely.
  net::awaitable<std::optional<Endpoint>> AskSentinels() {
    auto question = Authenticate();
    question.push_back({"SENTINEL", "get-master-addr-by-name", options.master_name});
    for (std::size_t i = 0; i < options.sentinels.size() && !stopped; ++i) {
      const std::size_t at = (sentinel_first + i) % options.sentinels.size();
      const Endpoint& sentinel = options.sentinels[at];
      Link s(strand);
      tcp::resolver r(strand);
      net::steady_timer t(strand);
      std::optional<std::vector<Reply>> replies;
      if (co_await Dial(s, r, t, sentinel)) replies = co_await Exchange(s, t, question);
      s.Close();
      if (!replies) continue;
      const Reply& answer = replies->back();
      std::uint16_t port = 0;
      if (answer.type == Reply::Type::kArray && answer.elements.size() == 2) {
        const auto& p = answer.elements[1].str;
        std::from_chars(p.data(), p.data() + p.size(), port);
      }
      if (port == 0 || answer.elements[0].str.empty()) {
        obs::Warn("redis sentinel does not name the primary",
                  {{"client", name}, {"sentinel", Describe(sentinel)}, {"primary", options.master_name},
                   {"error", answer.type == Reply::Type::kError ? answer.str : "unknown primary"}});
        continue;
      }
      sentinel_first = at;
      co_return Endpoint{answer.elements[0].str, port};
    }
    obs::Warn("redis: no sentinel named the primary", {{"client", name}, {"primary", options.master_name}});
    co_return std::nullopt;
  }

  // The primary moved (a sentinel said so): the connection to the old one is dropped, and the
  // next attempt, made at once, asks the sentinels again.
  void Follow(const Endpoint& primary) {
    if (stopped) return;
    if (up) {
      if (primary == server) return;
      obs::Warn("redis primary moved; reconnecting", {{"client", name}, {"from", Describe(server)}, {"to", Describe(primary)}});
      Lose();
    }
    backoff = std::chrono::milliseconds(50);
    backoff_timer.cancel();
  }

  // Told of every failover by the sentinels (+switch-master), through a subscriber client of
  // their own that rotates over them. Whenever that subscription is (re)made, what was missed
  // meanwhile is asked.
  void Watch() {
    // The same credentials, TLS and timeouts; the sentinels as its servers, no database.
    Options o = options;
    o.db = 0;
    o.master_name.clear();
    watcher = std::make_unique<Client>(strand.context(), std::move(o), name + "-sentinels");
    watcher->impl_->sentinels_as_servers = true;
    watcher->Subscribe(
        {"+switch-master"},
        [w = weak_from_this()](const std::string&, const std::string& payload) {
          // "<name> <old ip> <old port> <new ip> <new port>"
          auto self = w.lock();
          if (!self) return;
          std::vector<std::string_view> f;
          for (std::string_view rest = payload; !rest.empty();) {
            const auto sp = rest.find(' ');
            f.push_back(rest.substr(0, sp));
            rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
          }
          std::uint16_t port = 0;
          if (f.size() != 5 || f[0] != self->options.master_name) return;
          if (std::from_chars(f[4].data(), f[4].data() + f[4].size(), port).ec != std::errc{} || port == 0) return;
          self->Follow(Endpoint{std::string(f[3]), port});
        },
        [w = weak_from_this()](bool subscribed) {
          auto self = w.lock();
          if (!self || !subscribed) return;
          net::co_spawn(self->strand, [self]() -> net::awaitable<void> {
            if (auto primary = co_await self->AskSentinels()) self->Follow(*primary);
          }, net::detached);
        });
    watcher->Start();
  }

  // Replies as they come, each to its command, until the connection ends.
  net::awaitable<void> Read() {
    const auto connection = generation;
    detail::ReplyReader reader;
    std::array<char, 16 * 1024> buf;
    bool broken = false;
    while (generation == connection) {
      auto [ec, n] = co_await link.ReadSome(net::buffer(buf));
      if (ec || generation != connection) co_return;
      broken = !reader.Feed(std::string_view(buf.data(), n));
      while (!broken) {
        auto reply = reader.Next(broken);
        if (!reply) break;
        Deliver(std::move(*reply));
        if (generation != connection) co_return;  // a callback stopped the client
      }
      if (broken) {
        obs::Error("redis protocol error; reconnecting", {{"client", name}});
        co_return;
      }
    }
  }

  void Deliver(Reply reply) {
    if (sub && IsPush(reply)) return OnPush(reply);
    if (pending.empty()) {
      obs::Error("redis reply without a command; reconnecting", {{"client", name}});
      return Lose();
    }
    Pending p = std::move(pending.front());
    pending.pop_front();  // before the callback, which may send another command
    // A primary demoted by a failover answers writes so; the sentinels know the new one.
    const bool demoted = SentinelMode() && reply.type == Reply::Type::kError && reply.str.rfind("READONLY", 0) == 0;
    const auto connection = generation;
    if (!p.done) p.cb(std::move(reply));
    if (demoted && connection == generation) {
      obs::Warn("redis server is no longer the primary; reconnecting", {{"client", name}, {"server", Describe(server)}});
      Lose();
    }
  }

  // The end of a connection, whatever the cause: its commands fail ("connection lost"), a
  // subscriber hears it is no longer told everything, and Run connects again.
  void Lose() {
    if (!up && !link.is_open()) return;
    const bool was_up = up;
    ++generation;
    up = false;
    is_connected = false;
    {
      std::lock_guard lock(server_mutex);
      server = {};
    }
    link.Close();
    out.clear();
    deadline.cancel();
    armed_for.reset();
    auto failed = std::move(pending);
    pending.clear();
    if (sub && was_up) {
      probe_timer.cancel();
      sub->confirmed = 0;
      sub->on_state(false);
    }
    if (was_up && !stopped) obs::Warn("redis disconnected", {{"client", name}});
    for (auto& p : failed)
      if (!p.done) p.cb(Reply::Failure("connection lost"));
  }

  // -- writing --

  template <class Args>
  void Send(const Args& args, Callback cb, std::optional<std::chrono::milliseconds> timeout) {
    if (!up) return cb(Reply::Failure("redis not connected"));
    const auto due = Clock::now() + timeout.value_or(options.command_timeout);
    pending.push_back(Pending{std::move(cb), due, false});
    Encode(out, args);
    Flush();
    if (!armed_for || due < *armed_for) Arm(due);
  }

  // Writes what is queued at the end of this turn of the loop: the commands of every request
  // handled in the turn leave together.
  void Flush() {
    if (writing || out.empty() || !up) return;
    writing = true;
    net::post(strand, [self = shared_from_this()] { self->Write(); });
  }
  void Write() {
    if (!up || out.empty()) {
      writing = false;
      return;
    }
    sending.swap(out);
    out.clear();
    link.Write(net::buffer(sending), [self = shared_from_this(), connection = generation](error_code ec, std::size_t) {
      self->writing = false;
      self->sending.clear();
      if (ec && connection == self->generation) {
        self->link.Close();  // the read ends, and Run takes it from there
        return;
      }
      self->Flush();
    });
  }

  // -- deadlines --

  void Arm(Clock::time_point when) {
    armed_for = when;
    const auto id = ++arming;
    deadline.expires_at(when);
    deadline.async_wait([w = weak_from_this(), id](error_code ec) {
      auto self = w.lock();
      if (ec || !self || id != self->arming) return;  // moved to an earlier deadline, or cancelled
      self->armed_for.reset();
      self->Expire();
    });
  }

  // The timer fired: commands past their deadline fail, and their connection, which stopped
  // answering, is replaced (dropped before the callers hear of it, so that connected() is
  // already false then); else the timer moves to the earliest deadline still pending.
  void Expire() {
    const auto now = Clock::now();
    std::optional<Clock::time_point> next;
    std::vector<Callback> expired;
    for (auto& p : pending) {
      if (p.done) continue;
      if (p.deadline <= now) {
        p.done = true;
        expired.push_back(std::move(p.cb));
      } else if (!next || p.deadline < *next) {
        next = p.deadline;
      }
    }
    if (expired.empty()) {
      if (next) Arm(*next);
      return;
    }
    Lose();  // the other pending commands fail with it ("connection lost")
    for (auto& cb : expired) cb(Reply::Failure("redis command timed out"));
  }

  // -- subscriber mode --

  static bool IsPush(const Reply& r) {
    if (r.type != Reply::Type::kArray || r.elements.size() != 3) return false;
    const auto& kind = r.elements[0].str;
    return kind == "message" || kind == "subscribe" || kind == "unsubscribe";
  }
  void SendSubscribe() {
    sub->confirmed = 0;
    std::vector<std::string_view> args{"SUBSCRIBE"};
    for (const auto& ch : sub->channels) args.push_back(ch);
    Encode(out, args);
    Flush();
  }
  void OnPush(const Reply& reply) {
    const auto& kind = reply.elements[0].str;
    if (kind == "subscribe" && reply.elements[1].str == kProbeChannel) {
      sub->probe_pending = false;
    } else if (kind == "message") {
      sub->on_message(reply.elements[1].str, reply.elements[2].str);
    } else if (kind == "subscribe" && ++sub->confirmed == sub->channels.size()) {
      obs::Info("redis subscribed", {{"client", name}, {"channels", sub->channels}});
      sub->on_state(true);
      sub->probe_pending = false;
      Probe();
    }
  }
  // Every interval: the last probe must have been answered, then another one goes out.
  void Probe() {
    probe_timer.expires_after(options.subscriber_probe);
    probe_timer.async_wait([w = weak_from_this(), connection = generation](error_code ec) {
      auto self = w.lock();
      if (ec || !self || self->generation != connection || !self->up || !self->sub) return;
      if (self->sub->probe_pending) {
        obs::Warn("redis subscriber silent; reconnecting", {{"client", self->name}});
        return self->Lose();
      }
      self->sub->probe_pending = true;
      const std::array<std::string_view, 2> probe{"SUBSCRIBE", kProbeChannel};
      Encode(self->out, probe);
      self->Flush();
      self->Probe();
    });
  }

  void Shutdown() {
    stopped = true;
    resolver.cancel();
    connect_timer.cancel();
    backoff_timer.cancel();
    probe_timer.cancel();
    if (watcher) watcher->Stop();
    Lose();  // closes the socket, connected or still connecting
  }
};

Client::Client(net::io_context& io, Options options, std::string name)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(name))) {}

Client::~Client() { Stop(); }

net::io_context& Client::io() const { return impl_->strand.context(); }

void Client::Start() {
  net::dispatch(impl_->strand, [i = impl_] {
    if (i->stopped) return;
    net::co_spawn(i->strand, Impl::Run(i), net::detached);
    if (i->SentinelMode()) i->Watch();
  });
}

void Client::Stop() {
  // Once the io_context has stopped, nothing else runs the strand: clean up here and now.
  if (impl_->strand.context().stopped()) {
    impl_->Shutdown();
    return;
  }
  std::promise<void> done;
  auto fut = done.get_future();
  net::dispatch(impl_->strand, [i = impl_, &done] {
    i->Shutdown();
    done.set_value();
  });
  fut.wait_for(std::chrono::milliseconds(500));
}

bool Client::connected() const { return impl_->is_connected.load(); }

std::uint64_t Client::primary_switches() const { return impl_->switches.load(); }

Endpoint Client::server() const {
  std::lock_guard lock(impl_->server_mutex);
  return impl_->server;
}

void Client::ExportMetrics(obs::Metrics& metrics) {
  metrics.Expose("redis_connected", "1 while the Redis connection is up, by client", obs::Metrics::Kind::kGauge,
                 {{"client", impl_->name}}, [i = impl_] { return i->is_connected.load() ? 1.0 : 0.0; });
  metrics.Expose("redis_primary_switches_total", "Failovers a client followed to a new primary (sentinel mode), by client",
                 obs::Metrics::Kind::kCounter, {{"client", impl_->name}},
                 [i = impl_] { return static_cast<double>(i->switches.load()); });
}

void Client::Subscribe(std::vector<std::string> channels, MessageFn on_message, std::function<void(bool)> on_state) {
  impl_->sub = std::make_unique<Impl::Subscription>(
      Impl::Subscription{std::move(channels), std::move(on_message), std::move(on_state), 0, false});
}

namespace {
using Args = std::shared_ptr<const std::vector<std::string>>;
// On the loop's thread (a rate-limit check) this runs at once; from another thread it is posted.
void Dispatch(const std::shared_ptr<Client::Impl>& impl, Args args, Client::Callback cb,
              std::optional<std::chrono::milliseconds> timeout) {
  net::dispatch(impl->strand, [i = impl, args = std::move(args), cb = std::move(cb), timeout]() mutable {
    i->Send(*args, std::move(cb), timeout);
  });
}
}  // namespace

void Client::Command(std::vector<std::string> args, Callback cb, std::optional<std::chrono::milliseconds> timeout) {
  Dispatch(impl_, std::make_shared<const std::vector<std::string>>(std::move(args)), std::move(cb), timeout);
}

Script::Script(std::string source) : source_(std::move(source)) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : md) sha_ += {kHex[b >> 4], kHex[b & 15]};
}

void Client::Eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args, Callback cb) {
  std::vector<std::string> argv = {"EVALSHA", script.sha(), std::to_string(keys.size())};
  argv.reserve(3 + keys.size() + args.size());
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  // The retry needs the arguments again only when the server lacks the script (once per
  // server start), so they are kept by a shared pointer rather than copied per call.
  auto shared = std::make_shared<std::vector<std::string>>(std::move(argv));
  Dispatch(impl_, shared, [impl = impl_, &script, shared, cb = std::move(cb)](Reply r) mutable {
    if (r.type != Reply::Type::kError || r.str.rfind("NOSCRIPT", 0) != 0) {
      cb(std::move(r));
      return;
    }
    (*shared)[0] = "EVAL";
    (*shared)[1] = script.source();
    Dispatch(impl, std::move(shared), std::move(cb), std::nullopt);
  }, std::nullopt);
}

}  // namespace suite::redis
