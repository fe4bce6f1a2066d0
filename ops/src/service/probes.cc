#include "probes.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>

namespace veeduria::service {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// 50 µs … ~3 s, doubling: append (group commit with fsync) and apply batches.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double v = 50e-6; v < 4; v *= 2) b.push_back(v);
  return b;
}

}  // namespace

LedgerProbe::LedgerProbe(prometheus::Registry& r)
    : commands_(
          BuildCounter()
              .Name("veeduria_commands_total")
              .Help("Commands decided, by outcome (accepted, rejected, duplicate, invalid) and reason code")
              .Register(r)),
      events_(BuildCounter()
                  .Name("veeduria_events_appended_total")
                  .Help("Events appended to the log, by event type")
                  .Register(r)),
      append_seconds_(BuildHistogram()
                          .Name("veeduria_append_seconds")
                          .Help("Latency of one append (decide and group commit with fsync)")
                          .Register(r)
                          .Add({}, LatencyBuckets())) {}

void LedgerProbe::OnAppend(const std::vector<events::Decision>& decisions, double seconds) {
  append_seconds_.Observe(seconds);
  for (const auto& d : decisions) {
    commands_.Add({{"outcome", events::OutcomeName(d.outcome)}, {"reason", d.reason}}).Increment();
    for (const auto& e : d.events) events_.Add({{"type", e.type}}).Increment();
  }
}

void LedgerProbe::OnInvalid(const std::string& reason) {
  commands_.Add({{"outcome", "invalid"}, {"reason", reason}}).Increment();
}

ProjectorProbe::ProjectorProbe(prometheus::Registry& r)
    : apply_seconds_(BuildHistogram()
                         .Name("veeduria_apply_seconds")
                         .Help("Latency of applying one batch of events to the projections (one WriteBatch)")
                         .Register(r)
                         .Add({}, LatencyBuckets())),
      applied_(BuildCounter()
                   .Name("veeduria_projector_events_applied_total")
                   .Help("Events applied to the projections by this process")
                   .Register(r)
                   .Add({})),
      lag_(BuildGauge()
               .Name("veeduria_projector_lag_events")
               .Help("Events in the log not yet applied to the projections")
               .Register(r)
               .Add({})),
      rebuild_done_(BuildGauge()
                        .Name("veeduria_rebuild_records_done")
                        .Help("Records applied so far by the current (or last) catch-up")
                        .Register(r)
                        .Add({})),
      rebuild_rate_(BuildGauge()
                        .Name("veeduria_rebuild_records_per_second")
                        .Help("Rate of the current (or last) catch-up")
                        .Register(r)
                        .Add({})),
      rebuild_remaining_(BuildGauge()
                             .Name("veeduria_rebuild_records_remaining")
                             .Help("Records the current catch-up still has to apply")
                             .Register(r)
                             .Add({})),
      chain_errors_(BuildCounter()
                        .Name("veeduria_projector_chain_errors_total")
                        .Help("Catch-ups stopped by a gap or fork in a stream's sequence or hash chain")
                        .Register(r)
                        .Add({})) {}

void ProjectorProbe::OnApply(size_t events, double seconds) {
  apply_seconds_.Observe(seconds);
  applied_.Increment(static_cast<double>(events));
}
void ProjectorProbe::SetLag(uint64_t n) { lag_.Set(static_cast<double>(n)); }
void ProjectorProbe::OnProgress(uint64_t done, double rate, uint64_t remaining) {
  rebuild_done_.Set(static_cast<double>(done));
  rebuild_rate_.Set(rate);
  rebuild_remaining_.Set(static_cast<double>(remaining));
}
void ProjectorProbe::OnChainError() { chain_errors_.Increment(); }

HttpProbe::HttpProbe(prometheus::Registry& r)
    : requests_(BuildCounter()
                    .Name("veeduria_http_requests_total")
                    .Help("HTTP requests served, by route and status code")
                    .Register(r)),
      seconds_(BuildHistogram()
                   .Name("veeduria_http_request_seconds")
                   .Help("HTTP request latency, by route")
                   .Register(r)),
      in_flight_(BuildGauge()
                     .Name("veeduria_http_requests_in_flight")
                     .Help("HTTP requests being served")
                     .Register(r)
                     .Add({})) {}

void HttpProbe::OnRequest(const std::string& route, int status, double seconds) {
  requests_.Add({{"route", route}, {"status", std::to_string(status)}}).Increment();
  seconds_.Add({{"route", route}}, LatencyBuckets()).Observe(seconds);
}
void HttpProbe::SetInFlight(int n) { in_flight_.Set(n); }

