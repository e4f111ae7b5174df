#include "suite/audit/publisher.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <thread>

#include "suite/core/config.hpp"
#include "suite/core/ids.hpp"
#include "suite/http/resume.hpp"
#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"

namespace suite::audit {

namespace net = boost::asio;
using http::Task;

struct Publisher::Waker {
  explicit Waker(net::io_context& io) : timer(io) {}
  net::steady_timer timer;
};

PublisherOptions PublisherOptionsFromEnv(core::Env& env, const std::string& service) {
  PublisherOptions o;
  o.spool_dir = env.Str("AUDIT_SPOOL_DIR", std::string("spool"));
  o.spool_name = service;
  o.spool_bytes = static_cast<std::uint64_t>(env.Int("AUDIT_SPOOL_BYTES", 64ll << 20, 1ll << 16, 64ll << 30));
  o.sync_interval = env.Millis("AUDIT_SPOOL_SYNC_MS", 100, 1, 60'000);
  o.stream_max = env.Int("AUDIT_STREAM_MAX", 1'000'000, 1, 1'000'000'000);
  return o;
}

Publisher::Publisher(redis::Client& client, PublisherOptions options)
    : client_(client),
      options_(std::move(options)),
      spool_(options_.spool_dir.empty() ? Spool::InMemory(options_.spool_bytes)
                                        : Spool::Open(options_.spool_dir, options_.spool_name, options_.spool_bytes)),
      waker_(std::make_shared<Waker>(client_.io())),
      batches_(std::max<std::size_t>(1, options_.loops)) {
  if (spool_->recovered() > 0)
    obs::Info("audit spool: events of an earlier run to send", {{"count", spool_->recovered()}, {"spool", spool_->path()}});
  net::co_spawn(client_.io(), Send(), [this](std::exception_ptr e) {
    ended_ = true;
    http::LogException{"audit sender"}(e);  // nothing in it throws; if it did, said loudly
  });
}

Publisher::~Publisher() { Stop(); }

void Publisher::ExportMetrics(obs::Metrics& metrics) {
  using Kind = obs::Metrics::Kind;
  metrics.Expose("audit_events_published_total", "Audit events handed to the Redis stream", Kind::kCounter, {},
                 [this] { return static_cast<double>(published_.load()); });
  metrics.Expose("audit_events_dropped_total", "Audit events given up (the spool was full)", Kind::kCounter, {},
                 [this] { return static_cast<double>(dropped_.load()); });
  metrics.Expose("audit_events_queued", "Audit events in the spool, waiting for Redis", Kind::kGauge, {},
                 [this] { return static_cast<double>(spool_->pending()); });
  metrics.Expose("audit_spool_used_bytes", "Bytes of the spool holding unsent events", Kind::kGauge, {},
                 [this] { return static_cast<double>(spool_->used_bytes()); });
  metrics.Expose("audit_spool_capacity_bytes", "The spool's size (AUDIT_SPOOL_BYTES)", Kind::kGauge, {},
                 [this] { return static_cast<double>(spool_->capacity()); });
  metrics.Expose("audit_stream_full", "1 while the audit stream refuses entries at its cap (AUDIT_STREAM_MAX): the consumer is behind, events wait in the spool",
                 Kind::kGauge, {}, [this] { return full_.load() ? 1.0 : 0.0; });
}

void Publisher::Stop() {
  // The loops have stopped: what their last turns gathered goes to the spool.
  for (std::size_t i = 0; i < batches_.size(); ++i) FlushBatch(i);
  if (stopping_.exchange(true)) return;
  Wake();
  // While the loop runs, the sender ends at its next step (a batch in flight is answered or
  // times out with the client's command timeout). A stopped loop never runs it again: what is
  // unsent stays in the spool.
  while (!ended_ && !client_.io().stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  spool_->Sync();
  if (const auto left = spool_->pending(); left > 0) {
    if (spool_->durable())
      obs::Info("audit events kept in the spool for the next start", {{"count", left}, {"spool", spool_->path()}});
    else
      obs::Warn("audit events not published at stop", {{"count", left}});
  }
}

void Publisher::Publish(Event event) {
  if (event.event_id.empty()) event.event_id = core::NewUuid();
  if (event.timestamp.empty()) event.timestamp = core::NowIso();
  Append(event.ToLine());
}

namespace {
constexpr std::size_t kBatchBytes = 64 * 1024;  ///< a turn's batch past this goes at once (~200 events)

// XADD only below the cap. Entries leave the stream when every consumer group has acknowledged
// them (the audit consumer trims up to there), never by length, so a stream at its cap means the
// consumer is behind: the entry is refused and its events wait in the spool.
const redis::Script& AddBelowCap() {
  static const redis::Script script(R"(
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  return redis.error_reply('AUDITFULL the audit stream holds its cap of unacknowledged entries')
end
return redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[3]))");
  return script;
}

// How soon entries a full stream refused are offered again.
constexpr std::chrono::milliseconds kFullRetry{20};

// The events of a spool record: one line each.
std::size_t EventsIn(std::string_view record) {
  return 1 + static_cast<std::size_t>(std::count(record.begin(), record.end(), '\n'));
}
}  // namespace

void Publisher::PublishOnLoop(Event event, std::size_t loop) {
  if (event.event_id.empty()) event.event_id = core::NewUuid();
  if (event.timestamp.empty()) event.timestamp = core::NowIso();
  Batch& b = batches_[loop < batches_.size() ? loop : 0];
  if (!b.lines.empty()) b.lines += '\n';
  b.lines += event.ToLine();
  if (b.lines.size() >= kBatchBytes) return FlushBatch(loop);
  if (b.scheduled) return;
  b.scheduled = true;
  if (options_.at_turn_end) options_.at_turn_end([this, loop] { FlushBatch(loop); });
  else FlushBatch(loop);
}

void Publisher::FlushBatch(std::size_t loop) {
  Batch& b = batches_[loop < batches_.size() ? loop : 0];
  b.scheduled = false;
  if (b.lines.empty()) return;
  Append(b.lines);
  b.lines.clear();
  if (b.lines.capacity() > kBatchBytes) b.lines.shrink_to_fit();
}

void Publisher::Append(std::string_view line) {
  if (!spool_->Append(line)) {
    // Logged at the first drop and every 10,000th: a long Redis outage must not become a log flood.
    const auto n = EventsIn(line);
    const auto before = dropped_.fetch_add(n);
    if (before == 0 || before / 10'000 != (before + n) / 10'000)
      obs::Error("audit spool full: events dropped", {{"dropped", dropped_.load()}, {"capacity", spool_->capacity()}});
    return;
  }
  dirty_.store(true, std::memory_order_relaxed);
  // Only an idle sender is woken (a busy or lingering one takes this event with its batch): one
  // post per quiet spell, not per event. The exchange pairs with the sender's, which checks the
  // spool again after it has gone idle: an event appended before that is seen by the check, one
  // appended after it posts a wake-up, which runs after the sender has begun to wait.
  if (idle_.exchange(false)) Wake();
}

void Publisher::Wake() {
  net::post(client_.io(), [w = waker_] { w->timer.cancel(); });
}

bool Publisher::Drained() const {
  return spool_->pending() == 0 || (spool_->durable() && !client_.connected());
}

// On the waker's timer, so that Stop cuts a linger or a backoff short.
Task<void> Publisher::Sleep(std::chrono::steady_clock::duration d) {
  waker_->timer.expires_after(d);
  co_await waker_->timer.async_wait(net::as_tuple(net::use_awaitable));
}

Task<std::size_t> Publisher::SendBatch(std::vector<std::string>& records) {
  // Pipelined: every XADD goes out back to back; the last answer resumes the sender, once per
  // batch. Each answer comes within the client's command timeout (or at its stop).
  struct Answers {
    std::vector<std::size_t> events;  ///< per record: its events, 0 once Redis refused it
    std::size_t left = 0;             ///< touched on the client's strand only
  };
  auto answers = std::make_shared<Answers>();
  answers->events.resize(records.size());
  answers->left = records.size();
  const auto cap = std::to_string(options_.stream_max);
  co_await http::Resume<bool>([&](auto done) {
    for (std::size_t i = 0; i < records.size(); ++i) {
      // A loop's batch (lines joined by newlines: an event's line has none) is one entry.
      answers->events[i] = EventsIn(records[i]);
      const char* field = answers->events[i] > 1 ? "events" : "event";
      client_.Eval(AddBelowCap(), {options_.stream}, {cap, field, std::move(records[i])},
                   [this, answers, i, done](redis::Reply r) {
                     if (!r.ok()) {
                       answers->events[i] = 0;
                       if (r.str.rfind("AUDITFULL", 0) == 0 && !full_.exchange(true))
                         obs::Warn("audit stream at its cap: events wait in the spool until the consumer catches up",
                                   {{"stream", options_.stream}, {"cap", options_.stream_max}});
                     }
                     if (--answers->left == 0) done(true);
                   });
    }
  });
  // Only the leading run of successes leaves the spool: order is kept, failures are retried.
  // (A success after a failure may be sent twice; the consumer deduplicates by event_id.)
  std::size_t n = 0;
  for (; n < answers->events.size() && answers->events[n] != 0; ++n) published_ += answers->events[n];
  if (n == answers->events.size() && full_.exchange(false))
    obs::Info("audit stream below its cap again: the spool drains", {{"stream", options_.stream}});
  co_return n;
}

Task<void> Publisher::Send() {
  auto backoff = std::chrono::milliseconds(50);
  auto next_sync = std::chrono::steady_clock::now() + options_.sync_interval;
  for (;;) {
    if (spool_->pending() == 0 && !stopping_) {
      idle_.exchange(true);
      // Checked again once idle (see Append): an event appended before is seen here.
      if (spool_->pending() == 0 && !stopping_) {
        waker_->timer.expires_at(next_sync);
        co_await waker_->timer.async_wait(net::as_tuple(net::use_awaitable));
      }
      idle_.store(false);
    }
    // Stopping: a durable spool keeps what is left for the next start; a memory one sends
    // while Redis answers.
    if (stopping_ && (spool_->durable() || spool_->pending() == 0 || !client_.connected())) co_return;
    // Events are in the spool already (durable as the process goes): letting a few more
    // arrive costs them a millisecond and saves a round of XADDs.
    const auto pending = spool_->pending();
    if (options_.linger.count() > 0 && pending > 0 && pending < options_.batch && !stopping_) co_await Sleep(options_.linger);
    if (std::chrono::steady_clock::now() >= next_sync) {
      if (dirty_.exchange(false)) {
        if (options_.sync_on == nullptr || !co_await http::RunOn(*options_.sync_on, [this] { spool_->Sync(); }))
          spool_->Sync();
      }
      next_sync = std::chrono::steady_clock::now() + options_.sync_interval;
    }
    auto batch = spool_->Peek(options_.batch);
    if (batch.empty()) continue;
    const auto ok = co_await SendBatch(batch);  // sends (moves) the records, counts what Redis took
    spool_->Ack(ok);
    if (ok < batch.size()) {
      if (stopping_) co_return;
      // A stream at its cap is not a failure: room comes back as audit trims what it stored,
      // so the rest is offered again soon (a Redis that failed is given time).
      if (full_) {
        co_await Sleep(kFullRetry);
        continue;
      }
      co_await Sleep(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    } else {
      backoff = std::chrono::milliseconds(50);
    }
  }
}

}  // namespace suite::audit
