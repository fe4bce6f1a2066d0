#pragma once
// `veeduria verify --kafka`: checks every stream in <prefix>directory and every partition of
// <prefix>events — each event readable, in the partition its stream belongs to, sequences 1, 2,
// 3… with no gap, each prev_hash the SHA-256 of the stream's previous event (the genesis value
// for the first) — and names the first bad event. Exact re-deliveries (the same sequence with the
// same hash again: an aborted transaction the mock shows, PLATFORM.md) are counted, not errors;
// a different event with an earlier sequence is a fork.
//
// There is no Merkle checkpoint to check: Kafka has no log-wide order (DESIGN §2.7 checkpoints
// are the embedded log's), so this proves each stream's integrity, not that the log only grew.
// Memory: 32 bytes per event (the hashes of each stream, to tell a re-delivery from a fork).

#include <atomic>
#include <cstdint>
#include <string>

#include "veeduria/events/status.h"
#include "veeduria/kafka/config.h"

namespace veeduria::kafka {

struct KafkaVerifyReport {
  bool ok = true;
  uint64_t events = 0;       // messages read (re-deliveries included)
  uint64_t redelivered = 0;  // exact copies of an event read before
  uint64_t streams = 0;
  // The first bad event, when !ok.
  std::string topic;  // "events" or "directory"
  uint32_t partition = 0;
  uint64_t offset = 0;
  std::string stream;  // empty when the bytes are unreadable
  uint64_t stream_seq = 0;
  std::string problem;
};

// `stop` (when given) is read at each message: once true, the walk ends with kUnavailable.
Result<KafkaVerifyReport> VerifyTopics(const KafkaConfig& config, const std::atomic<bool>* stop = nullptr);

}  // namespace veeduria::kafka