StorageProbe::StorageProbe(prometheus::Registry& r)
    : db_bytes_(BuildGauge()
                    .Name("veeduria_rocksdb_sst_bytes")
                    .Help("Size of the live SST files of each RocksDB database (log, projections)")
                    .Register(r)),
      pending_compaction_(BuildGauge()
                              .Name("veeduria_rocksdb_pending_compaction_bytes")
                              .Help("RocksDB's estimate of the bytes compaction still has to rewrite")
                              .Register(r)),
      checkpoint_age_(BuildGauge()
                          .Name("veeduria_checkpoint_age_seconds")
                          .Help("Seconds since the latest signed checkpoint (0 when there is none)")
                          .Register(r)
                          .Add({})),
      checkpoint_present_(BuildGauge()
                              .Name("veeduria_checkpoint_present")
                              .Help("1 when the ledger has a signed checkpoint")
                              .Register(r)
                              .Add({})),
      verifications_(BuildCounter()
                         .Name("veeduria_verifications_total")
                         .Help("Verifications of the whole log (every chain and checkpoint), by result")
                         .Register(r)),
      verification_ok_(BuildGauge()
                           .Name("veeduria_verification_ok")
                           .Help("1 when the latest verification of the log passed, 0 when it failed")
                           .Register(r)
                           .Add({})),
      missing_(BuildGauge()
                   .Name("veeduria_reports_missing_after_deadline")
                   .Help("Entities whose milestone deadline passed without a report")
                   .Register(r)) {}

void StorageProbe::SetDb(const std::string& db, uint64_t sst, uint64_t pending) {
  db_bytes_.Add({{"db", db}}).Set(static_cast<double>(sst));
  pending_compaction_.Add({{"db", db}}).Set(static_cast<double>(pending));
}
void StorageProbe::SetCheckpoint(bool present, double age) {
  checkpoint_present_.Set(present ? 1 : 0);
  checkpoint_age_.Set(present ? age : 0);
}
void StorageProbe::OnVerification(bool ok, double) {
  verifications_.Add({{"result", ok ? "ok" : "failed"}}).Increment();
  verification_ok_.Set(ok ? 1 : 0);
}
void StorageProbe::SetMissingReports(const std::string& c, const std::string& m, size_t n) {
  missing_.Add({{"campaign", c}, {"milestone", m}}).Set(static_cast<double>(n));
}

KafkaProbe::KafkaProbe(prometheus::Registry& r)
    : lag_(BuildGauge()
               .Name("veeduria_kafka_lag_events")
               .Help("Events in a partition of the events or directory topic not yet projected by this node")
               .Register(r)),
      assigned_(BuildGauge()
                    .Name("veeduria_kafka_partition_assigned")
                    .Help("1 when this node's decider owns the commands partition, else 0")
                    .Register(r)),
      assigned_count_(BuildGauge()
                          .Name("veeduria_kafka_assigned_partitions")
                          .Help("Commands partitions this node's deciders own")
                          .Register(r)
                          .Add({})),
      decider_(
          BuildCounter()
              .Name("veeduria_kafka_decider_total")
              .Help("This node's deciders: commands decided, transactions committed, aborted and retried, "
                    "producers re-initialized after being fenced (what)")
              .Register(r)) {}

void KafkaProbe::SetLag(const std::string& topic, uint32_t partition, uint64_t behind) {
  lag_.Add({{"topic", topic}, {"partition", std::to_string(partition)}}).Set(static_cast<double>(behind));
}

void KafkaProbe::SetAssigned(const std::vector<uint32_t>& assigned, uint32_t partitions) {
  for (uint32_t p = 0; p < partitions; ++p) {
    const bool mine = std::find(assigned.begin(), assigned.end(), p) != assigned.end();
    assigned_.Add({{"partition", std::to_string(p)}}).Set(mine ? 1 : 0);
  }
  assigned_count_.Set(static_cast<double>(assigned.size()));
}

void KafkaProbe::SetTotals(uint64_t commands, uint64_t transactions, uint64_t aborted, uint64_t fenced) {
  const uint64_t now[4] = {commands, transactions, aborted, fenced};
  const char* what[4] = {"commands", "transactions", "aborted", "fenced"};
  for (int i = 0; i < 4; ++i) {
    auto& c = decider_.Add({{"what", what[i]}});
    if (now[i] > last_[i]) c.Increment(static_cast<double>(now[i] - last_[i]));
    last_[i] = std::max(last_[i], now[i]);
  }
}

}  // namespace veeduria::service
