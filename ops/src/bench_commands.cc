// `veeduria bench`: the end-to-end benchmark (docs/benchmarks.md). One run generates a dataset,
// appends it through the ledger, and measures the workloads beside the baselines of the same run,
// so the ratios hold even on a noisy shared machine.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "bench.h"
#include "cli.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/consumers/verify.h"
#include "veeduria/events/command.h"
#include "veeduria/events/render.h"
#include "veeduria/events/sha256.h"
#include "veeduria/events/time.h"
#include "veeduria/projections/view.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

volatile uint64_t g_sink = 0;

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string FirstMatch(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) {
      const size_t colon = line.find(':');
      std::string v = colon == std::string::npos ? "" : line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "";
}

json Machine(const std::string& dir) {
  json m;
  m["cpu"] = FirstMatch("/proc/cpuinfo", "model name");
  m["cores"] = std::thread::hardware_concurrency();
  const std::string mem = FirstMatch("/proc/meminfo", "MemTotal");
  m["ram_gib"] = std::round(std::atof(mem.c_str()) / (1024.0 * 1024.0) * 10) / 10;
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release;
  struct statvfs s {};
  if (statvfs(dir.c_str(), &s) == 0)
    m["disk_free_gib"] = std::round(static_cast<double>(s.f_bavail) * s.f_frsize / (1 << 30) * 10) / 10;
  return m;
}

// CPU time of the whole process (every thread), in seconds.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU time of the calling thread, in milliseconds: a query's own work, without RocksDB's
// background threads or the other processes a shared machine runs.
double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

struct Workload {
  std::string name, what;
  // cpu_seconds: of this process during the workload; on a shared machine it tells how much of
  // the wall time was ours. cpu_p50_ms, cpu_p99_ms: of the querying thread, per query.
  std::optional<double> events_per_s, commands_per_s, p50_ms, p99_ms, cpu_p50_ms, cpu_p99_ms, seconds,
      cpu_seconds;
  uint64_t count = 0;
};

json ToJson(const Workload& w) {
  json j = {{"name", w.name}, {"what", w.what}, {"count", w.count}};
  auto put = [&](const char* k, const std::optional<double>& v) { j[k] = v ? json(*v) : json(nullptr); };
  put("events_per_s", w.events_per_s);
  put("commands_per_s", w.commands_per_s);
  put("p50_ms", w.p50_ms);
  put("p99_ms", w.p99_ms);
  put("cpu_p50_ms", w.cpu_p50_ms);
  put("cpu_p99_ms", w.cpu_p99_ms);
  put("seconds", w.seconds);
  put("cpu_seconds", w.cpu_seconds);
  return j;
}

// Latencies (wall clock) and the querying thread's CPU time, per query, in milliseconds.
void Percentiles(std::vector<double>& ms, std::vector<double>& cpu_ms, Workload& w) {
  if (ms.empty()) return;
  const auto at = [](std::vector<double>& v, size_t percent) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, v.size() * percent / 100)];
  };
  w.p50_ms = at(ms, 50);
  w.p99_ms = at(ms, 99);
  w.cpu_p50_ms = at(cpu_ms, 50);
  w.cpu_p99_ms = at(cpu_ms, 99);
  w.count = ms.size();
}

