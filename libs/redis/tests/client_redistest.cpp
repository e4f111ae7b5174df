#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <atomic>
#include <future>
#include <list>
#include <mutex>
#include <thread>

#include "suite/core/ids.hpp"
#include "suite/redis/client.hpp"
#include "suite/testing/env.hpp"
#include "suite/testing/loop.hpp"
#include "suite/testing/redis_servers.hpp"

using namespace suite::redis;

using suite::testing::Call;
using suite::testing::Eventually;
using suite::testing::WaitConnected;
using Loop = suite::testing::IoLoop;

TEST_CASE("commands, pipelining and replies against a real Redis") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Loop loop;
  Client client(loop.runtime.io(), *ParseUrl(*url), "test");
  client.Start();
  REQUIRE(WaitConnected(client));
  const std::string key = "test:" + suite::core::NewUuid();
  CHECK(Call(client, {"SET", key, std::string("bin\0ary", 7)}).str == "OK");
  CHECK(Call(client, {"GET", key}).str == std::string("bin\0ary", 7));
  CHECK(Call(client, {"GET", key + ":missing"}).type == Reply::Type::kNil);
  // 200 commands in flight at once on one connection, answered in order.
  std::atomic<int> done{0};
  std::promise<void> all;
  for (int i = 0; i < 200; ++i)
    client.Command({"INCR", key + ":n"}, [&](Reply r) {
      if (r.type == Reply::Type::kInteger && ++done == 200) all.set_value();
    });
  REQUIRE(all.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(Call(client, {"GET", key + ":n"}).str == "200");
  auto err = Call(client, {"INCR", key});
  CHECK(err.type == Reply::Type::kError);
  auto arr = Call(client, {"MGET", key + ":n", key + ":none"});
  REQUIRE(arr.elements.size() == 2);
  CHECK(arr.elements[1].type == Reply::Type::kNil);
  Call(client, {"DEL", key, key + ":n"});
}

TEST_CASE("scripts run by EVALSHA after a NOSCRIPT fallback") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Loop loop;
  Client client(loop.runtime.io(), *ParseUrl(*url), "test");
  client.Start();
  REQUIRE(WaitConnected(client));
  const Script script("return {KEYS[1], ARGV[1], '" + suite::core::NewUuid() + "', 7}");
  CHECK(script.sha().size() == 40);
  for (int i = 0; i < 2; ++i) {  // the first runs by EVAL after NOSCRIPT, the second by EVALSHA
    std::promise<Reply> p;
    client.Eval(script, {"k"}, {"v"}, [&](Reply r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    REQUIRE(r.elements.size() == 4);
    CHECK(r.elements[0].str == "k");
    CHECK(r.elements[1].str == "v");
    CHECK(r.elements[3].integer == 7);
  }
  auto exists = Call(client, {"SCRIPT", "EXISTS", script.sha()});
  REQUIRE(exists.elements.size() == 1);
  CHECK(exists.elements[0].integer == 1);
}

TEST_CASE("commands and scripts awaited: a coroutine on another loop resumes on its own, with the reply") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  // The awaiting coroutine's loop, not the client's; made first so that it goes last, once the
  // client's loop (which posts to it) has stopped.
  boost::asio::io_context io;
  Loop loop;
  Client client(loop.runtime.io(), *ParseUrl(*url), "test");
  client.Start();
  REQUIRE(WaitConnected(client));
  const std::string key = "test:call:" + suite::core::NewUuid();
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  std::vector<long long> seen;
  bool on_own_loop = true;
  boost::asio::co_spawn(
      io,
      // (Arguments built outside the co_await expressions: GCC 12 rejects braced lists there.)
      [&]() -> boost::asio::awaitable<void> {
        std::vector<std::string> set_args = {"SET", key, "40"};
        const auto set = co_await client.Call(std::move(set_args));
        on_own_loop = on_own_loop && io.get_executor().running_in_this_thread();
        seen.push_back(set.type == Reply::Type::kStatus ? 1 : 0);
        for (int i = 0; i < 2; ++i) {  // EVAL after NOSCRIPT, then EVALSHA
          std::vector<std::string> keys = {key}, args = {"1"};
          const auto r = co_await client.Run(script, std::move(keys), std::move(args));
          on_own_loop = on_own_loop && io.get_executor().running_in_this_thread();
          seen.push_back(r.integer);
        }
        std::vector<std::string> del_args = {"DEL", key};
        const auto del = co_await client.Call(std::move(del_args));
        seen.push_back(del.integer);
      },
      boost::asio::detached);
  io.run();
  CHECK(seen == std::vector<long long>{1, 41, 42, 1});
  CHECK(on_own_loop);
}

