// MDM recompute throughput on a national-sized dataset: 1,101 municipalities × 4 vigencias
// (2017–2020) of mdm-2020 inputs, generated with a fixed seed. Two measures, in municipalities/s:
//   - BM_RecomputePure: events::mdm::Recompute on the inputs in memory (levels, positions,
//     group positions, SHA-256 digest of each municipality's canonical inputs);
//   - BM_RecomputeFromRows: projections::MdmRecompute over a view of the mdm projection's
//     v/<vigencia>/<entity> rows (what `veeduria mdm` does: scan and decode the rows, then the
//     same recompute).
//
//   build/tests/mdm_bench --benchmark_min_time=2

#include <benchmark/benchmark.h>

#include <random>

#include "veeduria/events/mdm.h"
#include "veeduria/events/state.h"
#include "veeduria/projections/mdm.h"
#include "veeduria/projections/rows.h"
#include "veeduria/projections/view.h"

namespace {

using namespace veeduria;
namespace mdm = events::mdm;
using nlohmann::json;

constexpr int kMunicipalities = 1101;
const int kVigencias[] = {2017, 2018, 2019, 2020};

std::vector<mdm::Inputs> Generate(int vigencia) {
  std::mt19937_64 rng(vigencia);
  std::uniform_real_distribution<double> score(0, 100), ajuste(0.966, 1.067);
  static const char* kGroups[] = {"C", "G1", "G2", "G3", "G4", "G5", ""};
  std::vector<mdm::Inputs> out;
  const mdm::Methodology& m = *mdm::FindMethodology("mdm-2020");
  for (int i = 0; i < kMunicipalities; ++i) {
    char code[8];
    std::snprintf(code, sizeof code, "%05d", 5001 + i * 7);
    mdm::Inputs in{code, vigencia, m.name, kGroups[i % 7], {}};
    for (const auto& spec : m.inputs)
      in.values[spec.name] = spec.name == "ajuste_por_resultados" ? ajuste(rng) : score(rng);
    out.push_back(std::move(in));
  }
  return out;
}

void BM_RecomputePure(benchmark::State& state) {
  std::vector<std::vector<mdm::Inputs>> data;
  for (int v : kVigencias) data.push_back(Generate(v));
  for (auto _ : state) {
    for (const auto& vig : data) {
      auto scores = mdm::Recompute(vig, {});
      benchmark::DoNotOptimize(scores);
    }
  }
  state.counters["municipalities/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kMunicipalities * 4, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RecomputePure)->Unit(benchmark::kMillisecond);

// A view over in-memory mdm rows laid out as projections/src/mdm.cc writes them.
class RowsView : public projections::View {
 public:
  projections::MemoryRows mdm_rows, empty;
  const projections::Rows& rows(std::string_view p) const override { return p == "mdm" ? mdm_rows : empty; }
  events::Micros now() const override { return 0; }
  bool as_of() const override { return false; }
};

void BM_RecomputeFromRows(benchmark::State& state) {
  RowsView view;
  for (int v : kVigencias)
    for (const auto& in : Generate(v)) {
      json row = {{"entity", in.entity}, {"vigencia", v},     {"methodology", in.methodology},
                  {"group", in.group},   {"source", "bench"}, {"inputs", in.values},
                  {"event_id", "x"},     {"recorded_at", 0},  {"corrections", json::array()}};
      events::WriteRecord(view.mdm_rows.state(), "v/" + std::to_string(v) + "/" + in.entity, row);
    }
  for (auto _ : state) {
    for (int v : kVigencias) {
      auto scores = projections::MdmRecompute(view, v);
      if (!scores.ok() || scores->size() != kMunicipalities) state.SkipWithError("recompute failed");
      benchmark::DoNotOptimize(scores);
    }
  }
  state.counters["municipalities/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kMunicipalities * 4, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RecomputeFromRows)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
