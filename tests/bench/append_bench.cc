// Append throughput of the embedded ledger (parse + decide + evolve + group commit with fsync),
// beside raw RocksDB writing the same number of same-sized values in the same run.
//
//   build/tests/append_bench --benchmark_min_time=2
//
// Workload: 100 municipalities of Cundinamarca, each with a leader and a plan of 100 goals
// programmed for four years; each iteration appends a group of 1,024 report_progress commands
// (one fsync), cycling over goals and the four cuts, so later rounds are corrections that
// carry the value they replace.

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "veeduria/events/command.h"
#include "veeduria/producers/embedded_ledger.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using veeduria::events::Command;
using veeduria::events::ParseCommand;

constexpr int kEntities = 100, kGoals = 100, kGroup = 1024;
const std::string kAdmin = "admin@dnp.gov.co";

fs::path TempDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("veeduria-bench-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  return d;
}

Command Cmd(const json& j) { return *ParseCommand(j.dump(), 0).command; }

std::string Entity(int i) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "25%03d", i + 1);
  return buf;
}

void Setup(veeduria::producers::EmbeddedLedger& l) {
  std::vector<Command> cmds;
  cmds.push_back(Cmd({{"command", "init"},
                      {"command_id", "init"},
                      {"actor", kAdmin},
                      {"clock", "system"},
                      {"admin", kAdmin},
                      {"partitions", 8}}));
  cmds.push_back(Cmd({{"command", "register_entity"},
                      {"command_id", "e25"},
                      {"actor", kAdmin},
                      {"entity", "25"},
                      {"name", "CUNDINAMARCA"},
                      {"kind", "departamento"},
                      {"department", "25"}}));
  cmds.push_back(
      Cmd({{"command", "load_catalog"},
           {"command_id", "cat"},
           {"actor", kAdmin},
           {"version", "v1"},
           {"rows", {{{"indicator", "450101500"}, {"name", "Documentos de planeación elaborados"}}}}}));
  json ms = json::array();
  for (int q = 1; q <= 4; ++q)
    ms.push_back({{"id", "Q" + std::to_string(q)}, {"activity", "report"}, {"deadline", "2099-12-31"}});
  cmds.push_back(Cmd({{"command", "open_campaign"},
                      {"command_id", "camp"},
                      {"actor", kAdmin},
                      {"campaign", "KPT-BENCH"},
                      {"system", "kpt"},
                      {"vigencia", 2026},
                      {"milestones", ms}}));
  (void)l.Append(cmds);
  for (int e = 0; e < kEntities; ++e) {
    cmds.clear();
    const std::string ent = Entity(e), leader = "lider@" + ent + ".gov.co";
    cmds.push_back(Cmd({{"command", "register_entity"},
                        {"command_id", "e" + ent},
                        {"actor", kAdmin},
                        {"entity", ent},
                        {"name", "MUNICIPIO " + ent},
                        {"kind", "municipio"},
                        {"department", "25"}}));
    cmds.push_back(Cmd({{"command", "request_leader"},
                        {"command_id", "rl" + ent},
                        {"actor", leader},
                        {"entity", ent},
                        {"email", leader},
                        {"name", "Líder"},
                        {"supports", {{{"kind", "acta"}, {"sha256", std::string(64, 'a')}}}}}));
    cmds.push_back(Cmd({{"command", "activate_leader"},
                        {"command_id", "al" + ent},
                        {"actor", "system"},
                        {"request_id", "rl" + ent}}));
    cmds.push_back(Cmd({{"command", "upload_plan"},
                        {"command_id", "p" + ent},
                        {"actor", leader},
                        {"entity", ent},
                        {"plan", "PDT"},
                        {"name", "Plan de desarrollo"},
                        {"period", {2026, 2029}},
                        {"document_sha256", std::string(64, 'b')}}));
    for (int g = 0; g < kGoals; ++g) {
      const std::string goal = "IP-" + std::to_string(g + 1), id = ent + "-" + goal;
      cmds.push_back(Cmd({{"command", "define_goal"},
                          {"command_id", "d" + id},
                          {"actor", leader},
                          {"entity", ent},
                          {"plan", "PDT"},
                          {"goal", goal},
                          {"cpi_indicator", "450101500"},
                          {"name", "Documentos"},
                          {"unit", "Número"},
                          {"target", 4},
                          {"accumulation", "acumulativo"}}));
      for (int y = 2026; y <= 2029; ++y)
        cmds.push_back(Cmd({{"command", "program_goal"},
                            {"command_id", "g" + id + std::to_string(y)},
                            {"actor", leader},
                            {"entity", ent},
                            {"plan", "PDT"},
                            {"goal", goal},
                            {"year", y},
                            {"physical", 1},
                            {"resources", {{"SGP", 150000000}, {"Recursos propios", 25000000}}}}));
    }
    (void)l.Append(cmds);
  }
}

