#pragma once
// The projector runner: brings a ProjectionTarget up to the end of the log, partition by
// partition, in batches; each batch and its new offset are written atomically by the target.

#include <cstddef>
#include <cstdint>

#include "veeduria/events/log.h"

namespace veeduria::consumers {

struct CatchUpStats {
  uint64_t events = 0;
  uint64_t batches = 0;
};

// REQUIRES: no other writer of `target` meanwhile.
Result<CatchUpStats> CatchUp(const events::LogReader& log, events::ProjectionTarget& target,
                             size_t batch_size = 8192);

}  // namespace veeduria::consumers
