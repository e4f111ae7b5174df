#include "suite/redis/client.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <optional>

#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"
#include <openssl/sha.h>

#include <future>

namespace suite::redis {

namespace net = boost::asio;
using boost::system::error_code;

namespace {
Reply Convert(const redisReply* r) {
  Reply out;
  if (r == nullptr) return Reply::Failure("connection lost");
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_NIL:
      out.type = Reply::Type::kNil;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out = Reply::Failure("unsupported reply type");
  }
  return out;
}
}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  Impl(net::io_context& io, Options o, std::string n)
      : strand(io.get_executor()), options(std::move(o)), name(std::move(n)),
        reconnect_timer(strand), connect_timer(strand), probe_timer(strand) {}

  using Clock = std::chrono::steady_clock;
  // A command sent and not answered yet.
  struct Pending {
    Callback cb;
    Clock::time_point deadline;
    bool done = false;  ///< failed by its deadline; its reply (or the connection's end) is dropped
  };
  // One hiredis context plus the Asio descriptor that watches its socket.
  struct Conn {
    explicit Conn(const net::io_context::executor_type& s) : sd(s), deadline(s) {}
    redisAsyncContext* ac = nullptr;
    net::posix::stream_descriptor sd;
    bool want_read = false, want_write = false;
    bool read_armed = false, write_armed = false;
    bool up = false;
    std::weak_ptr<Impl> owner;
    // Commands in the order they were sent, which is the order Redis answers them (and hiredis
    // fails them, when the connection ends). One timer watches them all, set for the earliest
    // deadline and moved only when it fires or an earlier one arrives: no timer per command.
    std::deque<Pending> pending;
    net::steady_timer deadline;
    std::optional<Clock::time_point> armed_for;
    std::uint64_t arming = 0;  ///< tells a superseded wait from the current one
  };

  // The loop's own executor ("strand" by its role): one thread runs a loop, so the client's
  // state, touched only in handlers on it, needs no strand. Callers on other threads (the audit
  // publisher's sender) post to it.
  net::io_context::executor_type strand;
  Options options;
  std::string name;
  net::steady_timer reconnect_timer, connect_timer;
  net::steady_timer probe_timer;  ///< subscriber mode: the liveness probe
  std::shared_ptr<Conn> conn;
  std::atomic<bool> is_connected{false};
  bool stopped = false;
  struct Subscription {
    std::vector<std::string> channels;
    MessageFn on_message;
    std::function<void(bool)> on_state;
    std::size_t confirmed = 0;
    bool probe_pending = false;
  };
  // Subscribing again to a channel already subscribed is answered with a confirmation and
  // changes nothing: the one round trip a subscriber connection can make (hiredis 0.14 drops a
  // PING's answer in subscriber mode). Nobody publishes on it.
  static constexpr const char* kProbeChannel = "suite:subscriber-probe";
  std::unique_ptr<Subscription> sub;  // set before Start(); used on the strand only
  std::chrono::milliseconds backoff{50};

  // -- hiredis event hooks (all on the strand) --
  static void ArmRead(const std::shared_ptr<Conn>& c) {
    if (c->read_armed || !c->want_read || c->ac == nullptr) return;
    c->read_armed = true;
    c->sd.async_wait(net::posix::descriptor_base::wait_read, [c](error_code ec) {
      c->read_armed = false;
      if (ec || c->ac == nullptr || !c->want_read) return;
      redisAsyncHandleRead(c->ac);  // may free the context (cleanup hook clears c->ac)
      ArmRead(c);
    });
  }
  static void ArmWrite(const std::shared_ptr<Conn>& c) {
    if (c->write_armed || !c->want_write || c->ac == nullptr) return;
    c->write_armed = true;
    c->sd.async_wait(net::posix::descriptor_base::wait_write, [c](error_code ec) {
      c->write_armed = false;
      if (ec || c->ac == nullptr || !c->want_write) return;
      redisAsyncHandleWrite(c->ac);
      ArmWrite(c);
    });
  }
  static std::shared_ptr<Conn>& Self(void* p) { return *static_cast<std::shared_ptr<Conn>*>(p); }
  static void AddRead(void* p) { auto c = Self(p); c->want_read = true; ArmRead(c); }
  static void DelRead(void* p) { Self(p)->want_read = false; }
  static void AddWrite(void* p) { auto c = Self(p); c->want_write = true; ArmWrite(c); }
  static void DelWrite(void* p) { Self(p)->want_write = false; }
  static void Cleanup(void* p) {
    auto* holder = static_cast<std::shared_ptr<Conn>*>(p);
    auto c = *holder;
    c->ac = nullptr;
    c->want_read = c->want_write = false;
    c->deadline.cancel();  // its wait holds the Conn: let go of it now
    error_code ec;
    c->sd.cancel(ec);
    c->sd.release();  // hiredis owns and closes the fd
    // hiredis calls the disconnect callback after this hook, and it still reads ev.data.
    // Owned by the handler: freed when it runs, or when a stopped io_context discards it.
    net::post(c->sd.get_executor(), [h = std::unique_ptr<std::shared_ptr<Conn>>(holder)] {});
  }

  static void OnConnect(const redisAsyncContext* ac, int status) {
    auto c = Self(ac->ev.data);
    auto self = c->owner.lock();
    if (!self) return;
    self->connect_timer.cancel();
    if (status != REDIS_OK) {
      obs::Warn("redis connect failed", {{"client", self->name}, {"error", ac->errstr}});
      self->is_connected = false;
      self->ScheduleReconnect();
      return;
    }
    c->up = true;
    self->is_connected = true;
    self->backoff = std::chrono::milliseconds(50);
    obs::Info("redis connected", {{"client", self->name}});
    if (self->sub) self->SendSubscribe(c);
  }

  // Subscriber mode: hiredis keeps calling this with the same privdata (the Conn, alive until
  // after hiredis has called back for the last time) for every confirmation and message.
  void SendSubscribe(const std::shared_ptr<Conn>& c) {
    sub->confirmed = 0;
    std::vector<const char*> argv = {"SUBSCRIBE"};
    std::vector<std::size_t> lens = {9};
    for (const auto& ch : sub->channels) {
      argv.push_back(ch.data());
      lens.push_back(ch.size());
    }
    redisAsyncCommandArgv(c->ac, OnSubscribed, c.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
  }
  static void OnSubscribed(redisAsyncContext*, void* r, void* privdata) {
    auto* c = static_cast<Conn*>(privdata);
    auto self = c->owner.lock();
    if (!self || !self->sub || r == nullptr) return;
    const auto reply = Convert(static_cast<redisReply*>(r));
    if (reply.type != Reply::Type::kArray || reply.elements.size() != 3) return;
    const auto& kind = reply.elements[0].str;
    if (kind == "subscribe" && reply.elements[1].str == kProbeChannel) {
      self->sub->probe_pending = false;
    } else if (kind == "message") {
      self->sub->on_message(reply.elements[1].str, reply.elements[2].str);
    } else if (kind == "subscribe" && ++self->sub->confirmed == self->sub->channels.size()) {
      obs::Info("redis subscribed", {{"client", self->name}, {"channels", self->sub->channels}});
      self->sub->on_state(true);
      self->sub->probe_pending = false;
      self->Probe(self->conn);
    }
  }
  // Every interval: the last probe must have been answered, then another one goes out.
  void Probe(const std::shared_ptr<Conn>& c) {
    probe_timer.expires_after(options.subscriber_probe);
    probe_timer.async_wait([w = weak_from_this(), c](error_code ec) {
      auto self = w.lock();
      if (ec || !self || self->conn != c || c->ac == nullptr || !self->sub) return;
      if (self->sub->probe_pending) {
        obs::Warn("redis subscriber silent; reconnecting", {{"client", self->name}});
        redisAsyncFree(c->ac);  // fails the connection: OnDisconnect reports it and reconnects
        return;
      }
      self->sub->probe_pending = true;
      redisAsyncCommand(c->ac, OnSubscribed, c.get(), "SUBSCRIBE %s", kProbeChannel);
      self->Probe(c);
    });
  }
  static void OnDisconnect(const redisAsyncContext* ac, int) {
    auto c = Self(ac->ev.data);
    auto self = c->owner.lock();
    c->up = false;
    if (!self) return;
    if (self->conn == c) {
      self->is_connected = false;
      self->conn.reset();
      if (self->sub) {
        self->probe_timer.cancel();
        self->sub->confirmed = 0;
        self->sub->on_state(false);
      }
      if (!self->stopped) {
        obs::Warn("redis disconnected", {{"client", self->name}});
        self->ScheduleReconnect();
      }
    }
  }

  void Connect() {
    if (stopped) return;
    redisAsyncContext* ac = redisAsyncConnect(options.host.c_str(), options.port);
    if (ac == nullptr || ac->err) {
      obs::Warn("redis connect failed", {{"client", name}, {"error", ac ? ac->errstr : "alloc"}});
      if (ac) redisAsyncFree(ac);
      ScheduleReconnect();
      return;
    }
    auto c = std::make_shared<Conn>(strand);
    c->ac = ac;
    c->owner = weak_from_this();
    c->sd.assign(ac->c.fd);
    ac->ev.data = new std::shared_ptr<Conn>(c);
    ac->ev.addRead = AddRead;
    ac->ev.delRead = DelRead;
    ac->ev.addWrite = AddWrite;
    ac->ev.delWrite = DelWrite;
    ac->ev.cleanup = Cleanup;
    redisAsyncSetConnectCallback(ac, OnConnect);
    redisAsyncSetDisconnectCallback(ac, OnDisconnect);
    conn = c;
    // Commands queue on the context before the connection completes; send AUTH/SELECT first.
    if (!options.username.empty())
      Send(c, {"AUTH", options.username, options.password}, [](Reply) {}, std::nullopt);
    else if (!options.password.empty())
      Send(c, {"AUTH", options.password}, [](Reply) {}, std::nullopt);
    if (options.db != 0) Send(c, {"SELECT", std::to_string(options.db)}, [](Reply) {}, std::nullopt);
    connect_timer.expires_after(options.connect_timeout);
    connect_timer.async_wait([w = weak_from_this(), c](error_code ec) {
      auto self = w.lock();
      if (ec || !self || c->up || c->ac == nullptr) return;
      obs::Warn("redis connect timeout", {{"client", self->name}});
      redisAsyncFree(c->ac);  // fails pending commands, triggers OnDisconnect
    });
  }

  void ScheduleReconnect() {
    if (stopped) return;
    reconnect_timer.expires_after(backoff);
    backoff = std::min(backoff * 2, options.max_backoff);
    reconnect_timer.async_wait([w = weak_from_this()](error_code ec) {
      if (auto self = w.lock(); self && !ec) self->Connect();
    });
  }

  // Replies come in the order of the commands: this one is the oldest pending. The context's
  // data (the Conn's holder) outlives every callback: hiredis runs them before its cleanup hook.
  static void OnReply(redisAsyncContext* ac, void* r, void* privdata) {
    auto& c = Self(ac->ev.data);
    if (c->pending.empty() || &c->pending.front() != privdata) {
      obs::Error("redis reply out of order; dropped", {});
      return;
    }
    Pending p = std::move(c->pending.front());
    c->pending.pop_front();  // before the callback, which may send another command
    if (!p.done) p.cb(Convert(static_cast<redisReply*>(r)));
  }

  void Send(const std::shared_ptr<Conn>& c, const std::vector<std::string>& args, Callback cb,
            std::optional<std::chrono::milliseconds> timeout) {
    constexpr std::size_t kInline = 16;
    std::array<const char*, kInline> argv_inline;
    std::array<std::size_t, kInline> lens_inline;
    std::vector<const char*> argv_heap;
    std::vector<std::size_t> lens_heap;
    const char** argv = argv_inline.data();
    std::size_t* lens = lens_inline.data();
    if (args.size() > kInline) {
      argv_heap.resize(args.size());
      lens_heap.resize(args.size());
      argv = argv_heap.data();
      lens = lens_heap.data();
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      argv[i] = args[i].data();
      lens[i] = args[i].size();
    }
    const auto deadline = Clock::now() + timeout.value_or(options.command_timeout);
    c->pending.push_back(Pending{std::move(cb), deadline, false});
    Pending* p = &c->pending.back();  // a deque's elements stay put as it grows and shrinks at its ends
    if (redisAsyncCommandArgv(c->ac, OnReply, p, static_cast<int>(args.size()), argv, lens) != REDIS_OK) {
      auto failed = std::move(p->cb);
      c->pending.pop_back();
      failed(Reply::Failure("redis command rejected"));
      return;
    }
    if (!c->armed_for || deadline < *c->armed_for) Arm(c, deadline);
  }

  static void Arm(const std::shared_ptr<Conn>& c, Clock::time_point when) {
    c->armed_for = when;
    const auto arming = ++c->arming;
    c->deadline.expires_at(when);
    c->deadline.async_wait([c, arming](error_code ec) {
      if (ec || arming != c->arming) return;  // moved to an earlier deadline, or cancelled
      c->armed_for.reset();
      Expire(c);
    });
  }

  // The timer fired: commands past their deadline fail, and their connection, which stopped
  // answering, is replaced (dropped before the callers hear of it, so that connected() is
  // already false then); else the timer moves to the earliest deadline still pending.
  static void Expire(const std::shared_ptr<Conn>& c) {
    if (c->ac == nullptr) return;
    const auto now = Clock::now();
    std::optional<Clock::time_point> next;
    std::vector<Callback> expired;
    for (auto& p : c->pending) {
      if (p.done) continue;
      if (p.deadline <= now) {
        p.done = true;
        expired.push_back(std::move(p.cb));
      } else if (!next || p.deadline < *next) {
        next = p.deadline;
      }
    }
    if (expired.empty()) {
      if (next) Arm(c, *next);
      return;
    }
    redisAsyncFree(c->ac);  // the other pending commands fail with it ("connection lost")
    for (auto& cb : expired) cb(Reply::Failure("redis command timed out"));
  }
};