TEST_CASE("commands fail fast when Redis is unreachable, and blocking commands time out") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Loop loop;
  Options bad = *ParseUrl(*url);
  bad.port = 1;
  Client down(loop.runtime.io(), bad, "down");
  down.Start();
  auto r = Call(down, {"PING"});
  CHECK(r.type == Reply::Type::kError);
  Options o = *ParseUrl(*url);
  o.command_timeout = std::chrono::milliseconds(100);
  Client client(loop.runtime.io(), o, "test");
  client.Start();
  REQUIRE(WaitConnected(client));
  auto slow = Call(client, {"BLPOP", "test:never:" + suite::core::NewUuid(), "2"});
  CHECK(slow.str == "redis command timed out");
  REQUIRE(WaitConnected(client));  // reconnected
  CHECK(Call(client, {"PING"}).str == "PONG");
}

TEST_CASE("one deadline watches a connection's commands: a shorter one behind a longer one still fires on time") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Loop loop;
  Options o = *ParseUrl(*url);
  o.command_timeout = std::chrono::milliseconds(5000);
  Client client(loop.runtime.io(), o, "test");
  client.Start();
  REQUIRE(WaitConnected(client));
  // A blocking command under the long default, then one with a 150 ms deadline queued behind it:
  // the earlier deadline moves the connection's one timer, so both fail within it (the second
  // timed out, the first with the connection it stalled), not after 5 s.
  std::promise<Reply> first, second;
  const auto started = std::chrono::steady_clock::now();
  client.Command({"BLPOP", "test:never:" + suite::core::NewUuid(), "3"}, [&](Reply r) { first.set_value(std::move(r)); });
  client.Command({"PING"}, [&](Reply r) { second.set_value(std::move(r)); }, std::chrono::milliseconds(150));
  auto f1 = first.get_future(), f2 = second.get_future();
  REQUIRE(f2.wait_for(std::chrono::seconds(2)) == std::future_status::ready);
  REQUIRE(f1.wait_for(std::chrono::seconds(2)) == std::future_status::ready);
  CHECK(f2.get().str == "redis command timed out");
  CHECK(f1.get().type == Reply::Type::kError);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(2500));  // not the BLPOP's 3 s
  REQUIRE(WaitConnected(client));  // a new connection
  // Answered commands leave nothing behind: a thousand under the deadline, then the timer
  // finds none overdue and the connection stays.
  std::atomic<int> done{0};
  std::promise<void> all;
  for (int i = 0; i < 1000; ++i)
    client.Command({"PING"}, [&](Reply r) {
      if (r.str == "PONG" && ++done == 1000) all.set_value();
    }, std::chrono::milliseconds(200));
  REQUIRE(all.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(client.connected());
  CHECK(Call(client, {"PING"}).str == "PONG");
}

