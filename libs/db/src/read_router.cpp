#include "suite/db/read_router.hpp"

#include <cmath>

#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"

namespace suite::db {

const char* ToString(ReadFrom from) { return from == ReadFrom::kReplica ? "replica" : "primary"; }

ReadRouter::ReadRouter(Pool& primary, Pool* replica, std::chrono::milliseconds max_lag,
                       std::chrono::milliseconds sample_every)
    : primary_(primary), replica_(replica), max_lag_(max_lag), sample_every_(sample_every) {}

namespace {
struct Sample {
  bool in_recovery = false;
  std::chrono::milliseconds lag{0};
};

// One round trip. The lag is 0 when the WAL receiver is streaming and all it received is
// replayed; else the age of the last transaction replayed. pg_stat_wal_receiver's status is
// visible to superusers and pg_read_all_stats only: for other roles the age is the lag, which
// counts the replica of an idle primary as behind (reads then go to the primary, idle too) and
// a replica cut off from its primary as behind too, as it is.
Sample Measure(pqxx::connection& c) {
  pqxx::read_transaction tx(c);
  const auto row = tx.exec1(
      "SELECT pg_is_in_recovery(), "
      "  CASE WHEN (SELECT status FROM pg_stat_wal_receiver) = 'streaming' "
      "            AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
      "       ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000, 1e12) END");
  Sample s;
  s.in_recovery = row[0].as<bool>();
  // Rounded up: a replica behind by a fraction of a millisecond is behind.
  s.lag = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(std::max(0.0, row[1].as<double>()))));
  return s;
}
}  // namespace

bool ReadRouter::UseReplica() {
  if (replica_ == nullptr) return false;
  const auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    // One caller samples; the others go by the last sample meanwhile.
    if (sampling_ || (sampled_at_ && now - *sampled_at_ < sample_every_)) return usable_;
    sampling_ = true;
  }
  std::optional<Sample> sample;
  try {
    sample = replica_->With(Measure);
  } catch (const std::exception& e) {
    obs::Warn("read replica unavailable; reading from the primary", {{"error", e.what()}});
  }
  const bool usable = sample && sample->in_recovery && sample->lag <= max_lag_;
  std::lock_guard lock(mu_);
  if (usable != usable_ && sample)
    obs::Info(usable ? "reading from the replica" : "replica behind or cut off; reading from the primary",
              {{"lag_ms", sample->lag.count()}, {"in_recovery", sample->in_recovery}});
  sampling_ = false;
  sampled_at_ = now;
  usable_ = usable;
  lag_ = sample ? std::optional(sample->lag) : std::nullopt;
  return usable_;
}

void ReadRouter::ReplicaFailed() {
  std::lock_guard lock(mu_);
  usable_ = false;
  sampled_at_ = Clock::now();  // not asked again before the next sample is due
}

void ReadRouter::Count(ReadFrom from) {
  std::lock_guard lock(mu_);
  ++(from == ReadFrom::kReplica ? to_replica_ : to_primary_);
}

std::optional<std::chrono::milliseconds> ReadRouter::lag() const {
  std::lock_guard lock(mu_);
  return lag_;
}

void ReadRouter::ExportMetrics(obs::Metrics& metrics) {
  using Kind = obs::Metrics::Kind;
  auto read = [this](auto field) {
    return [this, field] {
      std::lock_guard lock(mu_);
      return field(*this);
    };
  };
  metrics.Expose("db_read_replica_lag_seconds", "The read replica's lag when last sampled (-1: unknown or none)",
                 Kind::kGauge, {}, read([](const ReadRouter& r) { return r.lag_ ? r.lag_->count() / 1000.0 : -1.0; }));
  metrics.Expose("db_read_replica_usable", "1 while reads go to the replica", Kind::kGauge, {},
                 read([](const ReadRouter& r) { return r.usable_ ? 1.0 : 0.0; }));
  const std::string reads = "Read queries by where they ran (primary, replica)";
  metrics.Expose("db_reads_total", reads, Kind::kCounter, {{"target", "replica"}},
                 read([](const ReadRouter& r) { return r.to_replica_; }));
  metrics.Expose("db_reads_total", reads, Kind::kCounter, {{"target", "primary"}},
                 read([](const ReadRouter& r) { return r.to_primary_; }));
}

}  // namespace suite::db
