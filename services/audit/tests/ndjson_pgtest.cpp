#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "ndjson.hpp"
#include "store.hpp"
#include "suite/core/ids.hpp"
#include "suite/db/migrations.hpp"
#include "suite/testing/env.hpp"

namespace audit {
const std::vector<suite::db::Migration>& Migrations();
}

using namespace audit;

namespace {

struct Fixture {
  std::optional<std::string> dsn = suite::testing::ServerUrl("TEST_DATABASE_URL");
  std::unique_ptr<suite::db::Pool> pool;
  std::string tag = suite::core::RandomHex(6);
  std::string path = "/tmp/ndjson-test-" + tag + ".ndjson";
  std::string writer = "writer-" + tag;
  int next = 0;
  Fixture() {
    if (!dsn) return;
    pool = std::make_unique<suite::db::Pool>(*dsn, 2, std::chrono::milliseconds(2000));
    pool->With([](pqxx::connection& c) { return suite::db::Migrate(c, "audit", Migrations()); });
  }
  ~Fixture() { std::filesystem::remove(path); }
  // n new process records, stored as the consumer stores them.
  void Store(int n) {
    std::vector<StreamEvent> events;
    for (int i = 0; i < n; ++i, ++next)
      events.push_back(
          {"0-" + std::to_string(next),
           {.event_id = suite::core::NewUuid(), .timestamp = suite::core::NowIso(), .service = "processing",
            .request_id = tag + "-" + std::to_string(next),
            .record = suite::audit::ProcessRecord{.dataset_id = "d", .action = "count",
                                                  .status = suite::audit::Outcome::kSuccess, .duration_ms = 1,
                                                  .output = {{"count", next}}, .http_status = 200,
                                                  .client = "127.0.0.1"}}});
    CHECK(WriteEvents(*pool, events, writer) == static_cast<std::size_t>(n));
  }
  // The file's request ids, in order; every line must be whole JSON.
  std::vector<std::string> Lines() const {
    std::ifstream in(path);
    std::vector<std::string> ids;
    for (std::string line; std::getline(in, line);) ids.push_back(nlohmann::json::parse(line).at("request_id"));
    return ids;
  }
  std::vector<std::string> Expected() const {
    std::vector<std::string> ids;
    for (int i = 0; i < next; ++i) ids.push_back(tag + "-" + std::to_string(i));
    return ids;
  }
};

}  // namespace

TEST_CASE("ndjson: stored records are appended once, in order, with seed 000's fields") {
  Fixture f;
  if (!f.dsn) return;
  NdjsonWriter w(*f.pool, f.path, f.writer);
  f.Store(3);
  CHECK(w.Flush() == 3);
  CHECK(w.Flush() == 0);
  f.Store(2);
  CHECK(w.Flush() == 2);
  CHECK(f.Lines() == f.Expected());
  std::ifstream in(f.path);
  std::string first;
  std::getline(in, first);
  CHECK(first.rfind("{\"timestamp\":", 0) == 0);
  const auto j = nlohmann::json::parse(first);
  CHECK(j["output"] == nlohmann::json{{"count", 0}});
  CHECK(j["http_status"] == 200);
  CHECK(j["event_id"].get<std::string>().size() == 36);
  // A duplicate delivery stores nothing, so appends nothing.
  CHECK(w.behind() == 0);
}

TEST_CASE("ndjson: an append cut short by a full disk leaves no torn line, and completes later") {
  Fixture f;
  if (!f.dsn) return;
  NdjsonWriter w(*f.pool, f.path, f.writer);
  f.Store(2);
  REQUIRE(w.Flush() == 2);
  const auto before = std::filesystem::file_size(f.path);
  f.Store(50);
  // The file may grow by 300 bytes more: the append stops mid-line (EFBIG, as ENOSPC would).
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = before + 300;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  CHECK_THROWS(w.Flush());
  CHECK_THROWS(w.Flush());  // still full: retried, still refused
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
  CHECK(w.behind() > 0);
  CHECK(std::filesystem::file_size(f.path) == before);  // the partial line was cut away
  CHECK(w.Flush() == 50);                                 // room again: all of it, once
  CHECK(f.Lines() == f.Expected());
}