TEST_CASE("commands of one loop turn leave in one write, and a reply that breaks the protocol drops the connection") {
  // A server of our own: it reads what the client wrote first, answers with bytes that are no
  // RESP, and then takes a second connection (the client's reconnect).
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  std::promise<std::string> first_read;
  std::atomic<int> accepted{0};
  std::thread server([&] {
    boost::asio::ip::tcp::socket a(io);
    acceptor.accept(a);
    ++accepted;
    std::string got;
    char buf[64 * 1024];
    // All 50 commands, in as few reads as the kernel delivers one write in (one, on loopback).
    boost::system::error_code ec;
    const auto n = a.read_some(boost::asio::buffer(buf), ec);
    first_read.set_value(std::string(buf, n));
    boost::asio::write(a, boost::asio::buffer(std::string("!not resp\r\n")), ec);
    boost::asio::ip::tcp::socket b(io);
    acceptor.accept(b);
    ++accepted;
    b.read_some(boost::asio::buffer(buf), ec);  // until the client goes
  });
  Options o;
  o.host = "127.0.0.1";
  o.port = acceptor.local_endpoint().port();
  Loop loop;
  Client client(loop.runtime.io(), o, "fake");
  client.Start();
  REQUIRE(WaitConnected(client));
  std::mutex mu;
  std::vector<Reply> replies;
  std::promise<void> all;
  // Fifty commands issued in one handler on the client's loop: one turn.
  boost::asio::post(loop.runtime.io(), [&] {
    for (int i = 0; i < 50; ++i)
      client.Command({"PING"}, [&](Reply r) {
        std::lock_guard lock(mu);
        replies.push_back(std::move(r));
        if (replies.size() == 50) all.set_value();
      });
  });
  auto got = first_read.get_future();
  REQUIRE(got.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  std::string one;
  for (int i = 0; i < 50; ++i) one += "*1\r\n$4\r\nPING\r\n";
  CHECK(got.get() == one);
  REQUIRE(all.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  {
    std::lock_guard lock(mu);
    for (const auto& r : replies) CHECK(r.str == "connection lost");
  }
  for (int i = 0; i < 500 && accepted < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(accepted == 2);  // it connected again
  client.Stop();
  server.join();
}

TEST_CASE("subscriber: messages arrive, a lost connection is reported and the subscription restored") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  Loop loop;
  Client pub(loop.runtime.io(), *ParseUrl(*url), "pub");
  Client sub(loop.runtime.io(), *ParseUrl(*url), "sub");
  const std::string channel = "test:" + suite::core::NewUuid();
  std::mutex mu;
  std::vector<std::string> got, states;
  sub.Subscribe({channel}, [&](const std::string& ch, const std::string& payload) {
    std::lock_guard lock(mu);
    got.push_back(ch + "=" + payload);
  }, [&](bool up) {
    std::lock_guard lock(mu);
    states.push_back(up ? "up" : "down");
  });
  pub.Start();
  sub.Start();
  REQUIRE(WaitConnected(pub));
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 300; ++i) {
      {
        std::lock_guard lock(mu);
        if (pred()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  REQUIRE(wait_for([&] { return states == std::vector<std::string>{"up"}; }));
  CHECK(Call(pub, {"PUBLISH", channel, "one"}).integer == 1);
  REQUIRE(wait_for([&] { return got.size() == 1; }));
  CHECK(got[0] == channel + "=one");
  // The server drops the subscriber: reported, then restored.
  CHECK(Call(pub, {"CLIENT", "KILL", "TYPE", "pubsub"}).integer >= 1);
  REQUIRE(wait_for([&] { return states == std::vector<std::string>{"up", "down", "up"}; }));
  CHECK(Call(pub, {"PUBLISH", channel, "two"}).integer == 1);
  REQUIRE(wait_for([&] { return got.size() == 2; }));
  CHECK(got[1] == channel + "=two");
  sub.Stop();
  pub.Stop();
}

namespace {
// A TCP relay to Redis that can freeze: while frozen it forwards nothing but keeps every
// connection open, as a stopped server or a path that died without a reset would.
class FreezingRelay {
 public:
  explicit FreezingRelay(const Options& target) : target_(target) {
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  // Wakes each blocked thread without closing a socket under it (shutdown, a poke at accept).
  ~FreezingRelay() {
    stopping_ = true;
    boost::system::error_code ec;
    {
      boost::asio::ip::tcp::socket poke(io_);
      poke.connect(acceptor_.local_endpoint(), ec);
    }
    accept_thread_.join();
    {
      std::lock_guard lock(mu_);
      for (auto& s : sockets_) s.shutdown(boost::asio::socket_base::shutdown_both, ec);
    }
    for (auto& t : pumps_) t.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void Freeze(bool on) { frozen_ = on; }
  int connections() const { return connections_; }

 private:
  void AcceptLoop() {
    for (;;) {
      boost::asio::ip::tcp::socket client(io_);
      boost::system::error_code ec;
      acceptor_.accept(client, ec);
      if (ec || stopping_) return;
      boost::asio::ip::tcp::socket server(io_);
      server.connect({boost::asio::ip::make_address(target_.host), target_.port}, ec);
      if (ec) continue;
      ++connections_;
      std::lock_guard lock(mu_);
      auto& a = sockets_.emplace_back(std::move(client));
      auto& b = sockets_.emplace_back(std::move(server));
      pumps_.emplace_back([this, &a, &b] { Pump(a, b); });
      pumps_.emplace_back([this, &a, &b] { Pump(b, a); });
    }
  }
  void Pump(boost::asio::ip::tcp::socket& from, boost::asio::ip::tcp::socket& to) {
    char buf[4096];
    boost::system::error_code ec;
    for (;;) {
      const auto n = from.read_some(boost::asio::buffer(buf), ec);
      if (ec) return;
      while (frozen_ && !stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      boost::asio::write(to, boost::asio::buffer(buf, n), ec);
      if (ec) return;
    }
  }
  Options target_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::atomic<bool> frozen_{false}, stopping_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::list<boost::asio::ip::tcp::socket> sockets_;
  std::list<std::thread> pumps_;
  std::thread accept_thread_;
};
}  // namespace

TEST_CASE("subscriber: a connection that stops delivering is noticed by its probe and remade") {
  auto url = suite::testing::ServerUrl("REDIS_URL");
  if (!url) return;
  FreezingRelay relay(*ParseUrl(*url));
  auto options = *ParseUrl(*url);
  options.port = relay.port();
  // One probe a second: the round trip through the relay must fit in an interval even on a
  // loaded CI machine under ASan (250 ms once did not).
  options.subscriber_probe = std::chrono::milliseconds(1000);
  Loop loop;
  Client sub(loop.runtime.io(), options, "sub");
  std::mutex mu;
  std::vector<std::string> states;
  sub.Subscribe({"test:" + suite::core::NewUuid()}, [](const std::string&, const std::string&) {}, [&](bool up) {
    std::lock_guard lock(mu);
    states.push_back(up ? "up" : "down");
  });
  sub.Start();
  auto states_now = [&] {
    std::lock_guard lock(mu);
    return states;
  };
  auto wait_for = [&](const std::vector<std::string>& want) {
    for (int i = 0; i < 800 && states_now() != want; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return states_now() == want;
  };
  REQUIRE(wait_for({"up"}));
  // Answered probes keep a live connection up: three intervals, no change.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  CHECK(states_now() == std::vector<std::string>{"up"});
  CHECK(relay.connections() == 1);
  // Frozen: the connection is still open, nothing comes back. Noticed within two probes.
  relay.Freeze(true);
  CHECK(wait_for({"up", "down"}));
  // Thawed: a new connection subscribes again.
  relay.Freeze(false);
  CHECK(wait_for({"up", "down", "up"}));
  CHECK(relay.connections() >= 2);
  sub.Stop();
}

namespace {
using suite::testing::RedisProcess;

// The primary and replica servers of the sentinel tests: an ACL user, the default user off.
const std::string kAcl = "user default off\nuser suite on >s3cret ~* &* +@all\n";
std::string ServerConfig() {
  return "save \"\"\nappendonly no\nrepl-diskless-sync-delay 0\n" + kAcl + "masteruser suite\nmasterauth s3cret\n";
}

Options Direct(std::uint16_t port) {
  Options o;
  o.port = port;
  o.username = "suite";
  o.password = "s3cret";
  return o;
}
}  // namespace

TEST_CASE("a wrong password fails the connection's setup: not connected, commands refused at once") {
  if (!suite::testing::ServerUrl("REDIS_URL")) return;  // servers (and redis-server) required
  suite::testing::TempDir dir;
  RedisProcess server(dir.path, ServerConfig());
  Loop loop;
  auto wrong = Direct(server.port());
  wrong.password = "not-it";
  Client refused(loop.runtime.io(), wrong, "wrong");
  Client right(loop.runtime.io(), Direct(server.port()), "right");
  refused.Start();
  right.Start();
  REQUIRE(WaitConnected(right));
  CHECK(Call(right, {"ACL", "WHOAMI"}).str == "suite");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK_FALSE(refused.connected());
  CHECK(Call(refused, {"PING"}).str == "redis not connected");
}

TEST_CASE("sentinel mode: the primary is found and followed through a failover while idle and one after it died") {
  if (!suite::testing::ServerUrl("REDIS_URL")) return;
  suite::testing::TempDir dir;
  RedisProcess a(dir.path, ServerConfig());
  RedisProcess b(dir.path, ServerConfig() + "replicaof 127.0.0.1 " + std::to_string(a.port()) + "\n");
  std::list<RedisProcess> sentinels;
  std::string url = "redis+sentinel://suite:s3cret@";
  for (int i = 0; i < 3; ++i) {
    auto& s = sentinels.emplace_back(dir.path,
        "sentinel monitor m 127.0.0.1 " + std::to_string(a.port()) + " 2\n"
        "sentinel down-after-milliseconds m 500\nsentinel failover-timeout m 2000\n"
        "sentinel auth-user m suite\nsentinel auth-pass m s3cret\n"
        "sentinel sentinel-user suite\nsentinel sentinel-pass s3cret\n"
        "user default off\nuser suite on >s3cret allchannels +@all\n", RedisProcess::kSentinel);
    url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(s.port());
  }
  auto options = *ParseUrl(url + "/m/3");  // a database: SELECTed on the servers, never on the sentinels
  options.subscriber_probe = std::chrono::milliseconds(1000);
  options.max_backoff = std::chrono::milliseconds(500);
  Loop loop;
  Client client(loop.runtime.io(), options, "sentinel-test");
  client.Start();
  REQUIRE(Eventually([&] { return client.connected(); }, std::chrono::seconds(10)));
  CHECK(client.server() == Endpoint{"127.0.0.1", a.port()});
  REQUIRE(Call(client, {"SET", "k", "before"}).str == "OK");
  auto Replicated = [&] { return Eventually([&] { return Call(client, {"WAIT", "1", "200"}).integer == 1; }); };
  REQUIRE(Replicated());  // on the replica too
  const std::string tag = suite::core::NewUuid();
  const Script script("return ARGV[1] .. '" + tag + "'");
  auto Run = [&] {
    std::promise<Reply> p;
    client.Eval(script, {}, {"x"}, [&](Reply r) { p.set_value(std::move(r)); });
    return p.get_future().get().str;
  };
  CHECK(Run() == "x" + tag);
  // The sentinels agree they can fail over (each sees the others and the replica).
  Client s1(loop.runtime.io(), Direct(sentinels.front().port()), "s1");
  s1.Start();
  REQUIRE(WaitConnected(s1));
  REQUIRE(Eventually([&] { return Call(s1, {"SENTINEL", "CKQUORUM", "m"}).str.rfind("OK 3 usable", 0) == 0; }));

  // 1. The primary freezes while the client has nothing to send: only the sentinels' word
  // (+switch-master) can move it, and it moves to the promoted replica.
  a.Signal(SIGSTOP);
  REQUIRE(Eventually([&] { return client.connected() && client.server() == Endpoint{"127.0.0.1", b.port()}; }));
  CHECK(Call(client, {"GET", "k"}).str == "before");
  CHECK(Run() == "x" + tag);  // the new primary lacked the script: EVAL again
  CHECK(Call(client, {"SET", "k", "after-1"}).str == "OK");

  // 2. The old primary wakes and the sentinels make it a replica of the new one; then the new
  // primary dies (kill -9) and the client, which keeps writing, lands on the old one again.
  a.Signal(SIGCONT);
  Client direct_a(loop.runtime.io(), Direct(a.port()), "a");
  direct_a.Start();
  REQUIRE(Eventually([&] {
    auto role = Call(direct_a, {"ROLE"});
    return role.elements.size() == 5 && role.elements[0].str == "slave" && role.elements[3].str == "connected";
  }));
  REQUIRE(Eventually([&] { return Call(s1, {"SENTINEL", "CKQUORUM", "m"}).str.rfind("OK 3 usable", 0) == 0; }));
  REQUIRE(Replicated());
  b.Kill();
  REQUIRE(Eventually([&] { return Call(client, {"SET", "k2", "after-2"}).str == "OK"; }));
  CHECK(client.server() == Endpoint{"127.0.0.1", a.port()});
  CHECK(Call(client, {"GET", "k"}).str == "after-1");
  CHECK(Run() == "x" + tag);
  CHECK(client.primary_switches() == 2);
  client.Stop();
}

namespace {
// A CA, a server certificate for the name localhost only, a client certificate, and another CA,
// made by the openssl command in `dir`.
void MakeCertificates(const std::filesystem::path& dir) {
  const std::string d = dir.string();
  const std::string key = "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
  const std::string ca = "-days 1 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign";
  const std::string script =
      "cd " + d + " && " + key + "-x509 -keyout ca.key -out ca.crt -subj /CN=test-ca " + ca + " && " +
      key + "-x509 -keyout other.key -out other.crt -subj /CN=other-ca " + ca + " && " +
      key + "-keyout server.key -out server.csr -subj /CN=localhost && " +
      "printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext && " +
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile server.ext && " +
      key + "-keyout client.key -out client.csr -subj /CN=suite && " +
      "printf 'extendedKeyUsage=clientAuth\\n' > client.ext && " +
      "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 1 -extfile client.ext";
  REQUIRE(std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0);
}
}  // namespace

TEST_CASE("TLS (rediss://): the server's certificate and name are checked, a client certificate is shown when asked") {
  if (!suite::testing::ServerUrl("REDIS_URL")) return;
  suite::testing::TempDir dir;
  MakeCertificates(dir.path);
  const std::string d = dir.path.string() + "/";
  RedisProcess server(dir.path, ServerConfig() + "tls-cert-file " + d + "server.crt\ntls-key-file " + d +
                      "server.key\ntls-ca-cert-file " + d + "ca.crt\ntls-auth-clients yes\n", RedisProcess::kTls);
  const std::string port = std::to_string(server.port());
  auto Tls = [&](const std::string& host, const std::string& ca, bool client_certificate) {
    auto o = *ParseUrl("rediss://suite:s3cret@" + host + ":" + port);
    o.tls_ca_file = d + ca;
    if (client_certificate) {
      o.tls_cert_file = d + "client.crt";
      o.tls_key_file = d + "client.key";
    }
    return o;
  };
  Loop loop;
  Client good(loop.runtime.io(), Tls("localhost", "ca.crt", true), "tls");
  Client other_ca(loop.runtime.io(), Tls("localhost", "other.crt", true), "other-ca");
  Client wrong_name(loop.runtime.io(), Tls("127.0.0.1", "ca.crt", true), "wrong-name");  // the certificate names localhost only
  Client anonymous(loop.runtime.io(), Tls("localhost", "ca.crt", false), "anonymous");
  auto plain = Direct(server.port());  // TCP without TLS, to the TLS port
  Client cleartext(loop.runtime.io(), plain, "cleartext");
  for (auto* c : {&good, &other_ca, &wrong_name, &anonymous, &cleartext}) c->Start();
  REQUIRE(WaitConnected(good));
  CHECK(Call(good, {"ACL", "WHOAMI"}).str == "suite");
  CHECK(Call(good, {"SET", "k", std::string(100000, 'x')}).str == "OK");  // many TLS records each way
  CHECK(Call(good, {"GET", "k"}).str == std::string(100000, 'x'));
  std::atomic<int> done{0};
  std::promise<void> all;
  for (int i = 0; i < 200; ++i)
    good.Command({"INCR", "n"}, [&](Reply r) {
      if (r.type == Reply::Type::kInteger && ++done == 200) all.set_value();
    });
  REQUIRE(all.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(Call(good, {"GET", "n"}).str == "200");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK_FALSE(other_ca.connected());
  CHECK_FALSE(wrong_name.connected());
  CHECK_FALSE(anonymous.connected());
  CHECK_FALSE(cleartext.connected());
  CHECK(Call(anonymous, {"PING"}).str == "redis not connected");
  CHECK(good.connected());
}

namespace {
// A sentinel of the test's own: it names whatever primary the test says, and sends its
// subscribers what the test publishes. One thread per connection, blocking sockets.
class FakeSentinel {
 public:
  FakeSentinel() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    accepting_ = std::thread([this] { Accept(); });
  }
  ~FakeSentinel() {
    stopping_ = true;
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket wake(io_);
    wake.connect(acceptor_.local_endpoint(), ec);  // ends the blocking accept
    accepting_.join();
    {
      std::lock_guard lock(mu_);
      for (auto& s : connections_) s->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
    for (auto& t : serving_) t.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void Name(const std::string& host, std::uint16_t port) {
    std::lock_guard lock(mu_);
    primary_ = host + ":" + std::to_string(port);
  }
  void Publish(const std::string& channel, const std::string& payload) {
    std::lock_guard lock(mu_);
    for (auto& s : subscribers_) Write(*s, "*3\r\n$7\r\nmessage\r\n" + Bulk(channel) + Bulk(payload));
  }
  int asked() const { return asked_; }

 private:
  static std::string Bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }
  static void Write(boost::asio::ip::tcp::socket& s, const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(s, boost::asio::buffer(bytes), ec);
  }
  // One command (an array of bulk strings) off the front of `buf`, when it is all there.
  static std::optional<std::vector<std::string>> Parse(std::string& buf) {
    std::size_t at = 0;
    auto line = [&]() -> std::optional<std::string> {
      const auto end = buf.find("\r\n", at);
      if (end == std::string::npos) return std::nullopt;
      std::string l = buf.substr(at, end - at);
      at = end + 2;
      return l;
    };
    auto head = line();
    if (!head || head->empty() || (*head)[0] != '*') return std::nullopt;
    std::vector<std::string> args;
    for (int i = 0, n = std::stoi(head->substr(1)); i < n; ++i) {
      auto len = line();
      if (!len) return std::nullopt;
      const auto size = static_cast<std::size_t>(std::stoul(len->substr(1)));
      if (buf.size() < at + size + 2) return std::nullopt;
      args.push_back(buf.substr(at, size));
      at += size + 2;
    }
    buf.erase(0, at);
    return args;
  }
  void Accept() {
    while (!stopping_) {
      auto s = std::make_shared<boost::asio::ip::tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*s, ec);
      if (ec || stopping_) return;
      std::lock_guard lock(mu_);
      connections_.push_back(s);
      serving_.emplace_back([this, s] { Serve(s); });
    }
  }
  void Serve(const std::shared_ptr<boost::asio::ip::tcp::socket>& s) {
    std::string buf;
    char chunk[4096];
    for (;;) {
      boost::system::error_code ec;
      const auto n = s->read_some(boost::asio::buffer(chunk), ec);
      if (ec) return;
      buf.append(chunk, n);
      while (auto cmd = Parse(buf)) {
        std::lock_guard lock(mu_);
        std::string verb = (*cmd)[0];
        for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (verb == "AUTH") {
          Write(*s, "+OK\r\n");
        } else if (verb == "SENTINEL" && cmd->size() == 3) {
          ++asked_;
          const auto colon = primary_.rfind(':');
          Write(*s, primary_.empty() ? "*-1\r\n" : "*2\r\n" + Bulk(primary_.substr(0, colon)) + Bulk(primary_.substr(colon + 1)));
        } else if (verb == "SUBSCRIBE") {
          for (std::size_t i = 1; i < cmd->size(); ++i) {
            Write(*s, "*3\r\n$9\r\nsubscribe\r\n" + Bulk((*cmd)[i]) + ":" + std::to_string(i) + "\r\n");
            if ((*cmd)[i] == "+switch-master") subscribers_.push_back(s);
          }
        } else {
          Write(*s, "-ERR unknown command\r\n");
        }
      }
    }
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> asked_{0};
  std::mutex mu_;
  std::string primary_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> connections_, subscribers_;
  std::thread accepting_;
  std::vector<std::thread> serving_;
};
}  // namespace

TEST_CASE("sentinel mode: a dead sentinel is passed over, another primary's switch ignored, a READONLY answer sends the client back to the sentinels") {
  if (!suite::testing::ServerUrl("REDIS_URL")) return;
  suite::testing::TempDir dir;
  RedisProcess p(dir.path, ServerConfig()), q(dir.path, ServerConfig());
  FakeSentinel sentinel;
  sentinel.Name("127.0.0.1", p.port());
  const auto dead = suite::testing::FreePort();  // nothing listens there
  auto options = *ParseUrl("redis+sentinel://suite:s3cret@127.0.0.1:" + std::to_string(dead) + ",127.0.0.1:" +
                           std::to_string(sentinel.port()) + "/m");
  options.max_backoff = std::chrono::milliseconds(200);
  Loop loop;
  Client client(loop.runtime.io(), options, "fake-sentinel");
  client.Start();
  REQUIRE(Eventually([&] { return client.connected(); }, std::chrono::seconds(10)));
  CHECK(client.server() == Endpoint{"127.0.0.1", p.port()});
  CHECK(Call(client, {"SET", "k", "p"}).str == "OK");

  // Another primary's failover is not ours.
  sentinel.Publish("+switch-master", "other 127.0.0.1 " + std::to_string(p.port()) + " 127.0.0.1 " + std::to_string(q.port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(client.server() == Endpoint{"127.0.0.1", p.port()});

  // P is demoted behind the client's back (no sentinel told it): the next write is refused
  // READONLY, and the client asks the sentinels again, who name Q now.
  Client direct_p(loop.runtime.io(), Direct(p.port()), "p");
  direct_p.Start();
  REQUIRE(WaitConnected(direct_p));
  sentinel.Name("127.0.0.1", q.port());
  REQUIRE(Call(direct_p, {"REPLICAOF", "127.0.0.1", std::to_string(q.port())}).str == "OK");
  const auto refused = Call(client, {"SET", "k", "after"});
  CHECK(refused.str.rfind("READONLY", 0) == 0);
  REQUIRE(Eventually([&] { return client.connected() && client.server() == Endpoint{"127.0.0.1", q.port()}; }));
  CHECK(Call(client, {"SET", "k", "q"}).str == "OK");

  // A switch the sentinels announce while the client is idle moves it at once.
  REQUIRE(Call(direct_p, {"REPLICAOF", "NO", "ONE"}).str == "OK");
  sentinel.Name("127.0.0.1", p.port());
  sentinel.Publish("+switch-master", "m 127.0.0.1 " + std::to_string(q.port()) + " 127.0.0.1 " + std::to_string(p.port()));
  REQUIRE(Eventually([&] { return client.connected() && client.server() == Endpoint{"127.0.0.1", p.port()}; }));
  CHECK(Call(client, {"GET", "k"}).str == "q");  // P took Q's data while it was its replica
  CHECK(client.primary_switches() == 2);  // P to Q, Q to P
  client.Stop();
  direct_p.Stop();
}
