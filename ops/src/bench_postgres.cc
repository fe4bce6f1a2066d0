// The PostgreSQL baseline of `veeduria bench --postgres` (ops/bench/README.md): a local
// PostgreSQL 15 on a Unix socket in the bench's directory, the same events appended in
// transactions of a batch each (events table + the six projections as set-based SQL,
// synchronous_commit=on), then the projections rebuilt from the events table.

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "bench.h"
#include "cli.h"
#include "veeduria/events/render.h"

namespace veeduria::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";
constexpr int kPort = 54329;  // names the socket file only: the server listens on no TCP address

// Runs a shell command as the postgres user when we are root (initdb refuses root).
Status Run(const std::string& command, const std::string& what) {
  const std::string full = geteuid() == 0 ? "runuser -u postgres -- sh -c '" + command + "'" : command;
  const int rc = std::system(full.c_str());
  if (rc != 0) return Status::Unavailable(what + " failed (exit " + std::to_string(rc) + "): " + command);
  return Status::Ok();
}

// The server, stopped on every path out, and its data directory removed (national scale fills
// tens of GB; the logs beside it stay for a failed run's diagnosis).
class Server {
 public:
  explicit Server(fs::path dir) : dir_(std::move(dir)) {}
  ~Server() {
    if (started_)
      (void)Run(
          std::string(kBin) + "/pg_ctl -D " + (dir_ / "data").string() + " -m fast -w stop >/dev/null 2>&1",
          "pg_ctl stop");
    std::error_code ec;
    fs::remove_all(dir_ / "data", ec);
  }
  Status Start() {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (geteuid() == 0) {
      // The postgres user must reach the directory: open the bench's own directory (mkdtemp
      // makes it 0700), never anything above it, and own the server's part.
      const fs::path bench_dir = dir_.parent_path();
      struct stat st {};
      if (stat(bench_dir.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0)
        chmod(bench_dir.c_str(), st.st_mode | S_IXOTH);
      if (std::system(("runuser -u postgres -- test -x " + bench_dir.string()).c_str()) != 0)
        return Status::FailedPrecondition("the postgres user cannot reach " + bench_dir.string() +
                                          ": give --dir a directory under one it can traverse (e.g. /tmp)");
      const std::string chown = "chown -R postgres:postgres " + dir_.string();
      if (std::system(chown.c_str()) != 0)
        return Status::Unavailable("cannot chown " + dir_.string() + " to postgres");
    }
    const std::string data = (dir_ / "data").string(), log = (dir_ / "server.log").string();
    if (Status st =
            Run(std::string(kBin) + "/initdb -D " + data + " -U postgres --auth=trust -E UTF8 --no-locale >" +
                    (dir_ / "initdb.log").string() + " 2>&1",
                "initdb");
        !st.ok())
      return st;
    // Durability as the ledger's (fsync on, synchronous_commit on: a commit is on disk before it
    // returns); memory as a competent operator would give a 24 GiB machine's database.
    const std::string opts = "-p " + std::to_string(kPort) + " -k " + dir_.string() +
                             " -c listen_addresses= -c fsync=on -c synchronous_commit=on"
                             " -c shared_buffers=1GB -c max_wal_size=8GB -c work_mem=64MB";
    if (Status st = Run(std::string(kBin) + "/pg_ctl -D " + data + " -l " + log + " -o \"" + opts +
                            "\" -w start >/dev/null",
                        "pg_ctl start");
        !st.ok())
      return st;
    started_ = true;
    return Status::Ok();
  }
  std::string conninfo() const {
    return "host=" + dir_.string() + " port=" + std::to_string(kPort) + " dbname=postgres user=postgres";
  }

 private:
  fs::path dir_;
  bool started_ = false;
};

struct Conn {
  PGconn* c = nullptr;
  ~Conn() {
    if (c) PQfinish(c);
  }
  Status Exec(const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(r);
    Status out = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
                     ? Status::Ok()
                     : Status::Internal(std::string("PostgreSQL: ") + PQerrorMessage(c));
    PQclear(r);
    return out;
  }
  // The single value of a one-row, one-column query.
  Result<std::string> Value(const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    Result<std::string> out = Status::Internal(std::string("PostgreSQL: ") + PQerrorMessage(c));
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) out = std::string(PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
  }
  Status ExecParam(const char* sql, const std::string& param) {
    const char* values[] = {param.c_str()};
    PGresult* r = PQexecParams(c, sql, 1, nullptr, values, nullptr, nullptr, 0);
    const auto st = PQresultStatus(r);
    Status out = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
                     ? Status::Ok()
                     : Status::Internal(std::string("PostgreSQL: ") + PQerrorMessage(c));
    PQclear(r);
    return out;
  }
};

}  // namespace

