#include "throttle.hpp"

#include "suite/core/error.hpp"
#include "suite/observability/log.hpp"

namespace auth {

void Throttle::Count(const char* action, const std::string& client, int limit) {
  if (limit <= 0) return;
  const std::string who = client.empty() ? std::string("unknown") : client.substr(0, 64);
  const auto [attempts, retry] = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_params1(
        "INSERT INTO auth.throttle AS t (action, client, window_at, attempts) "
        "VALUES ($1, $2, date_trunc('minute', now()), 1) "
        "ON CONFLICT (action, client, window_at) DO UPDATE SET attempts = t.attempts + 1 "
        "RETURNING attempts, ceil(extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now()))::int",
        action, who);
    // Each new window prunes a few of the old ones: the table holds about one minute of clients.
    if (r[0].as<int>() == 1)
      tx.exec0("DELETE FROM auth.throttle WHERE ctid IN (SELECT ctid FROM auth.throttle "
               "WHERE window_at < date_trunc('minute', now()) LIMIT 200)");
    tx.commit();
    return std::pair{r[0].as<int>(), r[1].as<int>()};
  });
  if (attempts > limit) {
    if (attempts == limit + 1)
      suite::obs::Warn("attempts throttled", {{"action", action}, {"client", who}, {"limit_per_minute", limit}});
    throw suite::core::ApiError(suite::core::ErrorCode::kRateLimited,
                                "Too many attempts. Max " + std::to_string(limit) + " per minute",
                                {{"limit", limit}, {"period_seconds", 60}, {"retry_after_seconds", std::max(retry, 1)}})
        .RetryAfter(std::chrono::seconds(std::max(retry, 1)));
  }
}

}  // namespace auth
