#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "suite/observability/log.hpp"

namespace {
// What the calls in `fn` wrote on stdout, line by line, parsed.
template <class Fn>
std::vector<nlohmann::json> Captured(Fn fn) {
  char path[] = "/tmp/suite-log-test.XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  ::dup2(fd, STDOUT_FILENO);
  fn();
  std::fflush(stdout);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));  // throws if not JSON
  ::unlink(path);
  return lines;
}
}  // namespace

TEST_CASE("log lines: the common fields, then the caller's, one JSON object per line") {
  suite::obs::SetService("logtest");
  const auto lines = Captured([] {
    suite::obs::Info("hello", {{"count", 3}, {"what", "x"}});
    suite::obs::LogFields(suite::obs::Level::kWarning, "fast", {{"n", 42}, {"ms", 1.25}, {"s", "text"}});
  });
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["message"] == "hello");
  CHECK(lines[0]["severity"] == "INFO");
  CHECK(lines[0]["service"] == "logtest");
  CHECK(lines[0]["count"] == 3);
  CHECK(lines[0]["what"] == "x");
  CHECK(lines[0]["timestamp"].get<std::string>().size() >= 20);
  CHECK(lines[1]["message"] == "fast");
  CHECK(lines[1]["severity"] == "WARNING");
  CHECK(lines[1]["n"] == 42);
  CHECK(lines[1]["ms"] == 1.25);
  CHECK(lines[1]["s"] == "text");
}

TEST_CASE("log lines: hostile text stays one valid line (quotes, newlines, control bytes, bad UTF-8, NUL)") {
  const std::string path = std::string("/a\"b\\c\nd\re\x01\x7f\xff\xfe", 12) + std::string(1, '\0') + "z";
  const auto lines = Captured([&] {
    suite::obs::LogFields(suite::obs::Level::kInfo, "request", {{"path", path}, {"nan", 0.0 / 0.0}});
    suite::obs::Info("request", {{"path", path}});
    suite::obs::LogFields(suite::obs::Level::kInfo, "ok", {{"path", "/caf\xc3\xa9"}});
  });
  REQUIRE(lines.size() == 3);  // no line was split by the newline in the text
  const auto fast = lines[0]["path"].get<std::string>();
  CHECK(fast.find('\n') != std::string::npos);  // escaped on the wire, restored by the parser
  CHECK(fast.find('\0') == std::string::npos);
  CHECK(fast.find('"') != std::string::npos);
  CHECK(lines[0]["nan"].is_null());
  CHECK(lines[1]["path"].is_string());
  CHECK(lines[2]["path"] == "/caf\xc3\xa9");  // valid UTF-8 kept as is
}

TEST_CASE("log lines: below the minimum level nothing is written") {
  const auto lines = Captured([] {
    suite::obs::SetMinLevel(suite::obs::Level::kWarning);
    suite::obs::Info("quiet");
    suite::obs::LogFields(suite::obs::Level::kInfo, "quiet", {});
    suite::obs::Warn("loud");
    suite::obs::SetMinLevel(suite::obs::Level::kInfo);
  });
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["message"] == "loud");
}

TEST_CASE("log lines: a loop's batch goes out in one write when flushed, a warning takes it out at once") {
  int scheduled = 0;
  std::vector<nlohmann::json> before_flush;
  const auto lines = Captured([&] {
    suite::obs::BatchLinesOnThisThread([&] { ++scheduled; });
    suite::obs::Info("one");
    suite::obs::LogFields(suite::obs::Level::kInfo, "two", {{"n", 2}});
    std::fflush(stdout);
    CHECK(::lseek(STDOUT_FILENO, 0, SEEK_END) == 0);  // kept, not written
    CHECK(scheduled == 1);                              // one flush asked for the batch
    suite::obs::FlushLines();
    const auto written = ::lseek(STDOUT_FILENO, 0, SEEK_END);
    CHECK(written > 0);
    suite::obs::Info("three");
    CHECK(scheduled == 2);
    suite::obs::Warn("four");  // at once, after the line kept before it
    CHECK(::lseek(STDOUT_FILENO, 0, SEEK_END) > written);
    suite::obs::Info("five");
    suite::obs::BatchLinesOnThisThread({});  // flushes what is kept; then at once again
    suite::obs::Info("six");
  });
  REQUIRE(lines.size() == 6);
  const char* order[] = {"one", "two", "three", "four", "five", "six"};
  for (std::size_t i = 0; i < 6; ++i) CHECK(lines[i]["message"] == order[i]);
  CHECK(lines[1]["n"] == 2);
}
