#include "veeduria/consumers/projector.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace veeduria::consumers {
namespace {

// Reads one partition from `from` on a thread of its own, one batch ahead of the caller: the log
// is read (and its entries copied) while the previous batch is applied, instead of in turn.
class ReadAhead {
 public:
  ReadAhead(const events::LogReader& log, std::string_view topic, uint32_t partition, uint64_t from,
            size_t batch_size)
      : thread_([this, &log, topic, partition, from, batch_size] {
          std::vector<events::LogEntry> batch;
          Status s = log.ScanPartition(topic, partition, from, [&](const events::LogEntry& e) {
            batch.push_back(e);
            return batch.size() < batch_size || Hand(&batch);
          });
          if (s.ok() && !batch.empty()) Hand(&batch);
          std::lock_guard<std::mutex> l(mu_);
          scan_ = std::move(s);
          done_ = true;
          cv_.notify_all();
        }) {}
  ~ReadAhead() {
    Stop();
    thread_.join();
  }
  // The next batch; false at the end of the partition.
  bool Next(std::vector<events::LogEntry>* batch) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return ready_.has_value() || done_; });
    if (!ready_) return false;
    *batch = std::move(*ready_);
    ready_.reset();
    cv_.notify_all();
    return true;
  }
  // Ends the reading early (after the caller failed).
  void Stop() {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  // How the scan ended. REQUIRES: Next returned false.
  Status scan() {
    std::lock_guard<std::mutex> l(mu_);
    return scan_;
  }

 private:
  // Hands `batch` over once the previous one was taken; false when stopped.
  bool Hand(std::vector<events::LogEntry>* batch) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !ready_.has_value() || stop_; });
    if (stop_) return false;
    ready_ = std::move(*batch);
    batch->clear();
    cv_.notify_all();
    return true;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::vector<events::LogEntry>> ready_;  // GUARDED_BY(mu_)
  bool done_ = false;                                   // GUARDED_BY(mu_)
  bool stop_ = false;                                   // GUARDED_BY(mu_)
  Status scan_;                                         // GUARDED_BY(mu_)
  std::thread thread_;                                  // last: starts once the rest exists
};

}  // namespace

Result<CatchUpStats> CatchUp(const events::LogReader& log, events::ProjectionTarget& target,
                             size_t batch_size) {
  CatchUpStats stats;
  for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic}) {
    for (uint32_t p = 0; p < log.partitions(topic); ++p) {
      // The first batch on this thread: a partition that holds no more (the usual incremental
      // catch-up) needs no reader thread.
      std::vector<events::LogEntry> batch;
      VEEDURIA_RETURN_IF_ERROR(
          log.ScanPartition(topic, p, target.NextOffset(topic, p), [&](const events::LogEntry& e) {
            batch.push_back(e);
            return batch.size() < batch_size;
          }));
      if (batch.empty()) continue;
      std::optional<ReadAhead> ahead;
      if (batch.size() >= batch_size)
        ahead.emplace(log, topic, p, batch.back().position.offset + 1, batch_size);
      do {
        Status applied = target.Apply(batch);
        stats.events += batch.size();
        ++stats.batches;
        if (!applied.ok()) {
          if (ahead) ahead->Stop();
          return applied;
        }
      } while (ahead && ahead->Next(&batch));
      if (ahead) VEEDURIA_RETURN_IF_ERROR(ahead->scan());
    }
  }
  VEEDURIA_RETURN_IF_ERROR(target.Flush());
  return stats;
}

}  // namespace veeduria::consumers
