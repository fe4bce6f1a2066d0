#include "veeduria/consumers/projector.h"

#include <vector>

namespace veeduria::consumers {

Result<CatchUpStats> CatchUp(const events::LogReader& log, events::ProjectionTarget& target,
                             size_t batch_size) {
  CatchUpStats stats;
  for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic}) {
    for (uint32_t p = 0; p < log.partitions(topic); ++p) {
      std::vector<events::LogEntry> batch;
      Status applied;
      auto flush = [&]() {
        if (batch.empty() || !applied.ok()) return;
        applied = target.Apply(batch);
        stats.events += batch.size();
        ++stats.batches;
        batch.clear();
      };
      Status scan = log.ScanPartition(topic, p, target.NextOffset(topic, p), [&](const events::LogEntry& e) {
        batch.push_back(e);
        if (batch.size() >= batch_size) flush();
        return applied.ok();
      });
      flush();
      VEEDURIA_RETURN_IF_ERROR(scan);
      VEEDURIA_RETURN_IF_ERROR(applied);
    }
  }
  VEEDURIA_RETURN_IF_ERROR(target.Flush());
  return stats;
}

}  // namespace veeduria::consumers
