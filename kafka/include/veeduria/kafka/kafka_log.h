#pragma once
// The log read from Kafka: events::LogReader over <prefix>events and <prefix>directory, so the
// projector runner (consumers::CatchUp) and the decider's catch-up read Kafka exactly as they
// read the embedded log. Offsets are Kafka offsets; there is no log-wide order (lsn 0, and
// ScanLog is refused: read partition by partition).

#include <memory>
#include <mutex>

#include "veeduria/events/log.h"
#include "veeduria/kafka/config.h"

namespace veeduria::kafka {

class KafkaLog : public events::LogReader {
 public:
  // Connects one consumer (no group; read_committed) and reads the partition counts.
  static Result<std::unique_ptr<KafkaLog>> Open(const KafkaConfig& config);
  ~KafkaLog() override;

  uint32_t partitions(std::string_view topic) const override;
  Status ScanLog(uint64_t from_lsn, const std::function<bool(const events::LogEntry&)>& fn) const override;
  // Reads to the partition's end as of the call. Thread-safe (one reader at a time).
  Status ScanPartition(std::string_view topic, uint32_t partition, uint64_t from_offset,
                       const std::function<bool(const events::LogEntry&)>& fn) const override;
  // Offset after the last message of a partition ("events" or "directory").
  Result<uint64_t> EndOffset(std::string_view topic, uint32_t partition) const;

 private:
  struct Impl;
  explicit KafkaLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace veeduria::kafka