Client::Client(net::io_context& io, Options options, std::string name)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(name))) {}

Client::~Client() { Stop(); }

net::io_context& Client::io() const { return impl_->strand.context(); }

void Client::Start() {
  net::dispatch(impl_->strand, [i = impl_] { i->Connect(); });
}

void Client::Stop() {
  auto shutdown = [i = impl_] {
    i->stopped = true;
    i->reconnect_timer.cancel();
    i->connect_timer.cancel();
    i->probe_timer.cancel();
    if (i->conn && i->conn->ac) redisAsyncFree(i->conn->ac);
    i->conn.reset();
    i->is_connected = false;
  };
  // Once the io_context has stopped, nothing else runs the strand: clean up here and now.
  if (impl_->strand.context().stopped()) {
    shutdown();
    return;
  }
  std::promise<void> done;
  auto fut = done.get_future();
  net::dispatch(impl_->strand, [shutdown, &done] {
    shutdown();
    done.set_value();
  });
  fut.wait_for(std::chrono::milliseconds(500));
}

bool Client::connected() const { return impl_->is_connected.load(); }

void Client::ExportMetrics(obs::Metrics& metrics) {
  metrics.Expose("redis_connected", "1 while the Redis connection is up, by client", obs::Metrics::Kind::kGauge,
                 {{"client", impl_->name}}, [i = impl_] { return i->is_connected.load() ? 1.0 : 0.0; });
}

