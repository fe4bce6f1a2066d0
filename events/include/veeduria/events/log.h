#pragma once
// The log as the rest of the system reads it: one interface, two backends (the embedded
// RocksDB log; Kafka). Topics are "events" (entity streams, partitioned by DANE code with
// Kafka's murmur2 partitioner) and "directory" (one partition). `lsn` is the embedded log's
// total order of appends; on Kafka there is none and it is 0.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/sha256.h"
#include "veeduria/events/status.h"

namespace veeduria::events {

inline constexpr std::string_view kEventsTopic = "events";
inline constexpr std::string_view kDirectoryTopic = "directory";

struct LogPosition {
  std::string topic;
  uint32_t partition = 0;
  uint64_t offset = 0;
  uint64_t lsn = 0;
};

struct LogEntry {
  LogPosition position;
  Hash hash{};
  std::string bytes;  // the event's canonical bytes
};

// REQUIRES for every method: the returned or passed entries are valid only during the call.
class LogReader {
 public:
  virtual ~LogReader() = default;
  virtual uint32_t partitions(std::string_view topic) const = 0;
  // Entries in append order from `from_lsn`; `fn` returns false to stop.
  virtual Status ScanLog(uint64_t from_lsn, const std::function<bool(const LogEntry&)>& fn) const = 0;
  // Entries of one partition from `from_offset`, in offset order.
  virtual Status ScanPartition(std::string_view topic, uint32_t partition, uint64_t from_offset,
                               const std::function<bool(const LogEntry&)>& fn) const = 0;
};

// Kafka's murmur2 (as in the Java client), so that both backends and Java clients agree.
uint32_t Murmur2(std::string_view key);
// The topic and partition of a stream: "directory" → (directory, 0); an entity code →
// (events, murmur2(code) & 0x7fffffff % partitions).
LogPosition PartitionOf(std::string_view stream, uint32_t partitions);

}  // namespace veeduria::events

namespace veeduria::events {

// What a projector applies the log to: it remembers, durably and with the rows, the next offset
// of every topic partition it has applied, so a crash at any point loses nothing and applies
// nothing twice (the runner resumes from NextOffset).
class ProjectionTarget {
 public:
  virtual ~ProjectionTarget() = default;
  virtual uint64_t NextOffset(std::string_view topic, uint32_t partition) const = 0;
  // Applies consecutive entries of one partition, starting at NextOffset, and stores the new
  // offset in the same atomic write. REQUIRES: !entries.empty().
  virtual Status Apply(const std::vector<LogEntry>& entries) = 0;
  // Makes durable what Apply may have held back (a target that writes in sorted runs); the
  // runner calls it once it has reached the end of the log.
  virtual Status Flush() { return Status::Ok(); }
};

}  // namespace veeduria::events
