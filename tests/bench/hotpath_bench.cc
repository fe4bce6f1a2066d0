// The hot paths one at a time, on the commands of `veeduria gen --scale demo` (Cundinamarca,
// ~48k commands), so a change to one of them shows in its own figure:
//
//   build/tests/hotpath_bench --benchmark_min_time=1
//
// parse (JSON line → Command), decide + evolve in memory (the domain without storage), the
// FlatBuffers verifier, SHA-256 of the event bytes, canonical JSON rendering, and each
// projection's fold (into an in-memory overlay, as the store folds a batch).

#include <benchmark/benchmark.h>

#include <sstream>

#include "veeduria/events/command.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/render.h"
#include "veeduria/producers/generator.h"
#include "veeduria/projections/projection.h"
#include "veeduria/schema/veeduria_generated.h"

namespace {

using namespace veeduria;

struct Dataset {
  std::vector<std::string> lines;  // the command file
  std::vector<events::Command> commands;
  std::vector<events::SealedEvent> events;  // what deciding them in order gave
};

const Dataset& Data() {
  static const Dataset* d = [] {
    auto* d = new Dataset;
    producers::GeneratorOptions o;
    o.data_dir = std::string(VEEDURIA_SOURCE_DIR) + "/../shared/data";
    o.campaigns_file = std::string(VEEDURIA_SOURCE_DIR) + "/ops/campaigns/2023.jsonl";
    o.scale = "demo";
    std::ostringstream out;
    (void)producers::Generate(o, out);
    d->lines.push_back(
        R"({"command":"init","command_id":"init","actor":"admin@dnp.gov.co","clock":"simulated","admin":"admin@dnp.gov.co","at":"2023-01-02T08:00:00-05:00"})");
    const std::string text = out.str();
    for (const auto& line : events::SplitLines(text)) d->lines.emplace_back(line.text);
    events::MemoryState state;
    for (const std::string& line : d->lines) {
      d->commands.push_back(*events::ParseCommand(line, 0).command);
      events::Decision decision = events::Decide(state, d->commands.back(), 0);
      for (auto& e : decision.events) {
        events::Evolve(state, e);
        d->events.push_back(std::move(e));
      }
    }
    return d;
  }();
  return *d;
}

void BM_ParseCommand(benchmark::State& state) {
  const Dataset& d = Data();
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(events::ParseCommand(d.lines[i++ % d.lines.size()], 0));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseCommand);

// The whole demo file decided and evolved in order from an empty state (one iteration = all).
void BM_DecideAndEvolve(benchmark::State& state) {
  const Dataset& d = Data();
  for (auto _ : state) {
    events::MemoryState st;
    for (const events::Command& c : d.commands) {
      events::Decision decision = events::Decide(st, c, 0);
      for (const auto& e : decision.events) events::Evolve(st, e);
    }
  }
  state.SetItemsProcessed(state.iterations() * d.commands.size());
}
BENCHMARK(BM_DecideAndEvolve)->Unit(benchmark::kMillisecond);

void BM_VerifyEventBytes(benchmark::State& state) {
  const Dataset& d = Data();
  size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(events::VerifyEventBytes(d.events[i++ % d.events.size()].bytes));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyEventBytes);

void BM_Sha256(benchmark::State& state) {
  const Dataset& d = Data();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& b = d.events[i++ % d.events.size()].bytes;
    benchmark::DoNotOptimize(events::Sha256(b));
    bytes += b.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_Sha256);

void BM_RenderEventJson(benchmark::State& state) {
  const Dataset& d = Data();
  size_t i = 0;
  for (auto _ : state) {
    const events::SealedEvent& e = d.events[i++ % d.events.size()];
    benchmark::DoNotOptimize(events::RenderEventJson(e.bytes, e.hash));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderEventJson);

// One projection folding every event (one iteration = all), into an overlay that is encoded
// and cleared every 8,192 events as ProjectionStore::Apply does per batch.
void BM_ProjectionApply(benchmark::State& state) {
  const Dataset& d = Data();
  const projections::Projection* p = projections::AllProjections()[state.range(0)];
  state.SetLabel(std::string(p->name()));
  for (auto _ : state) {
    events::MemoryState base;
    events::OverlayState overlay(&base);
    size_t n = 0;
    for (const events::SealedEvent& e : d.events) {
      const schema::Event* ev = schema::GetEvent(e.bytes.data());
      events::LogPosition pos{"events", 0, n, n};
      p->Apply(projections::EventRef{ev, ev->envelope(), e.bytes, e.hash, pos}, overlay);
      if (++n % 8192 == 0) {
        for (const auto& [key, value] : overlay.writes().entries())
          value ? base.Put(key, *value) : base.Delete(key);
        overlay.Clear();
      }
    }
    benchmark::DoNotOptimize(overlay.writes());
  }
  state.SetItemsProcessed(state.iterations() * d.events.size());
}
BENCHMARK(BM_ProjectionApply)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