void Client::Subscribe(std::vector<std::string> channels, MessageFn on_message, std::function<void(bool)> on_state) {
  impl_->sub = std::make_unique<Impl::Subscription>(
      Impl::Subscription{std::move(channels), std::move(on_message), std::move(on_state), 0, false});
}

namespace {
using Args = std::shared_ptr<const std::vector<std::string>>;
void Dispatch(const std::shared_ptr<Client::Impl>& impl, Args args, Client::Callback cb,
              std::optional<std::chrono::milliseconds> timeout);
}  // namespace

void Client::Command(std::vector<std::string> args, Callback cb,
                     std::optional<std::chrono::milliseconds> timeout) {
  Dispatch(impl_, std::make_shared<const std::vector<std::string>>(std::move(args)), std::move(cb), timeout);
}

namespace {
// On the loop's thread (a rate-limit check) this runs at once; from another thread it is posted.
void Dispatch(const std::shared_ptr<Client::Impl>& impl, Args args, Client::Callback cb,
              std::optional<std::chrono::milliseconds> timeout) {
  net::dispatch(impl->strand, [i = impl, args = std::move(args), cb = std::move(cb), timeout]() mutable {
    if (!i->conn || i->conn->ac == nullptr || !i->conn->up) {
      cb(Reply::Failure("redis not connected"));
      return;
    }
    i->Send(i->conn, *args, std::move(cb), timeout);
  });
}
}  // namespace

Script::Script(std::string source) : source_(std::move(source)) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : md) sha_ += {kHex[b >> 4], kHex[b & 15]};
}

void Client::Eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                  Callback cb) {
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