TEST_CASE("ndjson: lines of an append that never committed (a kill) are replaced, not duplicated") {
  Fixture f;
  if (!f.dsn) return;
  {
    NdjsonWriter w(*f.pool, f.path, f.writer);
    f.Store(4);
    REQUIRE(w.Flush() == 4);
  }
  f.Store(3);
  // The process wrote two and a half of the three lines, then died before its commit.
  {
    std::ofstream out(f.path, std::ios::app);
    out << "{\"timestamp\":\"x\",\"request_id\":\"" << f.tag << "-4\"}\n{\"timestamp\":\"x\",\"request_id\":\"" << f.tag
        << "-5\"}\n{\"timest";
  }
  NdjsonWriter restarted(*f.pool, f.path, f.writer);
  CHECK(restarted.Flush() == 3);
  CHECK(f.Lines() == f.Expected());  // 7 whole lines, each once
}

namespace {
// The lines of every file of the writer (the live one and those rotated away), oldest first.
std::vector<std::string> AllLines(const Fixture& f, std::size_t& files) {
  std::vector<std::filesystem::path> paths;
  const std::filesystem::path live(f.path);
  for (const auto& e : std::filesystem::directory_iterator(live.parent_path()))
    if (e.path().filename().string().rfind(live.stem().string() + "-", 0) == 0) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());  // -YYYYMMDD-HHMMSS-micros: in the order written
  paths.push_back(live);
  files = paths.size();
  std::vector<std::string> ids;
  for (const auto& p : paths) {
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) ids.push_back(nlohmann::json::parse(line).at("request_id"));
  }
  return ids;
}
void RemoveRotated(const Fixture& f) {
  const std::filesystem::path live(f.path);
  for (const auto& e : std::filesystem::directory_iterator(live.parent_path()))
    if (e.path().filename().string().rfind(live.stem().string() + "-", 0) == 0) std::filesystem::remove(e.path());
}
}  // namespace

TEST_CASE("ndjson: a file that reached its size is rotated between appends, every line is in one file, once") {
  Fixture f;
  if (!f.dsn) return;
  {
    NdjsonWriter w(*f.pool, f.path, f.writer, {.max_bytes = 600, .daily = true});
    for (int round = 0; round < 6; ++round) {
      f.Store(2);
      CHECK(w.Flush() == 2);
    }
    CHECK(w.rotations() >= 2);
    std::size_t files = 0;
    CHECK(AllLines(f, files) == f.Expected());
    CHECK(files == w.rotations() + 1);
    // The recorded length is the live file's.
    CHECK(f.pool->With([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      return tx.exec_params1("SELECT size FROM audit.ndjson_files WHERE writer = $1", f.writer)[0].as<long long>();
    }) == static_cast<long long>(std::filesystem::file_size(f.path)));
  }
  RemoveRotated(f);
}

TEST_CASE("ndjson: the first line of a new UTC day starts a new file, a torn tail is not carried over") {
  Fixture f;
  if (!f.dsn) return;
  {
    NdjsonWriter w(*f.pool, f.path, f.writer);
    f.Store(3);
    REQUIRE(w.Flush() == 3);
    // Yesterday's file, with half a line an interrupted append left.
    { std::ofstream(f.path, std::ios::app) << "{\"timest"; }
    const timespec yesterday[2] = {{::time(nullptr) - 86400, 0}, {::time(nullptr) - 86400, 0}};
    REQUIRE(::utimensat(AT_FDCWD, f.path.c_str(), yesterday, 0) == 0);
    f.Store(2);
    CHECK(w.Flush() == 2);
    CHECK(w.rotations() == 1);
    CHECK(f.Lines().size() == 2);  // today's file: today's lines
    std::size_t files = 0;
    CHECK(AllLines(f, files) == f.Expected());  // parses every line: the torn one is gone
    CHECK(files == 2);
    CHECK(w.Flush() == 0);
    CHECK(w.rotations() == 1);  // once a day
  }
  RemoveRotated(f);
}
