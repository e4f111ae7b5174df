#pragma once
/// The publisher's queue, on disk: a ring of records in a memory-mapped file. Append() is a
/// memcpy into the mapping (no system call), so an event is in the kernel's page cache the
/// moment Publish() returns: a process killed with -9 loses nothing, and a restart finds every
/// record not yet acknowledged and sends it again, in order. Sync() (msync, every
/// `sync_interval` from the publisher) bounds what a machine crash can take to that interval.
///
/// File layout: a 4 KiB header (magic, capacity, the first unacknowledged record's offset and
/// sequence number), then `capacity` bytes of records. A record is
/// [u32 length][u32 CRC-32C of seq+payload][u64 seq][payload], and may wrap around the end.
/// Offsets are logical (they only grow); a record's place is offset % capacity. Recovery walks
/// from the acknowledged offset while records have the next sequence number and a valid
/// checksum: a record torn by a crash, or one left from an earlier lap, ends the walk.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace suite::audit {

class Spool {
 public:
  /// A spool file in `dir` (made if missing): the first of <name>-0.spool ... <name>-15.spool
  /// that no live process holds (flock), so replicas sharing a directory each get one, and a
  /// restarted one takes over a dead one's records. Throws std::runtime_error when none can
  /// be opened. An existing file keeps its own capacity.
  static std::unique_ptr<Spool> Open(const std::string& dir, const std::string& name, std::uint64_t capacity);
  /// The same ring in anonymous memory: no durability (tests, and processes told to run without).
  static std::unique_ptr<Spool> InMemory(std::uint64_t capacity);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  /// Thread-safe. False when the record does not fit in the free space (the ring is full).
  bool Append(std::string_view payload);
  /// Up to `max` unacknowledged records from the oldest, copied out (thread-safe; the caller
  /// acknowledges them with Ack in order).
  std::vector<std::string> Peek(std::size_t max) const;
  /// The `n` oldest records were delivered: their space is free again.
  void Ack(std::size_t n);
  /// Writes dirty pages to the file and waits (msync MS_SYNC). No-op in memory.
  void Sync();

  std::size_t pending() const;
  std::uint64_t used_bytes() const;
  std::uint64_t capacity() const { return capacity_; }
  bool durable() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  /// Records found unacknowledged when the file was opened (a previous process's).
  std::size_t recovered() const { return recovered_; }

 private:
  Spool(int fd, std::string path, unsigned char* map, std::uint64_t capacity);
  struct Header;
  Header& header() const;
  bool Write(std::uint64_t offset, const void* data, std::size_t n);
  bool PWrite(std::uint64_t at, const unsigned char* data, std::size_t n);
  void Read(std::uint64_t offset, void* out, std::size_t n) const;
  void Recover();

  int fd_ = -1;
  std::string path_;
  unsigned char* map_ = nullptr;  ///< header page, then the ring
  std::uint64_t capacity_ = 0;
  mutable std::mutex mu_;
  std::uint64_t head_ = 0, tail_ = 0;  ///< logical offsets: next write, oldest unacknowledged
  std::uint64_t next_seq_ = 1, tail_seq_ = 1;
  std::size_t pending_ = 0, recovered_ = 0;
};

/// CRC-32C (Castagnoli), as iSCSI and ext4 use it.
std::uint32_t Crc32c(const void* data, std::size_t n, std::uint32_t crc = 0);

}  // namespace suite::audit
