#pragma once
// Metrics of the service, in small probe classes beside the components they observe (redpanda
// style): the components call a probe interface (nullable), the probes own the prometheus-cpp
// metrics. Every probe registers into one prometheus::Registry, served on GET /metrics in the
// text format (TextSerializer) by the service's own HTTP server. Names: docs in ops/README.md.
//
// Thread-safety: prometheus-cpp metrics are thread-safe; probes hold no other state.

#include <memory>
#include <string>
#include <vector>

#include "veeduria/events/decide.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace veeduria::service {

// The write path: commands decided and appended.
class LedgerProbe {
 public:
  explicit LedgerProbe(prometheus::Registry& registry);
  // One Append call: its decisions, and how long it took (decide + group commit).
  void OnAppend(const std::vector<events::Decision>& decisions, double seconds);
  // A line refused before the ledger (`invalid`).
  void OnInvalid(const std::string& reason);

 private:
  prometheus::Family<prometheus::Counter>& commands_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Histogram& append_seconds_;
};

// The projector: batches applied, lag, and catch-up ("rebuild") progress.
class ProjectorProbe {
 public:
  explicit ProjectorProbe(prometheus::Registry& registry);
  void OnApply(size_t events, double seconds);
  void SetLag(uint64_t events_behind);
  // During a catch-up: records done so far in it, its rate and what remains.
  void OnProgress(uint64_t done, double records_per_second, uint64_t remaining);
  void OnChainError();  // the projector met a gap or fork (a failed verification)

 private:
  prometheus::Histogram& apply_seconds_;
  prometheus::Counter& applied_;
  prometheus::Gauge& lag_;
  prometheus::Gauge& rebuild_done_;
  prometheus::Gauge& rebuild_rate_;
  prometheus::Gauge& rebuild_remaining_;
  prometheus::Counter& chain_errors_;
};

// The HTTP server: requests by route and status.
class HttpProbe {
 public:
  explicit HttpProbe(prometheus::Registry& registry);
  void OnRequest(const std::string& route, int status, double seconds);
  void SetInFlight(int n);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  prometheus::Gauge& in_flight_;
};

// Storage and integrity, sampled before each scrape: RocksDB size and pending compaction per
// database, the age of the latest signed checkpoint, the latest verification, and the reports
// missing after their deadline.
class StorageProbe {
 public:
  explicit StorageProbe(prometheus::Registry& registry);
  void SetDb(const std::string& db, uint64_t sst_bytes, uint64_t pending_compaction_bytes);
  void SetCheckpoint(bool present, double age_seconds);
  void OnVerification(bool ok, double seconds);
  // Entities of `campaign`/`milestone` whose deadline passed without a report.
  void SetMissingReports(const std::string& campaign, const std::string& milestone, size_t n);

 private:
  prometheus::Family<prometheus::Gauge>& db_bytes_;
  prometheus::Family<prometheus::Gauge>& pending_compaction_;
  prometheus::Gauge& checkpoint_age_;
  prometheus::Gauge& checkpoint_present_;
  prometheus::Family<prometheus::Counter>& verifications_;
  prometheus::Gauge& verification_ok_;
  prometheus::Family<prometheus::Gauge>& missing_;
};

// A Kafka node (serve --kafka … --http): which commands partitions its deciders own, how far
// its projectors are behind each partition, and its deciders' transactions (kafka/node.h).
class KafkaProbe {
 public:
  explicit KafkaProbe(prometheus::Registry& registry);
  void SetLag(const std::string& topic, uint32_t partition, uint64_t events_behind);
  // `assigned` among commands partitions 0..partitions-1.
  void SetAssigned(const std::vector<uint32_t>& assigned, uint32_t partitions);
  // The node's running totals (kafka::NodeStats); the counters advance by the difference.
  void SetTotals(uint64_t commands, uint64_t transactions, uint64_t aborted, uint64_t fenced);

 private:
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& assigned_;
  prometheus::Gauge& assigned_count_;
  prometheus::Family<prometheus::Counter>& decider_;
  uint64_t last_[4] = {0, 0, 0, 0};
};

}  // namespace veeduria::service
