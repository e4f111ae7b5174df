#include "consumer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <thread>

#include "suite/http/resume.hpp"
#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"

namespace audit {

int LaneOf(std::string_view name) {
  const auto dash = name.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == name.size() || name.size() - dash > 10) return 0;
  int n = 0;
  for (char c : name.substr(dash + 1)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n % 1024;
}

namespace net = boost::asio;
using suite::http::Task;
namespace obs = suite::obs;
using suite::redis::Reply;
constexpr const char* kGroup = "audit-writers";
constexpr const char* kBatch = "1000";

Consumer::Consumer(suite::redis::Client& redis, suite::db::Pool& pool, suite::service::WorkerPool& workers,
                   ConsumerOptions options)
    : redis_(redis),
      pool_(pool),
      workers_(workers),
      options_(std::move(options)),
      ndjson_(pool_, options_.ndjson_path, options_.name, options_.ndjson_rotation) {}

void Consumer::ExportMetrics(suite::obs::Metrics& metrics) {
  using Kind = suite::obs::Metrics::Kind;
  metrics.Expose("audit_events_written_total", "Audit process records stored in PostgreSQL", Kind::kCounter, {},
                 [this] { return static_cast<double>(written_.load()); });
  metrics.Expose("audit_events_consumed_total",
                 "Audit events of every kind taken from the stream and stored (a replay dropped counts too)",
                 Kind::kCounter, {}, [this] { return static_cast<double>(consumed_.load()); });
  metrics.Expose("audit_ndjson_lines_written_total", "Lines appended to the NDJSON request log", Kind::kCounter, {},
                 [this] { return static_cast<double>(ndjson_lines_.load()); });
  metrics.Expose("audit_ndjson_write_failures_total", "NDJSON appends that failed (retried until they succeed)",
                 Kind::kCounter, {}, [this] { return static_cast<double>(ndjson_failed_.load()); });
  metrics.Expose("audit_retention_deleted_total", "Records deleted by retention (each run leaves a checkpoint)",
                 Kind::kCounter, {}, [this] { return static_cast<double>(retention_deleted_.load()); });
  metrics.Expose("audit_ndjson_rotations_total", "NDJSON files rotated (by size or day)", Kind::kCounter, {},
                 [this] { return static_cast<double>(ndjson_.rotations()); });
  metrics.Expose("audit_ndjson_behind", "1 while the NDJSON file lacks records PostgreSQL has", Kind::kGauge, {},
                 [this] { return ndjson_.behind() > 0 ? 1.0 : 0.0; });
  metrics.Expose("audit_stream_lag", "Entries of the audit stream the consumer group has not read yet", Kind::kGauge, {},
                 [this] { return static_cast<double>(lag_.load()); });
  metrics.Expose("audit_stream_pending", "Entries the consumer group read and has not acknowledged yet", Kind::kGauge,
                 {}, [this] { return static_cast<double>(pending_.load()); });
  metrics.Expose("audit_stream_length", "Entries in the audit stream (unread, pending, and not yet trimmed)",
                 Kind::kGauge, {}, [this] { return static_cast<double>(length_.load()); });
}

namespace {

// The entries of an XREADGROUP answer (one stream), or none.
const std::vector<Reply>* ReadEntries(const Reply& r) {
  if (r.type != Reply::Type::kArray || r.elements.empty() || r.elements[0].elements.size() < 2) return nullptr;
  return &r.elements[0].elements[1].elements;
}

// The events of the entries, and every entry's id (deleted entries, with nil fields, are
// acknowledged too). "event": one event's line; "events": a producer loop's batch, lines joined by
// newlines. A line that is no event is logged and skipped.
void Parse(const std::vector<Reply>& entries, std::vector<StreamEvent>& events, std::vector<std::string>& ids) {
  for (const auto& entry : entries) {
    if (entry.elements.empty()) continue;
    const std::string& id = entry.elements[0].str;
    ids.push_back(id);
    if (entry.elements.size() < 2 || entry.elements[1].type != Reply::Type::kArray) continue;
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const bool batch = fields[i].str == "events";
      if (!batch && fields[i].str != "event") continue;
      std::string_view lines = fields[i + 1].str;
      while (!lines.empty()) {
        const auto end = batch ? lines.find('\n') : std::string_view::npos;
        const auto line = lines.substr(0, end);
        lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 1);
        std::string why;
        if (auto event = suite::audit::Event::Parse(line, why))
          events.push_back({id, std::move(*event)});
        else
          obs::Error("malformed audit event skipped", {{"stream_id", id}, {"reason", why}});
      }
    }
  }
}

}  // namespace

void Consumer::Start(net::io_context& io) {
  io_ = &io;
  net::co_spawn(io, Run(), [this](std::exception_ptr e) {
    ended_ = true;
    suite::http::LogException{"audit consumer"}(e);  // nothing in the loop throws; if it did, said loudly
  });
}

