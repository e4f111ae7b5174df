#pragma once
/// Reads sent to a streaming replica (DATABASE_READ_URL) while it keeps up, else to the primary.
///
/// The replica's lag is sampled at most once a second, on one of its own connections: the age
/// of the last transaction it replayed (0 when its WAL receiver is streaming and all it received
/// is replayed, which only roles that may read pg_stat_wal_receiver's status can tell: others
/// count the replica of an idle primary as behind, and reads then go to that idle primary). A
/// replica farther behind than `max_lag` (one cut off from its primary, too), no longer in
/// recovery (promoted, or a primary named by mistake) or unreachable gets no reads until a
/// later sample says otherwise. A read the replica cannot serve (its pool unavailable,
/// a query cancelled by a recovery conflict) runs on the primary at once.
#include <pqxx/pqxx>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "suite/core/error.hpp"
#include "suite/db/pool.hpp"

namespace suite::obs {
class Metrics;
}

namespace suite::db {

enum class ReadFrom { kPrimary, kReplica };
const char* ToString(ReadFrom from);

class ReadRouter {
 public:
  using Clock = std::chrono::steady_clock;
  /// `replica` may be null (no DATABASE_READ_URL): every read goes to the primary.
  ReadRouter(Pool& primary, Pool* replica, std::chrono::milliseconds max_lag,
             std::chrono::milliseconds sample_every = std::chrono::seconds(1));

  /// Runs `fn(pool)` on the replica's pool or the primary's, and says which in `from`. `fn`
  /// reads only: it may run on the primary after it failed on the replica.
  template <class F>
  auto Read(F&& fn, ReadFrom& from) {
    if (UseReplica()) {
      try {
        from = ReadFrom::kReplica;
        Count(from);
        return fn(*replica_);
      } catch (const core::ApiError& e) {
        if (e.code() != core::ErrorCode::kServiceUnavailable) throw;
        ReplicaFailed();
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() != "40001") throw;  // cancelled: a conflict with the replica's recovery
        ReplicaFailed();
      }
    }
    from = ReadFrom::kPrimary;
    Count(from);
    return fn(primary_);
  }

  /// The lag last sampled; nullopt without a replica or when it could not be measured.
  std::optional<std::chrono::milliseconds> lag() const;
  /// db_read_replica_lag_seconds (-1: unknown), db_read_replica_usable, db_reads_total{target} (sent there: one the replica failed counts on both).
  void ExportMetrics(obs::Metrics& metrics);

 private:
  bool UseReplica();
  void ReplicaFailed();
  void Count(ReadFrom from);

  Pool& primary_;
  Pool* replica_;
  std::chrono::milliseconds max_lag_, sample_every_;
  mutable std::mutex mu_;
  std::optional<Clock::time_point> sampled_at_;  ///< guarded by mu_, as all below
  bool sampling_ = false, usable_ = false;
  std::optional<std::chrono::milliseconds> lag_;
  double to_replica_ = 0, to_primary_ = 0;
};

}  // namespace suite::db
