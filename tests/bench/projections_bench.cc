// Rebuild throughput of the six projections and the latency of as-of and audit queries, beside
// the baselines of the same run: raw RocksDB WriteBatch puts of one 200-byte value per event
// (WAL off; the storage limit) and a scan-and-decode of the log (the read limit).
//
//   build/tests/projections_bench --benchmark_min_time=2
//
// Dataset: `veeduria gen --scale demo --seed 2023` (Cundinamarca's 117 entities, ~48k events).

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>

#include "demo_ledger.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/events/command.h"
#include "veeduria/events/render.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/producers/generator.h"
#include "veeduria/projections/query.h"
#include "veeduria/projections/store.h"
#include "veeduria/schema/veeduria_generated.h"

namespace {

namespace fs = std::filesystem;
using namespace veeduria;

struct Dataset {
  fs::path dir;
  std::unique_ptr<producers::EmbeddedLedger> ledger;
  std::unique_ptr<projections::ProjectionStore> store;
  uint64_t events = 0;
  std::vector<std::string> entities;
};

Dataset& Data() {
  static Dataset* d = [] {
    auto* d = new Dataset;
    d->dir = fs::temp_directory_path() / ("veeduria-projbench-" + std::to_string(getpid()));
    fs::remove_all(d->dir);
    d->ledger = std::move(producers::EmbeddedLedger::Open(d->dir.string())).value();
    bench::AppendDemo(*d->ledger, 4096);
    d->events = d->ledger->end_lsn();
    d->store = std::move(projections::ProjectionStore::Open(d->dir.string())).value();
    (void)consumers::CatchUp(*d->ledger, *d->store);
    for (int i = 1; i <= 999; i += 2) {
      char code[8];
      std::snprintf(code, sizeof code, "25%03d", i);
      bool any = false;
      d->store->rows("audit").Scan("i/" + std::string(code) + "/", [&](std::string_view, std::string_view) {
        any = true;
        return false;
      });
      if (any) d->entities.push_back(code);
    }
    std::atexit([] {  // the dataset outlives every benchmark; its directory does not outlive the run
      Dataset& d = Data();
      d.store.reset();
      d.ledger.reset();
      fs::remove_all(d.dir);
    });
    return d;
  }();
  return *d;
}

void Percentiles(benchmark::State& state, std::vector<double>& ms) {
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
}

void BM_RebuildAllProjections(benchmark::State& state) {
  Dataset& d = Data();
  uint64_t events = 0;
  for (auto _ : state) {
    (void)d.store->Reset("");
    (void)d.store->SetBulkEvents(projections::kRebuildBulkEvents);  // as `veeduria rebuild`
    auto r = consumers::CatchUp(*d.ledger, *d.store);
    events += r->events;
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RebuildAllProjections)->Unit(benchmark::kMillisecond)->UseRealTime();

// The read limit: scan every partition and verify and read each event's envelope.
void BM_ScanAndDecodeLog(benchmark::State& state) {
  Dataset& d = Data();
  uint64_t events = 0, seq_sum = 0;
  for (auto _ : state) {
    for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic})
      for (uint32_t p = 0; p < d.ledger->partitions(topic); ++p)
        (void)d.ledger->ScanPartition(topic, p, 0, [&](const events::LogEntry& e) {
          if (events::VerifyEventBytes(e.bytes))
            seq_sum += schema::GetEvent(e.bytes.data())->envelope()->stream_seq();
          ++events;
          return true;
        });
  }
  benchmark::DoNotOptimize(seq_sum);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScanAndDecodeLog)->Unit(benchmark::kMillisecond)->UseRealTime();

// The storage limit: one 200-byte put per event, WriteBatch of 1,000, WAL off.
void BM_RawRocksDbPuts(benchmark::State& state) {
  Dataset& d = Data();
  const fs::path dir = d.dir / "raw";
  fs::remove_all(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db;
  rocksdb::DB::Open(o, dir.string(), &db);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  const std::string value(200, 'v');
  uint64_t n = 0;
  for (auto _ : state) {
    for (uint64_t i = 0; i < d.events; i += 1000) {
      rocksdb::WriteBatch b;
      for (uint64_t j = i; j < std::min(d.events, i + 1000); ++j) {
        char key[24];
        std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(n++));
        b.Put(key, value);
      }
      db->Write(wo, &b);
    }
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
  delete db;
  fs::remove_all(dir);
}
BENCHMARK(BM_RawRocksDbPuts)->Unit(benchmark::kMillisecond)->UseRealTime();

// As-of reconstruction of one entity at a random time of 2023, answered with its progress.
void BM_AsOfEntity(benchmark::State& state) {
  Dataset& d = Data();
  std::mt19937 rng(1);
  std::vector<double> ms;
  for (auto _ : state) {
    const std::string& e = d.entities[rng() % d.entities.size()];
    const events::Micros t = *events::ParseInstant("2023-01-15") +
                             static_cast<events::Micros>(rng() % 360) * events::kMicrosPerDay;
    const auto start = std::chrono::steady_clock::now();
    auto view = projections::AsOfView(*d.store, projections::AsOfKeysForEntity(*d.store, e, false), t);
    auto table = projections::ProgressQuery(**view, {.entity = e});
    benchmark::DoNotOptimize(table);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  Percentiles(state, ms);
}
BENCHMARK(BM_AsOfEntity)->Unit(benchmark::kMillisecond);

// The audit trail of one goal of one entity.
void BM_AuditOneObject(benchmark::State& state) {
  Dataset& d = Data();
  std::mt19937 rng(2);
  std::vector<double> ms;
  auto view = projections::LiveView(*d.store, 0);
  for (auto _ : state) {
    const std::string& e = d.entities[rng() % d.entities.size()];
    const auto start = std::chrono::steady_clock::now();
    auto table =
        projections::AuditQuery(*view, {.entity = e, .object = "IP-" + std::to_string(1 + rng() % 30)});
    benchmark::DoNotOptimize(table);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  Percentiles(state, ms);
}
BENCHMARK(BM_AuditOneObject)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
