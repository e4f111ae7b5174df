#pragma once
/// A bounded pool of libpqxx connections for worker threads. A caller that cannot get a
/// connection within `acquire_timeout` gets ApiError(kServiceUnavailable); a connection that
/// broke is dropped and replaced on next use.
#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace suite::obs {
class Metrics;
}

namespace suite::db {

class Pool {
 public:
  Pool(std::string dsn, std::size_t max_size, std::chrono::milliseconds acquire_timeout);

  template <class F>
  auto With(F&& fn) {
    Lease lease(*this);
    try {
      return fn(*lease.conn);
    } catch (const pqxx::broken_connection&) {
      lease.broken = true;
      throw;
    }
  }
  /// SELECT 1 with a fresh lease; false when the database does not answer.
  bool Ping();
  const std::string& dsn() const { return dsn_; }
  /// db_pool_connections{state}, db_pool_acquire_waits_total, db_pool_acquire_timeouts_total.
  void ExportMetrics(obs::Metrics& metrics);

 private:
  struct Lease {
    explicit Lease(Pool& p);
    ~Lease();
    Pool& pool;
    std::unique_ptr<pqxx::connection> conn;
    bool broken = false;
  };
  std::string dsn_;
  std::size_t max_size_;
  std::chrono::milliseconds acquire_timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;
  std::size_t waits_ = 0, timeouts_ = 0;  // guarded by mu_
};

}  // namespace suite::db
