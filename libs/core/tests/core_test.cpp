#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "suite/core/config.hpp"
#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"

using namespace suite::core;

TEST_CASE("error codes map to the seed's statuses") {
  CHECK(HttpStatus(ErrorCode::kValidation) == 422);
  CHECK(CodeName(ErrorCode::kRateLimited) == "RATE_LIMIT_EXCEEDED");
  CHECK(HttpStatus(ErrorCode::kQuotaExceeded) == 429);
  CHECK(HttpStatus(ErrorCode::kUpstreamTimeout) == 504);
  CHECK(HttpStatus(ErrorCode::kUnauthenticated) == 401);
}

TEST_CASE("envelope carries code, message, request id and details") {
  auto body = nlohmann::json::parse(
      ErrorBody(ErrorCode::kBadRequest, "boom", "rid-1", {{"field", "x"}}));
  CHECK(body["error"]["code"] == "BAD_REQUEST");
  CHECK(body["error"]["message"] == "boom");
  CHECK(body["error"]["request_id"] == "rid-1");
  CHECK(body["error"]["details"]["field"] == "x");
  CHECK(body["detail"] == "boom");
  auto plain = nlohmann::json::parse(ErrorBody(ErrorCode::kNotFound, "no", "r"));
  CHECK_FALSE(plain["error"].contains("details"));
}

TEST_CASE("uuid v4 shape and uniqueness") {
  auto a = NewUuid(), b = NewUuid();
  CHECK(a.size() == 36);
  CHECK(a[14] == '4');
  CHECK(std::string("89ab").find(a[19]) != std::string::npos);
  CHECK(a != b);
  CHECK(IsValidRequestId(a));
}

TEST_CASE("request ids from clients are checked") {
  CHECK(IsValidRequestId("abc-123_X.y:z"));
  CHECK_FALSE(IsValidRequestId(""));
  CHECK_FALSE(IsValidRequestId("a b"));
  CHECK_FALSE(IsValidRequestId("x\r\nSet-Cookie: y"));
  CHECK_FALSE(IsValidRequestId(std::string(129, 'a')));
}

TEST_CASE("timestamps are RFC 3339 with microseconds") {
  using std::chrono::microseconds;
  std::chrono::system_clock::time_point tp{microseconds(1761482096789123LL)};
  CHECK(IsoTimestamp(tp) == "2025-10-26T12:34:56.789123+00:00");
  // The second is kept per thread: another second, then the first again, each exact.
  CHECK(IsoTimestamp(tp + microseconds(1'000'001)) == "2025-10-26T12:34:57.789124+00:00");
  CHECK(IsoTimestamp(tp + std::chrono::hours(24 * 40)) == "2025-12-05T12:34:56.789123+00:00");
  CHECK(IsoTimestamp(std::chrono::system_clock::time_point{microseconds(1761482096000007LL)}) ==
        "2025-10-26T12:34:56.000007+00:00");
  CHECK(IsoTimestamp(std::chrono::system_clock::time_point{microseconds(0)}) == "1970-01-01T00:00:00.000000+00:00");
}

