// The cost of integrity (issue 6): checkpoint time, proof generation from the ledger's stored
// tree, proof verification, and `verify` throughput over a whole log with checkpoints.
//
//   build/tests/merkle_bench --benchmark_min_time=1
//
// Dataset: `veeduria gen --scale demo` appended with the periodic policy (a checkpoint every
// 5,000 events), ~48k events; signatures are real Ed25519 (producers/keys.h).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>

#include "demo_ledger.h"
#include "veeduria/consumers/verify.h"
#include "veeduria/events/command.h"
#include "veeduria/events/merkle.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/producers/generator.h"
#include "veeduria/producers/keys.h"

namespace {

namespace fs = std::filesystem;
namespace merkle = veeduria::events::merkle;
using namespace veeduria;

struct Dataset {
  fs::path dir;
  std::unique_ptr<producers::EmbeddedLedger> ledger;
  producers::SigningKey key;
  uint64_t events = 0;
};

Dataset& Data() {
  static Dataset* d = [] {
    auto* d = new Dataset;
    d->dir = fs::temp_directory_path() / ("veeduria-merklebench-" + std::to_string(getpid()));
    fs::remove_all(d->dir);
    fs::create_directories(d->dir);
    const std::string key_path = (d->dir / "signing.key").string();
    (void)producers::CreateSigningKey(key_path);
    d->key = std::move(producers::LoadSigningKey(key_path)).value();
    d->ledger = std::move(producers::EmbeddedLedger::Open(d->dir.string())).value();
    d->ledger->SetCheckpointPolicy(5000, 0, d->key.signer, d->key.key_id);
    bench::AppendDemo(*d->ledger, 1024);
    d->ledger->SetCheckpointPolicy(0, 0, nullptr, "");
    d->events = d->ledger->end_lsn();
    std::atexit([] {  // the dataset outlives every benchmark; its directory does not outlive the run
      Dataset& d = Data();
      d.ledger.reset();
      fs::remove_all(d.dir);
    });
    return d;
  }();
  return *d;
}

// `veeduria verify` minus the CLI: chains, lsns, every checkpoint's root recomputed from the
// bytes and its Ed25519 signature checked.
void BM_VerifyLog(benchmark::State& state) {
  Dataset& d = Data();
  consumers::VerifyOptions o;
  const std::string pem = d.key.public_key_pem;
  o.verify_signature = [&](std::string_view msg, std::string_view sig, const std::string&) {
    return producers::VerifySignature(pem, msg, sig);
  };
  uint64_t events = 0, checkpoints = 0;
  for (auto _ : state) {
    auto r = consumers::VerifyLog(*d.ledger, o);
    if (!r.ok() || !r->ok) state.SkipWithError(r.ok() ? r->problem.c_str() : "verify failed");
    events += r->events;
    checkpoints = r->checkpoints;
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["checkpoints"] = static_cast<double>(checkpoints);
}
BENCHMARK(BM_VerifyLog)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same without signature checks (roots recomputed, signatures reported unchecked).
void BM_VerifyLogWithoutKey(benchmark::State& state) {
  Dataset& d = Data();
  uint64_t events = 0;
  for (auto _ : state) {
    auto r = consumers::VerifyLog(*d.ledger);
    if (!r.ok() || !r->ok) state.SkipWithError("verify failed");
    events += r->events;
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VerifyLogWithoutKey)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same walk without checkpoints or Merkle (the chains-only cost, for comparison).
void BM_ScanAndHashLog(benchmark::State& state) {
  Dataset& d = Data();
  uint64_t events = 0;
  for (auto _ : state) {
    (void)d.ledger->ScanLog(0, [&](const events::LogEntry& e) {
      benchmark::DoNotOptimize(events::Sha256(e.bytes));
      ++events;
      return true;
    });
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScanAndHashLog)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RootAt(benchmark::State& state) {
  Dataset& d = Data();
  std::mt19937_64 rng(1);
  for (auto _ : state) benchmark::DoNotOptimize(d.ledger->RootAt(1 + rng() % d.events));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RootAt)->Unit(benchmark::kMicrosecond);

void BM_InclusionProof(benchmark::State& state) {
  Dataset& d = Data();
  std::mt19937_64 rng(2);
  for (auto _ : state) benchmark::DoNotOptimize(d.ledger->InclusionProof(rng() % d.events, d.events));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InclusionProof)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProof(benchmark::State& state) {
  Dataset& d = Data();
  std::mt19937_64 rng(3);
  for (auto _ : state) benchmark::DoNotOptimize(d.ledger->ConsistencyProof(1 + rng() % d.events, d.events));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConsistencyProof)->Unit(benchmark::kMicrosecond);

void BM_VerifyInclusion(benchmark::State& state) {
  Dataset& d = Data();
  const uint64_t n = d.events;
  const events::Hash root = *d.ledger->RootAt(n);
  std::vector<std::pair<uint64_t, std::vector<events::Hash>>> proofs;
  std::vector<events::Hash> leaves;
  std::mt19937_64 rng(4);
  for (int i = 0; i < 256; ++i) {
    const uint64_t lsn = rng() % n;
    proofs.emplace_back(lsn, *d.ledger->InclusionProof(lsn, n));
    std::string bytes;
    (void)d.ledger->ScanLog(lsn, [&](const events::LogEntry& e) {
      bytes = e.bytes;
      return false;
    });
    leaves.push_back(merkle::LeafHash(bytes));
  }
  size_t i = 0;
  for (auto _ : state) {
    const auto& [lsn, proof] = proofs[i % proofs.size()];
    if (!merkle::VerifyInclusion(leaves[i % proofs.size()], lsn, n, proof, root))
      state.SkipWithError("bad proof");
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyInclusion)->Unit(benchmark::kMicrosecond);

void BM_VerifyConsistency(benchmark::State& state) {
  Dataset& d = Data();
  const uint64_t n = d.events;
  const events::Hash root = *d.ledger->RootAt(n);
  struct P {
    uint64_t m;
    events::Hash old_root;
    std::vector<events::Hash> proof;
  };
  std::vector<P> proofs;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 256; ++i) {
    const uint64_t m = 1 + rng() % n;
    proofs.push_back({m, *d.ledger->RootAt(m), *d.ledger->ConsistencyProof(m, n)});
  }
  size_t i = 0;
  for (auto _ : state) {
    const P& p = proofs[i++ % proofs.size()];
    if (!merkle::VerifyConsistency(p.m, n, p.old_root, root, p.proof)) state.SkipWithError("bad proof");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyConsistency)->Unit(benchmark::kMicrosecond);

// One on-demand checkpoint: root from the stored edge, Ed25519 signature, one synced write.
void BM_AppendCheckpoint(benchmark::State& state) {
  Dataset& d = Data();
  for (auto _ : state) {
    auto cp = d.ledger->AppendCheckpoint(d.key.signer, d.key.key_id);
    if (!cp.ok()) state.SkipWithError(cp.status().ToString().c_str());
  }
  state.counters["tree_size"] = static_cast<double>(d.ledger->end_lsn());
}
// Last, and a fixed count: each iteration adds an event to the log the other benchmarks read.
BENCHMARK(BM_AppendCheckpoint)->Unit(benchmark::kMicrosecond)->UseRealTime()->Iterations(200);

}  // namespace

BENCHMARK_MAIN();