Result<PostgresFigures> RunPostgresBaseline(const events::LogReader& log, uint64_t end_lsn,
                                            const std::string& work_dir, const std::string& sql_dir,
                                            size_t batch) {
  if (!fs::exists(std::string(kBin) + "/initdb"))
    return Status::FailedPrecondition("PostgreSQL 15 is not installed (apt-get install postgresql-15)");
  auto schema = ReadFile(sql_dir + "/schema.sql");
  auto projections = ReadFile(sql_dir + "/projections.sql");
  if (!schema.ok()) return schema.status();
  if (!projections.ok()) return projections.status();
  Server server(fs::path(work_dir) / "pg");
  if (Status st = server.Start(); !st.ok()) return st;
  Conn conn;
  conn.c = PQconnectdb(server.conninfo().c_str());
  if (PQstatus(conn.c) != CONNECTION_OK)
    return Status::Unavailable(std::string("cannot connect to PostgreSQL: ") + PQerrorMessage(conn.c));
  PostgresFigures f;
  f.server_version = std::to_string(PQserverVersion(conn.c));
  if (Status st = conn.Exec(*schema); !st.ok()) return st;
  if (Status st = conn.Exec(*projections); !st.ok()) return st;

  // Append: the same events in batches, one transaction each (autocommit of one statement).
  // Rendering the events to JSON is veeduria's work, not PostgreSQL's: it is not timed.
  double secs = 0;
  std::string json = "[";
  size_t in_batch = 0;
  Status failed;
  auto flush = [&] {
    json += ']';
    const auto start = Clock::now();
    Status st = conn.ExecParam("SELECT append_batch($1::jsonb)", json);
    secs += std::chrono::duration<double>(Clock::now() - start).count();
    ++f.batches;
    json = "[";
    in_batch = 0;
    return st;
  };
  Status scan = log.ScanLog(0, [&](const events::LogEntry& e) {
    if (json.size() > 1) json += ',';
    json += events::RenderEventJson(e.bytes, e.hash, &e.position);
    ++f.events;
    if (++in_batch == batch) {
      failed = flush();
      if (!failed.ok()) return false;
    }
    return true;
  });
  if (!scan.ok()) return scan;
  if (!failed.ok()) return failed;
  if (in_batch > 0)
    if (Status st = flush(); !st.ok()) return st;
  if (f.events != end_lsn)
    return Status::Internal("PostgreSQL baseline: scanned " + std::to_string(f.events) + " events of " +
                            std::to_string(end_lsn));
  f.append_seconds = secs;
  if (Status st = conn.Exec("CHECKPOINT"); !st.ok()) return st;
  if (Status st = conn.Exec("VACUUM ANALYZE"); !st.ok()) return st;

  // Row counts of every projection table: the rebuild must give the same ones.
  const std::string kCounts =
      "SELECT json_build_object('events', (SELECT count(*) FROM events), 'goals', (SELECT count(*) FROM "
      "goals), "
      "'programming', (SELECT count(*) FROM programming), 'progress', (SELECT count(*) FROM progress), "
      "'audit', (SELECT count(*) FROM audit), 'reviews', (SELECT count(*) FROM reviews), "
      "'compliance', (SELECT count(*) FROM compliance), 'leaders', (SELECT count(*) FROM leaders), "
      "'leader_history', (SELECT count(*) FROM leader_history), 'roles', (SELECT count(*) FROM roles), "
      "'mdm_inputs', (SELECT count(*) FROM mdm_inputs))::text";
  auto appended = conn.Value(kCounts);
  if (!appended.ok()) return appended.status();

  // Rebuild: truncate the six projections and project the whole events table, one transaction.
  const auto start = Clock::now();
  if (Status st = conn.Exec("SELECT rebuild()"); !st.ok()) return st;
  f.rebuild_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  auto rebuilt = conn.Value(kCounts);
  if (!rebuilt.ok()) return rebuilt.status();
  if (*rebuilt != *appended)
    return Status::Internal("PostgreSQL baseline: rebuilt rows " + *rebuilt + " differ from appended " +
                            *appended);
  f.row_counts = *rebuilt;
  return f;
}

}  // namespace veeduria::cli
