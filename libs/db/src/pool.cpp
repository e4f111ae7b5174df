#include "suite/db/pool.hpp"

#include <poll.h>

#include "suite/core/error.hpp"
#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"

#include <thread>

namespace suite::db {

Pool::Pool(std::string dsn, std::size_t max_size, std::chrono::milliseconds acquire_timeout)
    : dsn_(std::move(dsn)), max_size_(max_size), acquire_timeout_(acquire_timeout) {}

Pool::Lease::Lease(Pool& p) : pool(p) {
  std::unique_lock lock(p.mu_);
  auto free = [&] { return !p.idle_.empty() || p.open_ < p.max_size_; };
  if (!free()) ++p.waits_;
  const bool ok = p.cv_.wait_for(lock, p.acquire_timeout_, free);
  if (!ok) ++p.timeouts_;
  if (!ok)
    throw core::ApiError(core::ErrorCode::kServiceUnavailable, "Database is busy, retry shortly",
                         nullptr, "no database connection free within the deadline")
        .RetryAfter(std::chrono::seconds(1));
  while (!p.idle_.empty()) {
    conn = std::move(p.idle_.back());
    p.idle_.pop_back();
    if (Healthy(*conn)) return;
    conn.reset();  // the server ended it while it was idle (a restart): open a new one instead
    --p.open_;
    ++p.broken_;
  }
  ++p.open_;
  lock.unlock();
  try {
    conn = std::make_unique<pqxx::connection>(p.dsn_);
  } catch (const std::exception& e) {
    std::lock_guard relock(p.mu_);
    --p.open_;
    p.cv_.notify_one();
    throw core::ApiError(core::ErrorCode::kServiceUnavailable, "Database unavailable, retry shortly", nullptr,
                         std::string("connect: ") + e.what())
        .RetryAfter(std::chrono::seconds(1));
  }
}

Pool::Lease::~Lease() {
  std::lock_guard lock(pool.mu_);
  if (conn && !broken && conn->is_open()) {
    pool.idle_.push_back(std::move(conn));
  } else {
    --pool.open_;
    if (conn) ++pool.broken_;
  }
  pool.cv_.notify_one();
}

void Pool::ExportMetrics(obs::Metrics& metrics) {
  using Kind = obs::Metrics::Kind;
  auto read = [this](auto field) {
    return [this, field] {
      std::lock_guard lock(mu_);
      return static_cast<double>(field(*this));
    };
  };
  const std::string connections = "Database connections open, by state (in_use, idle)";
  metrics.Expose("db_pool_connections", connections, Kind::kGauge, {{"state", "in_use"}},
                 read([](const Pool& p) { return p.open_ - p.idle_.size(); }));
  metrics.Expose("db_pool_connections", connections, Kind::kGauge, {{"state", "idle"}},
                 read([](const Pool& p) { return p.idle_.size(); }));
  metrics.Expose("db_pool_acquire_waits_total", "Requests for a connection that had to wait for one", Kind::kCounter,
                 {}, read([](const Pool& p) { return p.waits_; }));
  metrics.Expose("db_pool_acquire_timeouts_total", "Requests for a connection that got none in time (503)",
                 Kind::kCounter, {}, read([](const Pool& p) { return p.timeouts_; }));
  metrics.Expose("db_pool_broken_connections_total",
                 "Connections found broken (ended by the server, found idle or in use) and dropped", Kind::kCounter,
                 {}, read([](const Pool& p) { return p.broken_; }));
  metrics.Expose("db_pool_retries_total", "Statements run again on a new connection after theirs broke",
                 Kind::kCounter, {}, read([](const Pool& p) { return p.retries_; }));
}

bool Pool::Healthy(pqxx::connection& c) {
  if (!c.is_open()) return false;
  pollfd fd{c.sock(), POLLIN, 0};
  return ::poll(&fd, 1, 0) == 0;
}

bool Pool::IsDisconnection(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

core::ApiError Pool::Unavailable(const std::exception& e, const char* why) {
  return core::ApiError(core::ErrorCode::kServiceUnavailable, "Database unavailable, retry shortly", nullptr,
                        std::string(why) + e.what())
      .RetryAfter(std::chrono::seconds(1));
}

void Pool::NoteRetry() {
  std::lock_guard lock(mu_);
  ++retries_;
}

bool Pool::Ping() {
  try {
    return With([](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return tx.exec1("SELECT 1")[0].as<int>() == 1;
    });
  } catch (const std::exception&) {
    return false;
  }
}

bool Pool::WaitReachable(std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  bool said = false;
  while (!Ping()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    if (!said) obs::Warn("waiting for the database", {{"limit_ms", static_cast<long long>(limit.count())}});
    said = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (said) obs::Info("the database answers");
  return true;
}

}  // namespace suite::db