std::string ReportLine(uint64_t n) {
  const int e = n % kEntities, g = (n / kEntities) % kGoals, q = (n / (kEntities * kGoals)) % 4;
  const std::string ent = Entity(e);
  json j = {
      {"command", "report_progress"},
      {"command_id", "r" + std::to_string(n)},
      {"actor", "lider@" + ent + ".gov.co"},
      {"entity", ent},
      {"plan", "PDT"},
      {"goal", "IP-" + std::to_string(g + 1)},
      {"campaign", "KPT-BENCH"},
      {"milestone", "Q" + std::to_string(q + 1)},
      {"physical_ytd", 0.25 * (q + 1)},
      {"financial",
       {{"SGP", {{"compromisos", 40000000}, {"obligaciones", 30000000 + n % 1000}, {"pagos", 20000000}}}}}};
  return j.dump();
}

void BM_LedgerAppend(benchmark::State& state) {
  const fs::path dir = TempDir("append");
  auto l = veeduria::producers::EmbeddedLedger::Open(dir.string());
  Setup(**l);
  uint64_t n = 0, events = 0, bytes = 0;
  std::vector<std::string> lines(kGroup);
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& line : lines) line = ReportLine(n++);
    state.ResumeTiming();
    std::vector<Command> group;
    group.reserve(kGroup);
    for (const auto& line : lines) group.push_back(std::move(*ParseCommand(line, 0).command));
    auto r = (*l)->Append(group);
    for (const auto& d : *r) {
      events += d.events.size();
      for (const auto& e : d.events) bytes += e.bytes.size();
    }
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["commands_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
  state.counters["event_bytes"] = events ? static_cast<double>(bytes) / events : 0;
  l->reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_LedgerAppend)->Unit(benchmark::kMillisecond)->UseRealTime();

// The storage limit for the same durability: 1,024 puts of an event-sized value per
// WriteBatch with sync=true, plus the order index put the ledger also writes.
void BM_RawRocksDbSyncBatch(benchmark::State& state) {
  const fs::path dir = TempDir("raw");
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db;
  rocksdb::DB::Open(o, dir.string(), &db);
  const std::string value(700, 'x');
  uint64_t n = 0;
  rocksdb::WriteOptions wo;
  wo.sync = state.range(0) != 0;
  wo.disableWAL = state.range(0) == 0;
  for (auto _ : state) {
    rocksdb::WriteBatch b;
    for (int i = 0; i < kGroup; ++i) {
      char key[16];
      std::snprintf(key, sizeof key, "%015llu", static_cast<unsigned long long>(n++));
      b.Put(key, value);
    }
    db->Write(wo, &b);
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
  delete db;
  fs::remove_all(dir);
}
BENCHMARK(BM_RawRocksDbSyncBatch)->Arg(1)->ArgName("sync")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RawRocksDbSyncBatch)->Arg(0)->ArgName("sync")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
