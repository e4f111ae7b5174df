#include "routes.hpp"

#include "store.hpp"
#include "suite/core/config.hpp"
#include "suite/core/ids.hpp"

namespace audit {

using suite::core::ApiError;
using suite::core::ErrorCode;
using suite::http::Request;
using suite::http::Response;
using suite::db::Pool;

namespace {

// An integer query parameter in [min, max], or a 422 naming it.
long long Integer(std::string_view text, long long min, long long max, const char* field, const char* message) {
  const auto v = suite::core::ParseInt(text);
  if (!v || *v < min || *v > max) throw suite::core::ValidationError(field, message);
  return *v;
}

// A text query parameter of 1 to 256 characters, or a 422 naming it.
std::string Text(const std::string& v, const char* field) {
  if (v.empty() || v.size() > 256) throw suite::core::ValidationError(field, "must be 1 to 256 characters");
  return v;
}

// A timestamp query parameter (RFC 3339, or a date), or a 422 naming it.
std::int64_t Timestamp(const std::string& text, const char* field) {
  const auto v = suite::core::ParseIsoTimestamp(text);
  if (!v) throw suite::core::ValidationError(field, "must be an RFC 3339 timestamp or a date (2025-10-26T12:00:00Z)");
  return *v;
}

// since/until of a query; until must follow since.
void TimeRange(const std::vector<std::pair<std::string, std::string>>& form, std::optional<std::int64_t>& since,
               std::optional<std::int64_t>& until) {
  for (const auto& [k, v] : form) {
    if (k == "since") since = Timestamp(v, "since");
    else if (k == "until") until = Timestamp(v, "until");
  }
  if (since && until && *until <= *since) throw suite::core::ValidationError("until", "must be later than since");
}

// The filters of GET /audit/requests and /audit/export; limit in [1, max_limit].
RequestFilter ParseFilter(const Request& req, int default_limit, int max_limit) {
  auto form = suite::http::ParseForm(req.query);
  if (!form) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
  RequestFilter f;
  f.limit = default_limit;
  for (auto& [k, v] : *form) {
    if (k == "status") {
      if (v != "success" && v != "failure") throw suite::core::ValidationError("status", "must be success or failure");
      f.status = v;
    } else if (k == "action") f.action = Text(v, "action");
    else if (k == "dataset_id") f.dataset_id = Text(v, "dataset_id");
    else if (k == "request_id") f.request_id = Text(v, "request_id");
    else if (k == "user") f.subject = Text(v, "user");
    else if (k == "cursor") {
      f.after = DecodeCursor(v);
      if (!f.after) throw suite::core::ValidationError("cursor", "is not a cursor this API returned");
    } else if (k == "limit") {
      const auto message = "must be an integer between 1 and " + std::to_string(max_limit);
      f.limit = static_cast<int>(Integer(v, 1, max_limit, "limit", message.c_str()));
    }
  }
  TimeRange(*form, f.since_us, f.until_us);
  return f;
}

void RequireAdmin(const Request& req) {
  if (!req.identity.HasRole("admin")) throw ApiError(ErrorCode::kForbidden, "Admin role required");
}

SecurityFilter ParseSecurityFilter(const Request& req) {
  auto form = suite::http::ParseForm(req.query);
  if (!form) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
  SecurityFilter f;
  for (auto& [k, v] : *form) {
    if (k == "hours") f.hours = static_cast<int>(Integer(v, 1, 720, "hours", "must be an integer between 1 and 720"));
    else if (k == "limit") f.limit = static_cast<int>(Integer(v, 1, 1000, "limit", "must be an integer between 1 and 1000"));
    else if (k == "offset") f.offset = Integer(v, 0, 1'000'000'000, "offset", "must be a non-negative integer");
    else if (k == "severity") {
      if (v != "INFO" && v != "WARNING" && v != "ERROR" && v != "CRITICAL")
        throw suite::core::ValidationError("severity", "must be INFO, WARNING, ERROR or CRITICAL");
      f.severity = v;
    } else if (k == "event_type") {
      if (v.empty() || v.size() > 64) throw suite::core::ValidationError("event_type", "must be 1 to 64 characters");
      f.event_type = v;
    }
  }
  return f;
}

AccessFilter ParseAccessFilter(const Request& req) {
  auto form = suite::http::ParseForm(req.query);
  if (!form) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
  AccessFilter f;
  for (auto& [k, v] : *form) {
    if (k == "limit") f.limit = static_cast<int>(Integer(v, 1, 1000, "limit", "must be an integer between 1 and 1000"));
    else if (k == "offset") f.offset = Integer(v, 0, 1'000'000'000, "offset", "must be a non-negative integer");
    else if (k == "status") f.http_status = static_cast<int>(Integer(v, 100, 599, "status", "must be an HTTP status"));
    else if (k == "client") f.client = Text(v, "client");
    else if (k == "request_id") f.request_id = Text(v, "request_id");
    else if (k == "reason") f.reason = Text(v, "reason");
    else if (k == "subject") f.subject = Text(v, "subject");
    else if (k == "protocol") {
      if (v != "h1" && v != "h2" && v != "grpc" && v != "ws")
        throw suite::core::ValidationError("protocol", "must be h1, h2, grpc or ws");
      f.protocol = v;
    }
  }
  return f;
}

// Runs `answer(pool)` on the read replica while it keeps up (DATABASE_READ_URL), else on the
// primary, and says which in X-Read-From.
template <class F>
Response Read(suite::db::ReadRouter& reads, F&& answer) {
  suite::db::ReadFrom from;
  Response res = reads.Read(answer, from);
  res.Set("X-Read-From", suite::db::ToString(from));
  return res;
}

}  // namespace

void Register(suite::http::Router& router, suite::service::WorkerPool& workers, suite::db::ReadRouter& reads) {
  // Newest first; `next_cursor` (null on the last page) is passed back as `cursor`.
  router.Blocking("GET", "/audit/requests", workers, [&reads](Request& req) {
    RequireAdmin(req);
    const auto filter = ParseFilter(req, 50, 1000);
    return Read(reads, [&](Pool& pool) { return Response::Json(200, QueryRequests(pool, filter)); });
  });
  // The same records as NDJSON, a page of up to 5,000 lines; the next page's cursor is in
  // X-Next-Cursor and in a Link header (rel="next"), absent on the last page.
  router.Blocking("GET", "/audit/export", workers, [&reads](Request& req) {
    RequireAdmin(req);
    const auto filter = ParseFilter(req, 1000, 5000);
    return Read(reads, [&](Pool& pool) {
      std::optional<std::string> next;
      Response res;
      res.status = 200;
      res.body = ExportRequests(pool, filter, next);
      res.Set("Content-Type", "application/x-ndjson");
      if (next) {
        res.Set("X-Next-Cursor", *next);
        // The same query with the cursor replaced: a client follows the links to the end.
        std::string query;
        const auto form = suite::http::ParseForm(req.query);  // parsed by ParseFilter: valid
        for (const auto& [k, v] : *form) {
          if (k == "cursor") continue;
          query += suite::http::PercentEncode(k) + "=" + suite::http::PercentEncode(v) + "&";
        }
        res.Set("Link", "</audit/export?" + query + "cursor=" + *next + ">; rel=\"next\"");
      }
      return res;
    });
  });
  // Seed 000's SQLite queries as an API: counts by status, average duration by action.
  router.Blocking("GET", "/audit/stats", workers, [&reads](Request& req) {
    RequireAdmin(req);
    auto form = suite::http::ParseForm(req.query);
    if (!form) throw ApiError(ErrorCode::kBadRequest, "Malformed query string");
    std::optional<std::int64_t> since, until;
    TimeRange(*form, since, until);
    return Read(reads, [&](Pool& pool) {
      auto out = RequestStats(pool, since, until);
      auto iso = [](std::optional<std::int64_t> us) {
        return us ? nlohmann::json(suite::core::IsoTimestamp(
                        std::chrono::system_clock::time_point{std::chrono::microseconds(*us)}))
                  : nlohmann::json(nullptr);
      };
      out["since"] = iso(since);
      out["until"] = iso(until);
      return Response::Json(200, out);
    });
  });
  // Walks every chain and reports the first broken link of each.
  router.Blocking("GET", "/audit/verify", workers, [&reads](Request& req) {
    RequireAdmin(req);
    return Read(reads, [&](Pool& pool) {
      auto out = VerifyChains(pool);
      out["verified_at"] = suite::core::NowIso();
      return Response::Json(200, out);
    });
  });
  // The gateway's access log: every answer, refusals with their reason.
  router.Blocking("GET", "/audit/access", workers, [&reads](Request& req) {
    RequireAdmin(req);
    const auto filter = ParseAccessFilter(req);
    return Read(reads, [&](Pool& pool) { return Response::Json(200, QueryAccess(pool, filter)); });
  });
  // Seed 002's security monitoring: the events for administrators, a summary for any user.
  router.Blocking("GET", "/security/events", workers, [&reads](Request& req) {
    RequireAdmin(req);
    const auto filter = ParseSecurityFilter(req);
    return Read(reads, [&](Pool& pool) { return Response::Json(200, QuerySecurityEvents(pool, filter)); });
  });
  router.Blocking("GET", "/security/health", workers, [&reads](Request& req) {
    const auto& id = req.identity;
    if (id.method == "none" || id.method.empty()) throw ApiError(ErrorCode::kUnauthenticated, "Authentication required");
    return Read(reads, [&](Pool& pool) {
      auto out = SecurityHealth(pool);
      out["timestamp"] = suite::core::NowIso();
      return Response::Json(200, out);
    });
  });
}

}  // namespace audit
