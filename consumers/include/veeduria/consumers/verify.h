#pragma once
// Walks the whole log and checks, per stream, that sequences have no gap or repeat, that
// each event's stored hash is SHA-256 of its bytes, and that each prev_hash is the hash of
// the stream's previous event (the genesis hash for the first).

#include <cstdint>
#include <string>

#include "veeduria/events/log.h"

namespace veeduria::consumers {

struct VerifyReport {
  uint64_t events = 0;
  uint64_t streams = 0;
  bool ok = true;
  // The first broken event, when !ok.
  events::LogPosition position;
  std::string stream;
  uint64_t stream_seq = 0;
  std::string problem;
};

Result<VerifyReport> VerifyLog(const events::LogReader& log);

}  // namespace veeduria::consumers
