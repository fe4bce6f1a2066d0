#pragma once
// `veeduria bench` (bench_commands.cc) and its PostgreSQL baseline (bench_postgres.cc).

#include <cstdint>
#include <string>
#include <vector>

#include "veeduria/events/log.h"
#include "veeduria/events/status.h"

namespace veeduria::cli {

struct BenchOptions {
  std::string scale;  // tiny, demo, department, national; default: department (demo with --quick)
  uint64_t seed = 2023;
  bool quick = false;                  // fewer samples and one rebuild: under two minutes at tiny scale
  bool json = false;                   // one JSON object instead of the table
  bool postgres = false;               // also run append and rebuild on a local PostgreSQL 15
  std::vector<std::string> workloads;  // empty: all
  int submitters = 4;
  std::string data_dir = "../shared/data";
  std::string campaigns_file = "ops/campaigns/2023.jsonl";
  std::string sql_dir = "ops/bench";  // the PostgreSQL baseline's SQL
  std::string work_dir;               // default: a new directory under $TMPDIR, removed afterwards
  // Measure the command file and ledger an earlier run left in work_dir: no gen, no append.
  bool reuse = false;
};

int RunBench(const BenchOptions& options);

struct PostgresFigures {
  std::string server_version;
  uint64_t events = 0, batches = 0;
  double append_seconds = 0, rebuild_seconds = 0;
  std::string row_counts;  // JSON object: rows per table after the rebuild (equal to after append)
};

// Starts a Unix-socket-only PostgreSQL 15 in `work_dir`/pg (initdb and pg_ctl as the `postgres`
// user when run as root), loads ops/bench/schema.sql and projections.sql, appends every event of
// `log` in transactions of `batch` events (events table + the six projections, set-based SQL),
// then truncates the projections and rebuilds them from the events table; stops the server.
Result<PostgresFigures> RunPostgresBaseline(const events::LogReader& log, uint64_t end_lsn,
                                            const std::string& work_dir, const std::string& sql_dir,
                                            size_t batch);

}  // namespace veeduria::cli
