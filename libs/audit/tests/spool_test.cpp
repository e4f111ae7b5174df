#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "suite/audit/spool.hpp"
#include "suite/core/ids.hpp"

using suite::audit::Spool;

namespace {

struct TempDir {
  std::string path = "/tmp/spool-test-" + suite::core::RandomHex(6);
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string Record(int i) { return "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 37, 'x') + "\"}"; }

}  // namespace

TEST_CASE("spool: records come out in order, across many laps of a small ring") {
  auto spool = Spool::InMemory(1024);
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 200; ++round) {
    while (spool->Append(Record(next_in))) ++next_in;  // fill
    const auto batch = spool->Peek(7);
    REQUIRE_FALSE(batch.empty());
    for (const auto& r : batch) CHECK(r == Record(next_out++));
    spool->Ack(batch.size());
  }
  CHECK(next_in > 1000);  // the ring wrapped many times
  CHECK(spool->pending() == static_cast<std::size_t>(next_in - next_out));
  CHECK_FALSE(spool->durable());
}

TEST_CASE("spool: a full ring refuses, and takes again once records are acknowledged") {
  auto spool = Spool::InMemory(256);
  const std::string big(200, 'a');
  CHECK(spool->Append(big));
  CHECK_FALSE(spool->Append(big));  // 2 x (16 + 200) > 256
  CHECK_FALSE(spool->Append(std::string(300, 'b')));
  CHECK_FALSE(spool->Append(""));
  spool->Ack(1);
  CHECK(spool->Append(big));
  CHECK(spool->used_bytes() == 216);
}

TEST_CASE("spool: unacknowledged records are found again by the next process, in order") {
  TempDir dir;
  std::string path;
  {
    auto spool = Spool::Open(dir.path, "svc", 4096);
    CHECK(spool->durable());
    CHECK(spool->recovered() == 0);
    for (int i = 0; i < 20; ++i) REQUIRE(spool->Append(Record(i)));
    spool->Ack(8);
    path = spool->path();
  }
  auto again = Spool::Open(dir.path, "svc", 4096);
  CHECK(again->path() == path);
  CHECK(again->recovered() == 12);
  const auto left = again->Peek(100);
  REQUIRE(left.size() == 12);
  for (int i = 0; i < 12; ++i) CHECK(left[i] == Record(i + 8));
  // Everything acknowledged: nothing comes back, not even the stale bytes of earlier laps.
  again->Ack(12);
  again.reset();
  CHECK(Spool::Open(dir.path, "svc", 4096)->pending() == 0);
}

TEST_CASE("spool: a process killed with -9 right after appending loses nothing") {
  TempDir dir;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto spool = Spool::Open(dir.path, "svc", 1 << 20);
    for (int i = 0; i < 5000; ++i)
      if (!spool->Append(Record(i))) ::_exit(3);
    spool->Ack(100);
    ::kill(::getpid(), SIGKILL);  // no msync, no munmap, no close
    ::_exit(4);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  auto spool = Spool::Open(dir.path, "svc", 1 << 20);
  CHECK(spool->recovered() == 4900);
  const auto all = spool->Peek(10'000);
  REQUIRE(all.size() == 4900);
  CHECK(all.front() == Record(100));
  CHECK(all.back() == Record(4999));
}

TEST_CASE("spool: a torn record ends the recovery there, what came before is kept") {
  TempDir dir;
  std::string path;
  {
    auto spool = Spool::Open(dir.path, "svc", 4096);
    for (int i = 0; i < 5; ++i) REQUIRE(spool->Append(Record(i)));
    path = spool->path();
  }
  // The last record's payload damaged (a crash mid-write): its checksum no longer holds.
  std::size_t offset = 4096;
  for (int i = 0; i < 4; ++i) offset += 16 + Record(i).size();
  const int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, "#", 1, static_cast<off_t>(offset + 16 + 3)) == 1);
  ::close(fd);
  auto spool = Spool::Open(dir.path, "svc", 4096);
  CHECK(spool->recovered() == 4);
  CHECK(spool->Peek(10).back() == Record(3));
  CHECK(spool->Append(Record(99)));  // and writing goes on after the last whole record
  CHECK(spool->Peek(10).back() == Record(99));
}

TEST_CASE("spool: processes sharing a directory get a file each, a dead one's file is taken over") {
  TempDir dir;
  auto a = Spool::Open(dir.path, "svc", 4096);
  auto b = Spool::Open(dir.path, "svc", 4096);
  CHECK(a->path() != b->path());
  REQUIRE(a->Append("from-a"));
  a.reset();  // a's process ends with one record unsent
  auto c = Spool::Open(dir.path, "svc", 4096);
  CHECK(c->path().ends_with("svc-0.spool"));
  CHECK(c->Peek(1) == std::vector<std::string>{"from-a"});
  CHECK_THROWS_AS(Spool::Open("/proc/no-such-dir", "svc", 4096), std::runtime_error);
}

TEST_CASE("spool: an existing file keeps its size, a damaged header walks the ring from its start") {
  TempDir dir;
  {
    auto spool = Spool::Open(dir.path, "svc", 8192);
    REQUIRE(spool->Append("kept"));
  }
  auto bigger = Spool::Open(dir.path, "svc", 65536);
  CHECK(bigger->capacity() == 8192);
  CHECK(bigger->Peek(1) == std::vector<std::string>{"kept"});
  const auto path = bigger->path();
  bigger.reset();
  const int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(::pwrite(fd, "garbage!", 8, 0) == 8);
  ::close(fd);
  // What is found is sent again rather than lost (the consumer drops what it already has).
  CHECK(Spool::Open(dir.path, "svc", 8192)->Peek(5) == std::vector<std::string>{"kept"});
}

TEST_CASE("CRC-32C matches the standard check value") {
  CHECK(suite::audit::Crc32c("123456789", 9) == 0xE3069283u);
}

TEST_CASE("CRC-32C: every length and split agrees with a bit-by-bit reference") {
  auto reference = [](const unsigned char* p, std::size_t n, std::uint32_t crc) {
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) {
      crc ^= p[i];
      for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
  };
  std::vector<unsigned char> data(300);
  std::uint32_t x = 12345;
  for (auto& b : data) b = static_cast<unsigned char>((x = x * 1103515245u + 12345u) >> 16);
  for (std::size_t n = 0; n <= data.size(); ++n) {
    const auto want = reference(data.data(), n, 0);
    REQUIRE(suite::audit::Crc32c(data.data(), n) == want);
    const std::size_t cut = n / 3;  // chained: a prefix's CRC seeds the rest's
    REQUIRE(suite::audit::Crc32c(data.data() + cut, n - cut, suite::audit::Crc32c(data.data(), cut)) == want);
  }
  CHECK(suite::audit::Crc32c(data.data() + 1, 17, 7) == reference(data.data() + 1, 17, 7));  // unaligned, seeded
}