Consumer::~Consumer() {
  Drain();
  // The loop ends at its next step (a blocked read returns within a second, or fails when its
  // client stops); once `io` has stopped it never runs again, and its frame goes with `io`.
  while (io_ != nullptr && !ended_ && !io_->stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

Task<void> Consumer::Run() {
  co_await suite::http::RunOn(workers_, [this] { FlushNdjson(); });  // what an earlier run stored but did not append
  bool group = false;
  std::string from = "0";  // own pending entries first, then new ones (">")
  while (!stopping_) {
    if (!group) {
      group = co_await EnsureGroup();
      if (!group) {
        co_await Backoff();
        continue;
      }
      from = "0";
    }
    if (from == ">" && std::chrono::steady_clock::now() - last_claim_ >= options_.claim_every) {
      if (!co_await ClaimAbandoned()) {
        co_await Backoff();
        group = false;
      }
      continue;
    }
    MaybeApplyRetention();
    if (options_.trim && std::chrono::steady_clock::now() - last_trim_ >= options_.trim_every) co_await Trim();
    std::vector<std::string> read = {"XREADGROUP", "GROUP", kGroup, options_.name, "COUNT", kBatch};
    if (from == ">") read.insert(read.end(), {"BLOCK", "1000"});
    read.insert(read.end(), {"STREAMS", options_.stream, from});
    const Reply r = co_await redis_.Call(std::move(read), std::chrono::milliseconds(3000));
    if (stopping_) break;
    if (!r.ok()) {
      obs::Warn("audit stream read failed", {{"error", r.str}});
      co_await Backoff();
      group = false;  // a Redis that restarted empty has lost the group; what is unacknowledged is read again
      continue;
    }
    const auto* entries = ReadEntries(r);
    if (entries == nullptr || entries->empty()) {
      if (from == "0") from = ">";
      // A quiet second: the moment to complete the NDJSON file if it is behind.
      else if (ndjson_.behind() > 0) co_await suite::http::RunOn(workers_, [this] { FlushNdjson(); });
      continue;
    }
    if (!co_await Store(*entries)) {
      co_await Backoff();
      group = false;
      continue;
    }
    // What was just stored leaves the stream at once: publishers waiting at its cap go on.
    if (options_.trim) co_await Trim();
  }
}

Task<bool> Consumer::EnsureGroup() {
  // Commands are built before they are awaited: GCC 12 miscompiles braced lists in a co_await.
  std::vector<std::string> create = {"XGROUP", "CREATE", options_.stream, kGroup, "0", "MKSTREAM"};
  const Reply r = co_await redis_.Call(std::move(create));
  co_return r.ok() || r.str.rfind("BUSYGROUP", 0) == 0;
}

Task<bool> Consumer::ClaimAbandoned() {
  std::string cursor = "0-0";
  do {
    std::vector<std::string> claim = {"XAUTOCLAIM", options_.stream, kGroup, options_.name,
                                      std::to_string(options_.claim_idle.count()), cursor, "COUNT", kBatch};
    const Reply r = co_await redis_.Call(std::move(claim));
    if (!r.ok()) {
      obs::Warn("audit stream claim failed", {{"error", r.str}});
      co_return false;
    }
    if (r.type != Reply::Type::kArray || r.elements.size() < 2) break;
    cursor = r.elements[0].str;
    const auto& claimed = r.elements[1].elements;
    if (!claimed.empty()) {
      obs::Info("claimed entries of a stopped consumer", {{"count", claimed.size()}});
      if (!co_await Store(claimed)) co_return false;
    }
  } while (cursor != "0-0" && !stopping_);
  last_claim_ = std::chrono::steady_clock::now();
  co_return true;
}

Task<bool> Consumer::Store(const std::vector<Reply>& entries) {
  std::vector<StreamEvent> events;
  std::vector<std::string> ack = {"XACK", options_.stream, kGroup};
  Parse(entries, events, ack);
  if (ack.size() == 3) co_return true;
  busy_ = true;
  bool stored = false;
  const bool ran = co_await suite::http::RunOn(workers_, [&] {
    try {
      written_ += WriteEvents(pool_, events, options_.name, options_.lane);
      consumed_ += events.size();  // every kind, replays included: what publishers count
      stored = true;
    } catch (const std::exception& e) {
      obs::Error("audit write failed; will retry", {{"error", e.what()}, {"count", events.size()}});
      return;
    }
    // Committed: the records (and their NDJSON outbox rows) are durable, so the entries are
    // acknowledged whatever the file does next.
    FlushNdjson();
  });
  if (!ran || !stored) {
    busy_ = false;
    co_return false;
  }
  const Reply r = co_await redis_.Call(std::move(ack));
  busy_ = false;
  if (!r.ok()) obs::Warn("XACK failed; entries will be re-read", {{"error", r.str}});
  co_return r.ok();
}

namespace {
// A stream entry id, "<ms>-<seq>", ordered as Redis orders them.
std::optional<std::pair<unsigned long long, unsigned long long>> EntryId(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  unsigned long long ms = 0, seq = 0;
  const auto a = std::from_chars(text.data(), text.data() + dash, ms);
  const auto b = std::from_chars(text.data() + dash + 1, text.data() + text.size(), seq);
  if (a.ec != std::errc() || a.ptr != text.data() + dash || b.ec != std::errc() || b.ptr != text.data() + text.size())
    return std::nullopt;
  return std::make_pair(ms, seq);
}
}  // namespace

Task<void> Consumer::Trim() {
  last_trim_ = std::chrono::steady_clock::now();
  std::vector<std::string> info = {"XINFO", "GROUPS", options_.stream};
  const Reply groups = co_await redis_.Call(std::move(info));
  if (!groups.ok() || groups.type != Reply::Type::kArray) co_return;
  // The oldest entry some group still needs: its oldest pending one (read, not acknowledged),
  // else the one after its last delivered (everything after is unread).
  std::optional<std::pair<unsigned long long, unsigned long long>> keep;
  std::string keep_text;
  std::optional<long long> lag;
  for (const auto& g : groups.elements) {
    std::string name, last;
    long long pending = -1;
    for (std::size_t i = 0; i + 1 < g.elements.size(); i += 2) {
      const auto& key = g.elements[i].str;
      const auto& value = g.elements[i + 1];
      if (key == "name") name = value.str;
      else if (key == "pending") pending = value.integer;
      else if (key == "last-delivered-id") last = value.str;
      else if (key == "lag" && name == kGroup && value.type == Reply::Type::kInteger) lag = value.integer;
    }
    std::string need = last;
    if (pending > 0) {
      std::vector<std::string> summary = {"XPENDING", options_.stream, name};
      const Reply p = co_await redis_.Call(std::move(summary));
      if (!p.ok() || p.elements.size() < 2 || p.elements[1].type != Reply::Type::kString) co_return;
      need = p.elements[1].str;
    }
    const auto id = EntryId(need);
    if (name.empty() || pending < 0 || !id) co_return;  // unsure what this group needs: trim nothing
    if (!keep || *id < *keep) {
      keep = id;
      keep_text = need;
    }
    if (name == kGroup) pending_ = pending;
  }
  // Entries older than `keep` were read and acknowledged by every group.
  if (keep && *keep != std::make_pair(0ull, 0ull)) {
    std::vector<std::string> trim = {"XTRIM", options_.stream, "MINID", keep_text};
    const Reply t = co_await redis_.Call(std::move(trim));
    if (!t.ok()) obs::Warn("audit stream trim failed", {{"error", t.str}});
  }
  std::vector<std::string> xlen = {"XLEN", options_.stream};
  const Reply n = co_await redis_.Call(std::move(xlen));
  if (n.ok()) length_ = n.integer;
  // Redis gives no lag once it cannot tell (entries deleted midway): what is held but not pending.
  lag_ = lag ? *lag : std::max(0LL, length_.load() - pending_.load());
}

Task<void> Consumer::Backoff() {
  net::steady_timer timer(co_await net::this_coro::executor, std::chrono::milliseconds(500));
  co_await timer.async_wait(net::use_awaitable);
}

void Consumer::MaybeApplyRetention() {
  if (options_.retention_days <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (last_retention_ != std::chrono::steady_clock::time_point{} && now - last_retention_ < options_.retention_every)
    return;
  if (retention_running_.exchange(true)) return;
  last_retention_ = now;
  workers_.Submit(
      [this] {
        try {
          // Replicas may run it together: the function locks each chain, the later run finds
          // nothing left to delete.
          for (const auto& r : ApplyRetention(pool_, options_.retention_days)) {
            retention_deleted_ += r["deleted"].get<std::size_t>();
            obs::Info("retention applied", {{"chain", r["chain"]}, {"deleted", r["deleted"]},
                                            {"through_seq", r["through_seq"]}, {"days", options_.retention_days}});
          }
        } catch (const std::exception& e) {
          obs::Warn("retention failed; retried at the next run", {{"error", e.what()}});
        }
        retention_running_ = false;
      },
      [this] { retention_running_ = false; });
}

void Consumer::FlushNdjson() {
  try {
    ndjson_lines_ += ndjson_.Flush();
    if (ndjson_failures_ > 0) {
      suite::obs::Info("NDJSON file caught up", {{"path", options_.ndjson_path}, {"failed_attempts", ndjson_failures_}});
      ndjson_failures_ = 0;
    }
  } catch (const std::exception& e) {
    ++ndjson_failed_;
    // The first failure, then one line a minute or so (an attempt a second).
    if (ndjson_failures_++ % 60 == 0)
      obs::Error("NDJSON append failed; PostgreSQL holds the records, the file will be completed",
                 {{"error", e.what()}, {"failed_attempts", ndjson_failures_}});
  }
}

}  // namespace audit