// Parses `lines` in chunks on `submitters` threads and appends the chunks in the file's order (a
// simulated ledger refuses a command earlier than the last) while parsing runs ahead in parallel;
// each chunk is decided while the one before it is written (producers::OrderedAppender).
struct AppendResult {
  uint64_t commands = 0, accepted = 0, refused = 0, invalid = 0;
  std::map<std::string, uint64_t> reasons;
  double seconds = 0;
};
Result<AppendResult> AppendAll(producers::EmbeddedLedger& ledger, const std::vector<std::string_view>& lines,
                               int submitters, size_t chunk) {
  AppendResult r;
  const size_t chunks = (lines.size() + chunk - 1) / chunk;
  std::atomic<size_t> next{0};
  producers::OrderedAppender appender(ledger);
  std::mutex mu;
  Status failed;  // GUARDED_BY(mu)
  const auto start = Clock::now();
  auto submitter = [&] {
    for (size_t k; (k = next.fetch_add(1)) < chunks;) {
      std::vector<events::Command> cmds;
      uint64_t invalid = 0;
      for (size_t i = k * chunk; i < std::min(lines.size(), (k + 1) * chunk); ++i) {
        auto p = events::ParseCommand(lines[i], static_cast<int>(i + 1));
        if (p.command)
          cmds.push_back(std::move(*p.command));
        else
          ++invalid;
      }
      auto decided = appender.Append(k, cmds);
      std::lock_guard<std::mutex> lock(mu);
      if (!decided.ok()) {
        if (failed.ok()) failed = decided.status();
        appender.Stop(failed);
        return;
      }
      r.invalid += invalid;
      for (const auto& d : *decided) {
        ++r.commands;
        if (d.outcome == events::Outcome::kAccepted) {
          ++r.accepted;
        } else {
          ++r.refused;
          ++r.reasons[d.reason];
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, submitters); ++i) threads.emplace_back(submitter);
  for (auto& t : threads) t.join();
  r.seconds = Since(start);
  if (!failed.ok()) return failed;
  return r;
}

// The storage limit: one 200-byte put per event, WriteBatch of 1,000, WAL off.
Result<double> RawRocksDbPuts(const fs::path& dir, uint64_t events) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(o, dir.string(), &raw);
  if (!st.ok()) return Status::IOError("rocksdb baseline: " + st.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  const std::string value(200, 'v');
  const auto start = Clock::now();
  uint64_t n = 0;
  for (uint64_t i = 0; i < events; i += 1000) {
    rocksdb::WriteBatch b;
    for (uint64_t j = i; j < std::min(events, i + 1000); ++j) {
      char key[24];
      std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(n++));
      b.Put(key, value);
    }
    st = db->Write(wo, &b);
    if (!st.ok()) return Status::IOError("rocksdb baseline: " + st.ToString());
  }
  st = db->Flush(rocksdb::FlushOptions());  // the puts are on disk, as a rebuild's rows are
  const double secs = Since(start);
  if (!st.ok()) return Status::IOError("rocksdb baseline: " + st.ToString());
  return secs;
}

std::string Fmt(const std::optional<double>& v, const char* unit = "") {
  if (!v) return "";
  char s[48];
  if (*v >= 1000)
    std::snprintf(s, sizeof s, "%.0f%s", *v, unit);
  else if (*v >= 10)
    std::snprintf(s, sizeof s, "%.1f%s", *v, unit);
  else
    std::snprintf(s, sizeof s, "%.3f%s", *v, unit);
  std::string t = s;
  // thousands separators on the integer part
  size_t dot = t.find_first_of(".m ");
  if (dot == std::string::npos) dot = t.size();
  for (int i = static_cast<int>(dot) - 3; i > 0; i -= 3) t.insert(static_cast<size_t>(i), ",");
  return t;
}

bool Wanted(const BenchOptions& o, const std::string& name) {
  return o.workloads.empty() || std::find(o.workloads.begin(), o.workloads.end(), name) != o.workloads.end();
}

}  // namespace

