#include "suite/audit/spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace suite::audit {

namespace {

constexpr std::size_t kHeaderBytes = 4096;
constexpr std::size_t kRecordHeader = 16;  // length, crc, seq
constexpr char kMagic[8] = {'S', 'U', 'I', 'T', 'E', 'S', 'P', '1'};
constexpr std::uint32_t kVersion = 1;
constexpr int kMaxFiles = 16;

std::array<std::uint32_t, 256> MakeTable() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

[[noreturn]] void Fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

namespace {
std::uint32_t Crc32cTable(const unsigned char* p, std::size_t n, std::uint32_t crc) {
  static const auto kTable = MakeTable();
  for (std::size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}
#if defined(__x86_64__)
// SSE 4.2's crc32 instruction computes this very polynomial, 8 bytes at a time (every event of
// the gateway goes through here: ~1 µs a request with the table, ~0.1 µs with it).
__attribute__((target("sse4.2"))) std::uint32_t Crc32cHardware(const unsigned char* p, std::size_t n, std::uint32_t crc) {
  std::uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, *p);
  return c32;
}
#endif
}  // namespace

std::uint32_t Crc32c(const void* data, std::size_t n, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  if (hardware) return ~Crc32cHardware(p, n, ~crc);
#endif
  return ~Crc32cTable(p, n, ~crc);
}

// Two slots, written in turn: a crash while one is written leaves the other, older, valid.
struct Spool::Header {
  struct Slot {
    std::uint64_t generation, tail, tail_seq;
    std::uint32_t crc, pad;
    std::uint32_t Checksum() const { return Crc32c(this, offsetof(Slot, crc)); }
  };
  char magic[8];
  std::uint32_t version, pad;
  std::uint64_t capacity;
  Slot slots[2];
};

std::unique_ptr<Spool> Spool::Open(const std::string& dir, const std::string& name, std::uint64_t capacity) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("audit spool: cannot create " + dir + ": " + ec.message());
  for (int i = 0; i < kMaxFiles; ++i) {
    const std::string path = dir + "/" + name + "-" + std::to_string(i) + ".spool";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) Fail("audit spool: cannot open " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a live process has this one
      ::close(fd);
      continue;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) Fail("audit spool: fstat " + path);
    std::uint64_t cap = capacity;
    if (static_cast<std::uint64_t>(st.st_size) > kHeaderBytes) {
      Header h{};
      if (::pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h) && std::memcmp(h.magic, kMagic, 8) == 0 &&
          h.version == kVersion && h.capacity > 0 && h.capacity + kHeaderBytes == static_cast<std::uint64_t>(st.st_size))
        cap = h.capacity;  // an existing spool keeps its size until it is drained and remade
    }
    if (::ftruncate(fd, static_cast<off_t>(kHeaderBytes + cap)) != 0) Fail("audit spool: cannot size " + path);
    void* map = ::mmap(nullptr, kHeaderBytes + cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) Fail("audit spool: cannot map " + path);
    std::unique_ptr<Spool> spool(new Spool(fd, path, static_cast<unsigned char*>(map), cap));
    spool->Recover();
    return spool;
  }
  throw std::runtime_error("audit spool: all " + std::to_string(kMaxFiles) + " spool files in " + dir +
                           " are held by live processes");
}

std::unique_ptr<Spool> Spool::InMemory(std::uint64_t capacity) {
  void* map = ::mmap(nullptr, kHeaderBytes + capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) Fail("audit spool: cannot map memory");
  std::unique_ptr<Spool> spool(new Spool(-1, "", static_cast<unsigned char*>(map), capacity));
  spool->Recover();
  return spool;
}

Spool::Spool(int fd, std::string path, unsigned char* map, std::uint64_t capacity)
    : fd_(fd), path_(std::move(path)), map_(map), capacity_(capacity) {}

