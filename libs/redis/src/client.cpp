#include "suite/redis/client.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <atomic>
#include <charconv>

#include "suite/core/url.hpp"
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

  // One hiredis context plus the Asio descriptor that watches its socket.
  struct Conn {
    explicit Conn(const net::io_context::executor_type& s) : sd(s) {}
    redisAsyncContext* ac = nullptr;
    net::posix::stream_descriptor sd;
    bool want_read = false, want_write = false;
    bool read_armed = false, write_armed = false;
    bool up = false;
    std::weak_ptr<Impl> owner;
  };
  struct Pending {
    Callback cb;
    std::unique_ptr<net::steady_timer> timer;
    bool done = false;
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

  // privdata is a heap std::shared_ptr<Pending>: the deadline's handler holds another, so a
  // reply and an expiry in the same loop turn cannot free the command under each other.
  static void OnReply(redisAsyncContext*, void* r, void* privdata) {
    std::unique_ptr<std::shared_ptr<Pending>> holder(static_cast<std::shared_ptr<Pending>*>(privdata));
    auto p = *holder;
    p->timer->cancel();
    if (!p->done) {
      p->done = true;
      auto cb = std::move(p->cb);
      cb(Convert(static_cast<redisReply*>(r)));
    }
  }

  void Send(const std::shared_ptr<Conn>& c, const std::vector<std::string>& args, Callback cb,
            std::optional<std::chrono::milliseconds> timeout) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto p = std::make_shared<Pending>(Pending{std::move(cb), std::make_unique<net::steady_timer>(strand), false});
    auto* holder = new std::shared_ptr<Pending>(p);
    if (redisAsyncCommandArgv(c->ac, OnReply, holder, static_cast<int>(args.size()), argv.data(),
                              lens.data()) != REDIS_OK) {
      delete holder;
      p->done = true;
      p->cb(Reply::Failure("redis command rejected"));
      return;
    }
    p->timer->expires_after(timeout.value_or(options.command_timeout));
    p->timer->async_wait([p, c](error_code ec) {
      if (ec || p->done) return;
      p->done = true;
      auto failed = std::move(p->cb);
      // A connection that stopped answering is replaced. Drop it before telling the caller, so
      // that connected() is already false then.
      if (c->ac != nullptr) redisAsyncFree(c->ac);
      failed(Reply::Failure("redis command timed out"));
    });
  }
};

Client::Client(net::io_context& io, Options options, std::string name)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(name))) {}

Client::~Client() { Stop(); }

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

Options OptionsFromEnv(core::Env& env, const char* name) {
  const std::string url = env.Str(name);
  if (url.empty()) return {};  // already recorded as missing
  auto o = ParseUrl(url);
  if (!o) env.Fail(name, "must look like redis://[[user]:password@]host[:port][/db]");
  return o.value_or(Options{});
}

std::optional<Options> ParseUrl(std::string_view text) {
  const auto url = core::ParseUrl(text);
  if (!url || url->scheme != "redis" || url->has_query || url->has_fragment) return std::nullopt;
  Options o;
  o.host = url->host;
  if (url->port) o.port = *url->port;
  o.username = url->user;  // a Redis 6 ACL user ("" : the default user)
  o.password = url->password;
  if (!o.username.empty() && o.password.empty()) return std::nullopt;  // AUTH needs both
  if (url->path.size() > 1) {
    const std::string_view db = std::string_view(url->path).substr(1);
    auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), o.db);
    if (ec != std::errc{} || p != db.data() + db.size() || o.db < 0 || o.db > 15) return std::nullopt;
  }
  return o;
}

}  // namespace suite::redis
