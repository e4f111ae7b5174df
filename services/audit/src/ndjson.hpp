#pragma once
/// Seed 000's NDJSON request log, written from PostgreSQL's durable position
/// (migrations/005_ndjson_outbox.sql): the lines of the records in this writer's outbox are
/// appended in record order, the file is fdatasynced, and only then are its new length recorded
/// and the outbox rows deleted, in one transaction. Every append starts by cutting the file
/// back to the recorded length, so a failed or interrupted append (a full disk, a kill -9
/// between the write and the commit) leaves neither a torn line nor a duplicate: the next
/// Flush() writes those lines again, whole. Blocking: call from a worker thread, one at a time.
///
/// Rotation: before an append, a file that has reached `max_bytes` (0: no limit), or whose last
/// line was written on an earlier UTC day, is renamed to `<stem>-YYYYMMDD-HHMMSS-micros<ext>`
/// (the moment of the rotation, UTC: the names sort in writing order) and a new, empty file
/// takes its name; its recorded length becomes 0 in a transaction of its own. The renamed file
/// holds exactly the committed lines.
#include <atomic>
#include <cstdint>
#include <string>

#include "suite/db/pool.hpp"

namespace audit {

class NdjsonWriter {
 public:
  /// Opens (creates) `path`; throws std::runtime_error when it cannot.
  struct Rotation {
    std::int64_t max_bytes = 0;  ///< 0: never by size
    bool daily = true;
  };
  NdjsonWriter(suite::db::Pool& pool, std::string path, std::string writer, Rotation rotation);
  NdjsonWriter(suite::db::Pool& pool, std::string path, std::string writer)
      : NdjsonWriter(pool, std::move(path), std::move(writer), Rotation{}) {}
  ~NdjsonWriter();
  NdjsonWriter(const NdjsonWriter&) = delete;
  NdjsonWriter& operator=(const NdjsonWriter&) = delete;

  /// Appends everything in the outbox (in batches); returns the lines written. Throws when a
  /// write, the sync or the commit fails: the file is as it was, the outbox too, and the next
  /// call tries again.
  std::size_t Flush();
  /// Lines waiting in the outbox after the last Flush (0: the file has every record).
  std::size_t behind() const { return behind_; }
  /// Files rotated away by this writer.
  std::size_t rotations() const { return rotations_; }

 private:
  std::size_t FlushBatch(bool& more);
  /// Rotates the file when it is due (see above).
  void MaybeRotate();
  suite::db::Pool& pool_;
  std::string path_, writer_;
  Rotation rotation_;
  int fd_ = -1;
  std::atomic<std::size_t> behind_{0}, rotations_{0};  // read by the metrics thread
};

}  // namespace audit