int RunBench(const BenchOptions& opt_in) {
  BenchOptions o = opt_in;
  if (o.scale.empty()) o.scale = o.quick ? "demo" : "department";
  for (const std::string& w : o.workloads)
    if (w != "append" && w != "rebuild" && w != "asof" && w != "audit" && w != "verify" && w != "baselines")
      return Fail("unknown workload '" + w + "' (append, rebuild, asof, audit, verify, baselines)");
  if (o.reuse && o.work_dir.empty()) return Fail("--reuse needs --dir DIR, the directory of an earlier run");
  if (o.reuse && std::find(o.workloads.begin(), o.workloads.end(), "append") != o.workloads.end())
    return Fail("--reuse measures an existing ledger: the append workload cannot run");
  const bool own_dir = o.work_dir.empty();
  fs::path dir = o.work_dir;
  if (own_dir) {
    std::string tmpl = (fs::temp_directory_path() / "veeduria-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return Fail("cannot create a temporary directory");
    dir = tmpl;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto log = [&](const std::string& s) {
    if (!o.json) std::fprintf(stderr, "bench: %s\n", s.c_str());
  };
  json out;
  out["machine"] = Machine(dir.string());
  std::vector<Workload> ws;
  json ratios = json::object();
  // A temporary directory is removed when the command returns, after the ledger, the store and
  // PostgreSQL (declared after it) have closed: removed while they were open, their last writes
  // raced the removal, which gave up and left gigabytes behind.
  struct RemovedOnReturn {
    fs::path dir;
    ~RemovedOnReturn() {
      std::error_code ignored;
      if (!dir.empty()) fs::remove_all(dir, ignored);
    }
  } temporary{own_dir ? dir : fs::path()};

  // The dataset: generated, written to a file, read back whole (not timed) — or, with --reuse,
  // the command file and ledger an earlier run left in --dir.
  const fs::path commands_file = dir / "commands.jsonl";
  std::string text;
  std::vector<std::string_view> lines;
  std::vector<std::string> entities;  // with a plan: the as-of and audit subjects
  auto note_plan = [&](std::string_view line) {
    if (line.find("\"upload_plan\"") == std::string_view::npos) return;
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("entity")) entities.push_back(j["entity"].get<std::string>());
  };
  if (o.reuse) {
    std::ifstream in(commands_file, std::ios::binary);
    if (!in) return Fail("--reuse: cannot read " + commands_file.string());
    uint64_t commands = 0;
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) {
        ++commands;
        note_plan(line);
      }
    out["dataset"] = {{"scale", o.scale},
                      {"seed", o.seed},
                      {"commands", commands},
                      {"file_bytes", fs::file_size(commands_file)},
                      {"reused", dir.string()}};
  } else {
    producers::GeneratorOptions g;
    g.data_dir = o.data_dir;
    g.campaigns_file = o.campaigns_file;
    g.scale = o.scale;
    g.seed = o.seed;
    Workload gen{"gen", "generate the command file (JSON lines written to disk)"};
    {
      std::ofstream f(commands_file, std::ios::binary | std::ios::trunc);
      const auto start = Clock::now();
      const std::clock_t cpu_start = std::clock();
      auto stats = producers::Generate(g, f);
      f.close();
      gen.seconds = Since(start);
      const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
      gen.cpu_seconds = cpu;
      if (!stats.ok() || !f) {
        return Fail(stats.ok() ? "cannot write " + commands_file.string() : stats.status().ToString());
      }
      gen.count = stats->commands;
      gen.commands_per_s = stats->commands / *gen.seconds;
      out["dataset"] = {{"scale", o.scale},
                        {"seed", o.seed},
                        {"commands", stats->commands},
                        {"active_entities", stats->entities_active},
                        {"goals", stats->goals},
                        {"file_bytes", fs::file_size(commands_file)},
                        {"gen_cpu_seconds", cpu},
                        {"gen_commands_per_cpu_s", cpu > 0 ? stats->commands / cpu : 0.0}};
      log("generated " + std::to_string(stats->commands) + " commands in " + Fmt(gen.seconds, " s"));
    }
    ws.push_back(gen);
    auto read = ReadFile(commands_file.string());
    if (!read.ok()) {
      return Fail(read.status().ToString());
    }
    text = std::move(*read);
    for (size_t pos = 0; pos < text.size();) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      const std::string_view line(text.data() + pos, end - pos);
      if (!line.empty()) lines.push_back(line);
      note_plan(line);
      pos = end + 1;
    }
  }

  // append: a fresh simulated ledger; init is setup, the rest is timed.
  auto ledger_or = producers::EmbeddedLedger::Open(dir.string());
  if (!ledger_or.ok()) {
    return Fail(ledger_or.status().ToString());
  }
  auto ledger = std::move(*ledger_or);
  if (o.reuse) {
    if (ledger->end_lsn() == 0) return Fail("--reuse: " + dir.string() + " holds no ledger");
    out["dataset"]["events"] = ledger->end_lsn();
    log("reusing " + std::to_string(ledger->end_lsn()) + " events of " + dir.string());
  } else {
    const std::string init =
        R"({"command":"init","command_id":"init","actor":"admin@dnp.gov.co","clock":"simulated","admin":"admin@dnp.gov.co","at":")" +
        producers::GeneratorInitAt(o.scale) + "\"}";
    auto p = events::ParseCommand(init, 0);
    if (!p.command || !ledger->Append({*p.command}).ok()) {
      return Fail("cannot initialize the bench ledger");
    }
    const uint64_t lsn0 = ledger->end_lsn();
    log("appending with " + std::to_string(o.submitters) + " submitters…");
    const double append_cpu = CpuSeconds();
    auto appended = AppendAll(*ledger, lines, o.submitters, 1024);
    if (!appended.ok()) {
      return Fail(appended.status().ToString());
    }
    const uint64_t appended_events = ledger->end_lsn();
    Workload w{"append", "parse + decide + embedded log, groups of 1,024 commands, fsync per group, " +
                             std::to_string(o.submitters) + " submitters"};
    w.seconds = appended->seconds;
    w.cpu_seconds = CpuSeconds() - append_cpu;
    w.count = appended->commands;
    w.commands_per_s = appended->commands / appended->seconds;
    w.events_per_s = (appended_events - lsn0) / appended->seconds;
    ws.push_back(w);
    json reasons = json::object();
    for (const auto& [k, v] : appended->reasons) reasons[k] = v;
    out["dataset"]["events"] = appended_events;
    out["dataset"]["accepted"] = appended->accepted;
    out["dataset"]["refused"] = appended->refused;
    out["dataset"]["invalid"] = appended->invalid;
    out["dataset"]["refused_by_reason"] = reasons;
    log("appended " + std::to_string(appended_events) + " events in " + Fmt(appended->seconds, " s"));
  }
  const uint64_t events = ledger->end_lsn();
  text.clear();
  text.shrink_to_fit();
  lines.clear();

  // rebuild: drop all six projections and replay the log (the first catch-up is one, too).
  auto store_or = projections::ProjectionStore::Open(dir.string());
  if (!store_or.ok()) {
    return Fail(store_or.status().ToString());
  }
  auto store = std::move(*store_or);
  {
    std::vector<double> secs;
    const int runs = o.quick ? 1 : 3;
    const double cpu0 = CpuSeconds();
    // With --reuse and no rebuild wanted, the projections kept in --dir only catch up.
    const bool replay = !o.reuse || Wanted(o, "rebuild");
    for (int i = 0; i < runs; ++i) {
      // Reset, then the replay in bulk mode (sorted runs), as `veeduria rebuild` does.
      Status st = replay ? store->Reset("") : Status::Ok();
      if (st.ok() && replay) st = store->SetBulkEvents(projections::kRebuildBulkEvents);
      if (!st.ok()) {
        return Fail(st.ToString());
      }
      const auto start = Clock::now();
      auto r = consumers::CatchUp(*ledger, *store);
      secs.push_back(Since(start));
      if (!r.ok()) {
        return Fail(r.status().ToString());
      }
      if (!Wanted(o, "rebuild")) break;  // one catch-up is still needed by asof and audit
    }
    // Kept projections a stopped rebuild left unmerged are merged before the queries (settle_s),
    // as `serve` does.
    if (!replay) (void)store->ResumeMerge();
    std::sort(secs.begin(), secs.end());
    if (Wanted(o, "rebuild")) {
      Workload w{"rebuild", "reset + replay all six projections from the log (median of " +
                                std::to_string(secs.size()) + ")"};
      w.seconds = secs[secs.size() / 2];
      w.cpu_seconds = (CpuSeconds() - cpu0) / secs.size();
      w.count = events;
      w.events_per_s = events / *w.seconds;
      ws.push_back(w);
      log("rebuilt in " + Fmt(w.seconds, " s"));
    }
  }
  // The latencies are those of a settled store: a rebuild ingests its sorted runs as overlapping
  // files, which RocksDB's background compactions then merge for minutes, on the same two cores
  // as the queries, and the store merges its audit index into one sorted run. The wait is part of
  // the figures (settle_s).
  if (Wanted(o, "asof") || Wanted(o, "audit")) {
    const auto start = Clock::now();
    auto busy = [&] {
      for (const char* p : {"rocksdb.compaction-pending", "rocksdb.num-running-compactions",
                            "rocksdb.mem-table-flush-pending", "rocksdb.num-running-flushes"})
        if (store->DbIntProperty(p) > 0) return true;
      return store->merging();
    };
    while (busy()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    out["settle_s"] = Since(start);
    log("compactions settled in " + Fmt(Since(start), " s"));
  }

  events::Micros t_begin = 0;  // the init event's instant: the dataset's first
  (void)ledger->ScanLog(0, [&](const events::LogEntry& e) {
    t_begin = schema::GetEvent(e.bytes.data())->envelope()->recorded_at();
    return false;
  });
  const events::Micros t_end = ledger->meta().last_at;
  if (Wanted(o, "asof") && !entities.empty()) {
    std::mt19937_64 rng(o.seed);
    std::vector<double> ms, cpu_ms;
    const int n = o.quick ? 100 : 1000;
    const double cpu0 = CpuSeconds();
    for (int i = 0; i < n; ++i) {
      const std::string& e = entities[rng() % entities.size()];
      const events::Micros t =
          t_begin + static_cast<events::Micros>(rng() % static_cast<uint64_t>(t_end - t_begin + 1));
      const auto start = Clock::now();
      const double cpu_start = ThreadCpuMs();
      auto view = projections::AsOfView(*store, {}, t);  // progress is temporal: no index to fold
      if (!view.ok()) {
        return Fail(view.status().ToString());
      }
      auto table = projections::ProgressQuery(**view, {.entity = e});
      cpu_ms.push_back(ThreadCpuMs() - cpu_start);  // read inside the wall interval, which holds it
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (!table.ok()) {
        return Fail(table.status().ToString());
      }
    }
    Workload w{"asof", "as-of view of one entity at a random instant of the dataset + its progress query"};
    w.cpu_seconds = CpuSeconds() - cpu0;
    Percentiles(ms, cpu_ms, w);
    ws.push_back(w);
  }
  if (Wanted(o, "audit") && !entities.empty()) {
    std::mt19937_64 rng(o.seed + 1);
    std::vector<double> ms, cpu_ms;
    const int n = o.quick ? 300 : 3000;
    auto view = projections::LiveView(*store, 0);
    const double cpu0 = CpuSeconds();
    for (int i = 0; i < n; ++i) {
      const std::string& e = entities[rng() % entities.size()];
      const auto start = Clock::now();
      const double cpu_start = ThreadCpuMs();
      // Every generated plan has at least 8 goals (tiny) and 90 (department, national).
      auto table = projections::AuditQuery(
          *view,
          {.entity = e,
           .object = "IP-" + std::to_string(1 + rng() % (o.scale == "tiny" || o.scale == "demo" ? 8 : 90))});
      cpu_ms.push_back(ThreadCpuMs() - cpu_start);  // read inside the wall interval, which holds it
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (!table.ok()) {
        return Fail(table.status().ToString());
      }
    }
    Workload w{"audit", "the audit trail of one goal of one entity (live view)"};
    w.cpu_seconds = CpuSeconds() - cpu0;
    Percentiles(ms, cpu_ms, w);
    ws.push_back(w);
  }
  if (Wanted(o, "verify")) {
    const auto start = Clock::now();
    const double cpu0 = CpuSeconds();
    auto r = consumers::VerifyLog(*ledger);
    const double secs = Since(start);
    const double cpu = CpuSeconds() - cpu0;
    if (!r.ok() || !r->ok) {
      return Fail("verify failed: " + (r.ok() ? r->problem : r.status().ToString()));
    }
    Workload w{"verify", "hash chains, lsns and Merkle roots of the whole log"};
    w.seconds = secs;
    w.cpu_seconds = cpu;
    w.count = r->events;
    w.events_per_s = r->events / secs;
    ws.push_back(w);
  }

  if (Wanted(o, "baselines") || o.workloads.empty()) {
    log("baselines…");
    const double raw_cpu = CpuSeconds();
    auto raw = RawRocksDbPuts(dir / "raw", events);
    if (!raw.ok()) {
      return Fail(raw.status().ToString());
    }
    Workload rw{"rocksdb_puts",
                "baseline: raw RocksDB, one 200-byte put per event, WriteBatch of 1,000, WAL off"};
    rw.seconds = *raw;
    rw.cpu_seconds = CpuSeconds() - raw_cpu;
    rw.count = events;
    rw.events_per_s = events / *raw;
    ws.push_back(rw);
    fs::remove_all(dir / "raw", ec);

    // The read limit: scan every partition, verify each event's buffer, read its envelope; the
    // hashing limit: SHA-256 of the same bytes, copied out first (at most 1M events, 1 GiB).
    std::vector<std::string> sample;
    uint64_t sample_bytes = 0, scanned = 0, seq_sum = 0;
    const auto start = Clock::now();
    const double scan_cpu = CpuSeconds();
    for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic})
      for (uint32_t p = 0; p < ledger->partitions(topic); ++p)
        (void)ledger->ScanPartition(topic, p, 0, [&](const events::LogEntry& e) {
          if (events::VerifyEventBytes(e.bytes))
            seq_sum += schema::GetEvent(e.bytes.data())->envelope()->stream_seq();
          ++scanned;
          return true;
        });
    const double scan_secs = Since(start);
    Workload sw{"scan_decode",
                "baseline: scan every partition of the log, verify and decode each event's envelope"};
    sw.seconds = scan_secs;
    sw.cpu_seconds = CpuSeconds() - scan_cpu;
    sw.count = scanned;
    g_sink = g_sink + seq_sum;  // keeps the decode from being optimized away
    sw.events_per_s = scanned / scan_secs;
    ws.push_back(sw);
    (void)ledger->ScanLog(0, [&](const events::LogEntry& e) {
      sample_bytes += e.bytes.size();
      sample.push_back(e.bytes);
      return sample.size() < 1'000'000 && sample_bytes < (1ull << 30);
    });
    uint8_t acc = 0;
    const auto hs = Clock::now();
    const double hash_cpu = CpuSeconds();
    for (const std::string& b : sample) acc ^= events::Sha256(b)[0];
    const double hash_secs = Since(hs);
    Workload hw{"sha256", "baseline: SHA-256 of each event's bytes, in memory (" +
                              std::to_string(sample.size()) + " events, " +
                              std::to_string(sample_bytes / std::max<size_t>(1, sample.size())) +
                              " B average)"};
    g_sink = g_sink + acc;
    hw.seconds = hash_secs;
    hw.cpu_seconds = CpuSeconds() - hash_cpu;
    hw.count = sample.size();
    hw.events_per_s = sample.size() / hash_secs;
    ws.push_back(hw);
  }

  std::optional<PostgresFigures> pg;
  if (o.postgres) {
    log("PostgreSQL baseline…");
    auto r = RunPostgresBaseline(*ledger, events, dir.string(), o.sql_dir, 1024);
    if (!r.ok()) {
      return Fail("PostgreSQL baseline: " + r.status().ToString());
    }
    pg = *r;
    Workload pa{"postgres_append",
                "PostgreSQL 15: events table + six projections as SQL, a transaction per batch, "
                "synchronous_commit=on"};
    pa.seconds = pg->append_seconds;
    pa.count = pg->events;
    pa.events_per_s = pg->events / pg->append_seconds;
    ws.push_back(pa);
    Workload pr{"postgres_rebuild",
                "PostgreSQL 15: truncate the six projections, rebuild them set-based from the events table"};
    pr.seconds = pg->rebuild_seconds;
    pr.count = pg->events;
    pr.events_per_s = pg->events / pg->rebuild_seconds;
    ws.push_back(pr);
    out["postgres"] = {{"version", pg->server_version},
                       {"batches", pg->batches},
                       {"rows", json::parse(pg->row_counts, nullptr, false)}};
  }

  auto rate = [&](const std::string& name) -> std::optional<double> {
    for (const Workload& w : ws)
      if (w.name == name) return w.events_per_s;
    return std::nullopt;
  };
  auto ratio = [&](const char* key, const std::string& a, const std::string& b) {
    auto x = rate(a), y = rate(b);
    ratios[key] = x && y && *y > 0 ? json(*x / *y) : json(nullptr);
  };
  ratio("rebuild_vs_rocksdb", "rebuild", "rocksdb_puts");
  ratio("rebuild_vs_scan", "rebuild", "scan_decode");
  ratio("append_vs_rocksdb", "append", "rocksdb_puts");
  ratio("verify_vs_sha256", "verify", "sha256");
  ratio("append_vs_postgres", "append", "postgres_append");
  ratio("rebuild_vs_postgres", "rebuild", "postgres_rebuild");
  out["workloads"] = json::array();
  for (const Workload& w : ws) out["workloads"].push_back(ToJson(w));
  out["ratios"] = ratios;
  out["quick"] = o.quick;

  if (o.json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  const json& m = out["machine"];
  std::printf("machine: %s, %u cores, %.1f GiB RAM, %s, %.1f GiB free on the bench disk\n",
              m.value("cpu", "?").c_str(), m.value("cores", 0u), m.value("ram_gib", 0.0),
              m.value("kernel", "?").c_str(), m.value("disk_free_gib", 0.0));
  const json& d = out["dataset"];
  std::printf(
      "dataset: gen --scale %s --seed %llu: %llu commands, %llu events, %llu active entities, %llu goals "
      "(%llu refused by the rules, %llu invalid)\n\n",
      o.scale.c_str(), static_cast<unsigned long long>(o.seed), d.value("commands", 0ull),
      d.value("events", 0ull), d.value("active_entities", 0ull), d.value("goals", 0ull),
      d.value("refused", 0ull), d.value("invalid", 0ull));
  std::printf("%-18s %14s %14s %10s %10s %10s %10s %10s %10s\n", "workload", "events/s", "commands/s",
              "p50 ms", "p99 ms", "cpu p50", "cpu p99", "seconds", "cpu s");
  for (const Workload& w : ws)
    std::printf("%-18s %14s %14s %10s %10s %10s %10s %10s %10s\n", w.name.c_str(),
                Fmt(w.events_per_s).c_str(), Fmt(w.commands_per_s).c_str(), Fmt(w.p50_ms).c_str(),
                Fmt(w.p99_ms).c_str(), Fmt(w.cpu_p50_ms).c_str(), Fmt(w.cpu_p99_ms).c_str(),
                Fmt(w.seconds).c_str(), Fmt(w.cpu_seconds).c_str());
  if (out.contains("postgres"))
    std::printf("\nPostgreSQL %s: %llu transactions; rows %s\n",
                out["postgres"]["version"].get<std::string>().c_str(),
                static_cast<unsigned long long>(pg->batches), out["postgres"]["rows"].dump().c_str());
  if (out.contains("settle_s"))
    std::printf("\nasof and audit measured after RocksDB's compactions settled: %s\n",
                Fmt(out["settle_s"].get<double>(), " s").c_str());
  std::printf("\nratios (above 1: veeduria faster)\n");
  for (const auto& [k, v] : ratios.items())
    std::printf("  %-22s %s\n", k.c_str(),
                v.is_null() ? "(not measured)" : Fmt(v.get<double>(), "×").c_str());
  return 0;
}

}  // namespace veeduria::cli
