#pragma once
/// A bounded pool of libpqxx connections for worker threads. A caller that cannot get a
/// connection within `acquire_timeout` gets ApiError(kServiceUnavailable) with Retry-After.
/// Connections that broke (a restarted server, a cut network, a backend terminated by an
/// administrator) are dropped: an idle one is checked before it is lent (without a round trip),
/// and a statement that finds its connection broken is retried once on a new one.
#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "suite/core/error.hpp"

namespace suite::obs {
class Metrics;
}

namespace suite::db {

class Pool {
 public:
  Pool(std::string dsn, std::size_t max_size, std::chrono::milliseconds acquire_timeout);

  /// Runs `fn(connection)` on a pooled connection and returns what it returns. The contract:
  /// `fn` runs at most one transaction and has no effect outside it. Then a connection that
  /// breaks before the commit has committed nothing, and `fn` runs once more on a new
  /// connection; a second break, or one during the commit (pqxx::in_doubt_error: the outcome is
  /// unknown, so no retry), is ApiError(kServiceUnavailable) with Retry-After, never a 500.
  template <class F>
  auto With(F&& fn) {
    for (int attempt = 1;; ++attempt) {
      Lease lease(*this);
      try {
        return fn(*lease.conn);
      } catch (const pqxx::in_doubt_error& e) {
        lease.broken = true;
        throw Unavailable(e, "commit outcome unknown: ");
      } catch (const pqxx::broken_connection& e) {
        lease.broken = true;
        if (attempt == 2) throw Unavailable(e, "connection broken twice: ");
      } catch (const pqxx::sql_error& e) {
        if (!IsDisconnection(e)) throw;
        lease.broken = true;
        if (attempt == 2) throw Unavailable(e, "connection broken twice: ");
      }
      NoteRetry();
    }
  }
  /// SELECT 1 with a fresh lease; false when the database does not answer.
  bool Ping();
  /// At start: Ping() every 500 ms until the database answers or `limit` passed (logged once
  /// while waiting). A service started beside its database (compose, a pod) waits for it
  /// instead of exiting and counting on a restart.
  bool WaitReachable(std::chrono::milliseconds limit);
  const std::string& dsn() const { return dsn_; }
  /// db_pool_connections{state}, db_pool_acquire_waits_total, db_pool_acquire_timeouts_total,
  /// db_pool_broken_connections_total, db_pool_retries_total.
  void ExportMetrics(obs::Metrics& metrics);

  /// The server ended the session (SQLSTATE class 08, or 57P01-57P03: shut down, crashed,
  /// starting): the connection is gone, whatever pqxx's exception type says.
  static bool IsDisconnection(const pqxx::sql_error& e);

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
  static core::ApiError Unavailable(const std::exception& e, const char* why);
  void NoteRetry();
  /// True when an idle connection can be lent: open, and nothing to read on its socket (an idle
  /// session receives nothing unless the server is ending it: an error, then end of file).
  static bool Healthy(pqxx::connection& c);
  std::size_t waits_ = 0, timeouts_ = 0, broken_ = 0, retries_ = 0;  // guarded by mu_
};

}  // namespace suite::db
