#include "suite/audit/publisher.hpp"

#include <algorithm>
#include <future>

#include "suite/core/config.hpp"
#include "suite/core/ids.hpp"
#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"

namespace suite::audit {

PublisherOptions PublisherOptionsFromEnv(core::Env& env, const std::string& service) {
  PublisherOptions o;
  o.spool_dir = env.Str("AUDIT_SPOOL_DIR", std::string("spool"));
  o.spool_name = service;
  o.spool_bytes = static_cast<std::uint64_t>(env.Int("AUDIT_SPOOL_BYTES", 64ll << 20, 1ll << 16, 64ll << 30));
  o.sync_interval = env.Millis("AUDIT_SPOOL_SYNC_MS", 100, 1, 60'000);
  return o;
}

Publisher::Publisher(redis::Client& client, PublisherOptions options)
    : client_(client),
      options_(std::move(options)),
      spool_(options_.spool_dir.empty() ? Spool::InMemory(options_.spool_bytes)
                                        : Spool::Open(options_.spool_dir, options_.spool_name, options_.spool_bytes)),
      batches_(std::max<std::size_t>(1, options_.loops)) {
  if (spool_->recovered() > 0)
    obs::Info("audit spool: events of an earlier run to send", {{"count", spool_->recovered()}, {"spool", spool_->path()}});
  thread_ = std::thread([this] { Loop(); });
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
}

void Publisher::Stop() {
  // The loops have stopped: what their last turns gathered goes to the spool.
  for (std::size_t i = 0; i < batches_.size(); ++i) FlushBatch(i);
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
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
  // Only an idle sender is woken (a busy or lingering one takes this event with its batch): no
  // futex call per event. The lock, taken and released, keeps the sender from missing this event
  // between its check and its wait; the exchange pairs with the sender's (acquire/release), so
  // an event appended before the sender went idle is seen by its check.
  if (!idle_.exchange(false)) return;
  { std::lock_guard lock(mu_); }
  cv_.notify_one();
}

bool Publisher::Drained() const {
  return spool_->pending() == 0 || (spool_->durable() && !client_.connected());
}

void Publisher::Loop() {
  auto backoff = std::chrono::milliseconds(50);
  auto next_sync = std::chrono::steady_clock::now() + options_.sync_interval;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      idle_.exchange(true);
      cv_.wait_until(lock, next_sync, [&] { return stopping_ || spool_->pending() > 0; });
      idle_.store(false);
      // Stopping: a durable spool keeps what is left for the next start; a memory one tries
      // while Redis answers.
      if (stopping_ && (spool_->durable() || spool_->pending() == 0 || !client_.connected())) return;
    }
    // Events are in the spool already (durable as the process goes): letting a few more
    // arrive costs them a millisecond and saves a round of hand-offs per event.
    if (options_.linger.count() > 0 && spool_->pending() < options_.batch) std::this_thread::sleep_for(options_.linger);
    if (std::chrono::steady_clock::now() >= next_sync) {
      if (dirty_.exchange(false)) spool_->Sync();
      next_sync = std::chrono::steady_clock::now() + options_.sync_interval;
    }
    const auto batch = spool_->Peek(options_.batch);
    if (batch.empty()) continue;
    // Pipelined: all XADDs go out back to back; the last answer wakes this thread, once per
    // batch (a future per command cost a futex wake and wait per event).
    struct Answers {
      std::vector<char> ok;
      std::atomic<std::size_t> left;
      std::promise<void> done;
    };
    auto answers = std::make_shared<Answers>();
    answers->ok.assign(batch.size(), 0);
    answers->left = batch.size();
    auto all = answers->done.get_future();
    const auto maxlen = std::to_string(options_.stream_maxlen);
    std::vector<std::size_t> events(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      // A loop's batch (lines joined by newlines: an event's line has none) is one entry.
      events[i] = EventsIn(batch[i]);
      client_.Command({"XADD", options_.stream, "MAXLEN", "~", maxlen, "*", events[i] > 1 ? "events" : "event", batch[i]},
                      [answers, i](redis::Reply r) {
                        answers->ok[i] = r.ok() ? 1 : 0;
                        if (answers->left.fetch_sub(1) == 1) answers->done.set_value();
                      });
    }
    // Bounded wait: once the I/O loop has stopped, replies never come. Then nothing counts as
    // sent (all is sent again; the consumer deduplicates by event_id).
    std::size_t ok = 0;
    if (all.wait_for(std::chrono::seconds(5)) == std::future_status::ready)
      while (ok < batch.size() && answers->ok[ok] != 0) ++ok;
    // Only the leading run of successes leaves the spool: order is kept, failures are retried.
    // (A success after a failure may be sent twice; the consumer deduplicates by event_id.)
    spool_->Ack(ok);
    for (std::size_t i = 0; i < ok; ++i) published_ += events[i];
    if (ok < batch.size()) {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      cv_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    } else {
      backoff = std::chrono::milliseconds(50);
    }
  }
}

}  // namespace suite::audit