TEST_CASE("random ids: distinct, and a forked child never repeats its parent's bytes") {
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) seen.insert(NewUuid());  // several refills of the per-thread pool
  CHECK(seen.size() == 5000);
  CHECK(RandomHex(16).size() == 32);
  CHECK(RandomBytes(5000).size() == 5000);  // larger than the pool: straight from the generator
  (void)RandomHex(8);                        // the pool holds bytes the child could inherit
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const auto mine = RandomHex(16);
    const auto written = write(fds[1], mine.data(), mine.size());
    _exit(written == 32 ? 0 : 1);
  }
  close(fds[1]);
  const auto parents = RandomHex(16);
  char buf[32];
  std::size_t got = 0;
  while (got < sizeof buf) {
    const auto n = read(fds[0], buf + got, sizeof buf - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(got == 32);
  CHECK(std::string(buf, 32) != parents);
}

TEST_CASE("client timestamps are parsed strictly") {
  CHECK(ParseIsoTimestamp("2025-10-26T12:34:56.789123+00:00") == 1761482096789123LL);
  CHECK(ParseIsoTimestamp("2025-10-26T12:34:56.789123Z") == 1761482096789123LL);
  CHECK(ParseIsoTimestamp("2025-10-26T14:34:56.789123+02:00") == 1761482096789123LL);
  CHECK(ParseIsoTimestamp("2025-10-26T12:34:56.7891239Z") == 1761482096789123LL);  // beyond µs: cut
  CHECK(ParseIsoTimestamp("2025-10-26T12:34:56") == 1761482096000000LL);
  CHECK(ParseIsoTimestamp("2025-10-26T12:34") == 1761482040000000LL);
  CHECK(ParseIsoTimestamp("2025-10-26") == 1761436800000000LL);
  CHECK(ParseIsoTimestamp("1970-01-01") == 0);
  CHECK(ParseIsoTimestamp("2024-02-29") == 1709164800000000LL);
  CHECK(IsoTimestamp(std::chrono::system_clock::time_point{std::chrono::microseconds(
            *ParseIsoTimestamp("2000-03-01T00:00:00Z"))}) == "2000-03-01T00:00:00.000000+00:00");
  for (const char* bad : {"", "2025", "2025-13-01", "2025-02-29", "2025-04-31", "1969-12-31", "2025-10-26T24:00",
                          "2025-10-26T12:60", "2025-10-26T12:34:61", "2025-10-26T12:34:56.", "2025-10-26T12:34:56+2",
                          "2025-10-26T12:34:56.1234567890Z", "2025-10-26T12:34:56Zx", "2025-10-26x",
                          "2025-10-26T12:34:56+24:00", "２025-10-26", "2025-1-26", "now"})
    CHECK_FALSE(ParseIsoTimestamp(bad).has_value());
}

TEST_CASE("env config collects every error") {
  ::setenv("T_INT", "abc", 1);
  ::setenv("T_RANGE", "70000", 1);
  ::setenv("T_BOOL", "maybe", 1);
  ::setenv("T_SECRET", "short", 1);
  ::setenv("T_OK", "42", 1);
  Env env("test");
  CHECK(env.Int("T_OK", 1, 0, 100) == 42);
  env.Int("T_INT", 1, 0, 100);
  env.Port("T_RANGE", 80);
  env.Bool("T_BOOL", false);
  env.Secret("T_SECRET", 32);
  env.Str("T_MISSING_VAR");
  REQUIRE(env.errors().size() == 5);
  CHECK(env.errors()[0].rfind("T_INT:", 0) == 0);
  CHECK(env.errors()[4] == "T_MISSING_VAR: is required");
  for (const auto& e : env.errors()) CHECK(e.find("short") == std::string::npos);  // no secret echo
}

TEST_CASE("request id: X-Request-ID, else X-Cloud-Trace-Context's trace id (seed 003)") {
  using suite::core::ClientRequestId;
  CHECK(ClientRequestId("abc-123", "") == "abc-123");
  CHECK(ClientRequestId("abc-123", "105445aa7843bc8bf206b12000100000/1;o=1") == "abc-123");
  CHECK(ClientRequestId("", "105445aa7843bc8bf206b12000100000/1;o=1") == "105445aa7843bc8bf206b12000100000");
  CHECK(ClientRequestId("bad id\r\n", "105445aa7843bc8bf206b12000100000") == "105445aa7843bc8bf206b12000100000");
  CHECK_FALSE(ClientRequestId("", "105445aa/1;o=1"));
  CHECK_FALSE(ClientRequestId("", "105445aa7843bc8bf206b1200010000z/1"));
  CHECK_FALSE(ClientRequestId("", ""));
}

TEST_CASE("W3C traceparent: the trace id of a well-formed one only") {
  using suite::core::TraceIdOf;
  CHECK(TraceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK_FALSE(TraceIdOf("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK_FALSE(TraceIdOf("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  CHECK_FALSE(TraceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  CHECK_FALSE(TraceIdOf("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  CHECK_FALSE(TraceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"));
  CHECK_FALSE(TraceIdOf(""));
}