Spool::~Spool() {
  Sync();
  ::munmap(map_, kHeaderBytes + capacity_);
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

Spool::Header& Spool::header() const {
  static_assert(sizeof(Header) <= kHeaderBytes);
  return *reinterpret_cast<Header*>(map_);
}

// A file's records are written with pwrite, not through the mapping: the pages land in the same
// page cache (the mapping reads them back), but the process's page tables never hold them
// writable, so no write fault dirties them one by one and no msync has to shoot down other
// cores' TLB entries to clean them (both were about 5 % of the gateway's CPU at full load). A
// kill -9 still loses nothing: what pwrite returned from is in the page cache.
bool Spool::Write(std::uint64_t offset, const void* data, std::size_t n) {
  const auto pos = offset % capacity_;
  const auto first = std::min<std::uint64_t>(n, capacity_ - pos);
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (fd_ < 0) {
    std::memcpy(map_ + kHeaderBytes + pos, bytes, first);
    if (first < n) std::memcpy(map_ + kHeaderBytes, bytes + first, n - first);
    return true;
  }
  return PWrite(kHeaderBytes + pos, bytes, first) && (first == n || PWrite(kHeaderBytes, bytes + first, n - first));
}

bool Spool::PWrite(std::uint64_t at, const unsigned char* data, std::size_t n) {
  while (n > 0) {
    const auto w = ::pwrite(fd_, data, n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;  // a full disk under a sparse file: the record is not appended
    data += w;
    at += static_cast<std::uint64_t>(w);
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

void Spool::Read(std::uint64_t offset, void* out, std::size_t n) const {
  const auto pos = offset % capacity_;
  const auto first = std::min<std::uint64_t>(n, capacity_ - pos);
  std::memcpy(out, map_ + kHeaderBytes + pos, first);
  if (first < n) std::memcpy(static_cast<unsigned char*>(out) + first, map_ + kHeaderBytes, n - first);
}

void Spool::Recover() {
  Header& h = header();
  const Header::Slot* best = nullptr;
  if (std::memcmp(h.magic, kMagic, 8) == 0 && h.version == kVersion && h.capacity == capacity_)
    for (const auto& s : h.slots)
      if (s.crc == s.Checksum() && (!best || s.generation > best->generation)) best = &s;
  // A new file starts empty. A damaged header (both slots torn) loses its place: the walk starts
  // at the ring's beginning, and what it finds is sent again rather than lost.
  if (!best) {
    std::memset(&h, 0, sizeof h);
    std::memcpy(h.magic, kMagic, 8);
    h.version = kVersion;
    h.capacity = capacity_;
    h.slots[0] = {1, 0, 1, 0, 0};
    h.slots[0].crc = h.slots[0].Checksum();
    best = &h.slots[0];
  }
  tail_ = head_ = best->tail;
  tail_seq_ = next_seq_ = best->tail_seq;
  // Every whole record with the next sequence number is still to be delivered.
  for (;;) {
    std::uint32_t len = 0, crc = 0;
    std::uint64_t seq = 0;
    if (head_ + kRecordHeader > tail_ + capacity_) break;
    Read(head_, &len, 4);
    Read(head_ + 4, &crc, 4);
    Read(head_ + 8, &seq, 8);
    if (len == 0 || seq != next_seq_ || head_ + kRecordHeader + len > tail_ + capacity_) break;
    std::string payload(len, '\0');
    Read(head_ + kRecordHeader, payload.data(), len);
    if (Crc32c(payload.data(), len, Crc32c(&seq, 8)) != crc) break;
    head_ += kRecordHeader + len;
    ++next_seq_;
    ++pending_;
  }
  recovered_ = pending_;
}

bool Spool::Append(std::string_view payload) {
  std::lock_guard lock(mu_);
  const std::uint64_t need = kRecordHeader + payload.size();
  if (payload.empty() || payload.size() > UINT32_MAX || head_ + need > tail_ + capacity_) return false;
  const auto len = static_cast<std::uint32_t>(payload.size());
  const std::uint64_t seq = next_seq_;
  const std::uint32_t crc = Crc32c(payload.data(), payload.size(), Crc32c(&seq, 8));
  // The payload first, the length last: a record is whole, or its length is not there yet
  // (0 in a fresh ring; a stale one fails the sequence or checksum test).
  // crc (4) and seq (8) follow the length; with the payload they go in one write when the
  // record does not wrap around the ring's end.
  const auto pos = head_ % capacity_;
  bool whole = false;
  if (fd_ >= 0 && pos + need <= capacity_) {
    iovec iov[3] = {{const_cast<std::uint32_t*>(&crc), 4}, {const_cast<std::uint64_t*>(&seq), 8},
                    {const_cast<char*>(payload.data()), payload.size()}};
    ssize_t w;
    do w = ::pwritev(fd_, iov, 3, static_cast<off_t>(kHeaderBytes + pos + 4));
    while (w < 0 && errno == EINTR);
    whole = w == static_cast<ssize_t>(12 + payload.size());
  }
  // Otherwise (a record across the ring's end, memory, or a short write) piece by piece.
  if (!whole && (!Write(head_ + kRecordHeader, payload.data(), payload.size()) || !Write(head_ + 8, &seq, 8) ||
                 !Write(head_ + 4, &crc, 4)))
    return false;
  // Neither the compiler nor the processor may move the length before the rest: a kill -9
  // can come between any two stores.
  std::atomic_thread_fence(std::memory_order_release);
  if (!Write(head_, &len, 4)) return false;
  head_ += need;
  ++next_seq_;
  ++pending_;
  return true;
}

std::vector<std::string> Spool::Peek(std::size_t max) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  std::uint64_t at = tail_;
  for (std::size_t i = 0; i < max && i < pending_; ++i) {
    std::uint32_t len = 0;
    Read(at, &len, 4);
    std::string payload(len, '\0');
    Read(at + kRecordHeader, payload.data(), len);
    out.push_back(std::move(payload));
    at += kRecordHeader + len;
  }
  return out;
}

void Spool::Ack(std::size_t n) {
  std::lock_guard lock(mu_);
  n = std::min(n, pending_);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t len = 0;
    Read(tail_, &len, 4);
    tail_ += kRecordHeader + len;
    ++tail_seq_;
  }
  pending_ -= n;
  Header& h = header();
  const auto& current = h.slots[0].generation > h.slots[1].generation ? h.slots[0] : h.slots[1];
  const std::uint64_t gen = current.generation + 1;
  auto& slot = h.slots[gen % 2];
  slot.generation = gen;
  slot.tail = tail_;
  slot.tail_seq = tail_seq_;
  std::atomic_thread_fence(std::memory_order_release);
  slot.crc = slot.Checksum();
}

void Spool::Sync() {
  if (fd_ < 0) return;
  ::msync(map_, kHeaderBytes + capacity_, MS_SYNC);
}

std::size_t Spool::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

std::uint64_t Spool::used_bytes() const {
  std::lock_guard lock(mu_);
  return head_ - tail_;
}

}  // namespace suite::audit
