// kill -9 of a projector at random points, many times: the projections end identical to a
// clean rebuild (nothing lost, nothing applied twice).

#include <fcntl.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <random>

#include "../crash/spawn.h"
#include "fixture.h"
#include "veeduria/projections/projection.h"

namespace veeduria {
namespace {

// True when `fd` has data (or EOF) within 30 s (a bound for a broken child, not a timing).
bool ReadableSoon(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 30'000) > 0;
}

// Kills projector children (crash_child project) at random commit points until one finishes,
// then compares the store with a clean rebuild. `bulk`: the child's StoreOptions::bulk_events.
void KillUntilDone(const std::function<int(int round)>& batch_of_round, uint64_t bulk) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  for (int i = 0; i < 600; ++i) {  // more directory events, for more points to die at
    char code[8];
    std::snprintf(code, sizeof code, "25%03d", 200 + i);
    f.Submit({{"command", "register_entity"},
              {"command_id", std::string("extra-") + code},
              {"actor", "admin@dnp.gov.co"},
              {"at", "2024-03-01T08:00:00-05:00"},
              {"entity", code},
              {"name", std::string("MUNICIPIO ") + code},
              {"kind", "municipio"},
              {"department", "25"}});
  }
  f.Close();
  signal(SIGPIPE, SIG_IGN);  // a go-ahead to a child that died is an error return, not a signal
  std::mt19937 rng(20230630);
  int rounds = 0, kills = 0;
  for (bool done = false; !done; ++rounds) {
    ASSERT_LT(rounds, 500) << "the projector never finished";
    int fds[2], go[2];
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(pipe(go), 0);
    ASSERT_EQ(fcntl(fds[0], F_SETFD, FD_CLOEXEC), 0);
    ASSERT_EQ(fcntl(go[1], F_SETFD, FD_CLOEXEC), 0);
    const pid_t pid =
        testing::SpawnCrashChild({"project", f.dir().string(), std::to_string(batch_of_round(rounds)),
                                  std::to_string(fds[1]), std::to_string(go[0]), std::to_string(bulk)});
    ASSERT_GT(pid, 0);
    close(fds[1]);
    close(go[0]);
    const int want = static_cast<int>(rng() % 12);
    int ticks = 0;
    char c;
    bool stalled = false;
    while (ticks < want) {
      if (!ReadableSoon(fds[0])) {
        stalled = true;
        break;
      }
      if (read(fds[0], &c, 1) != 1) break;
      if (++ticks < want && write(go[1], "g", 1) != 1) break;
    }
    EXPECT_FALSE(stalled) << "round " << rounds << ": the projector went silent for 30 s";
    if (ticks == want || stalled) {
      kill(pid, SIGKILL);
      ++kills;
    }
    close(go[1]);  // a child that finished its last batch is not left waiting
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "round " << rounds;
      done = true;
    }
  }
  EXPECT_GT(kills, 10);
  f.Reopen();
  f.CatchUp();
  const auto incremental = f.store().Digests();
  ASSERT_TRUE(f.store().Reset("").ok());
  f.CatchUp();
  EXPECT_EQ(f.store().Digests(), incremental);
}

TEST(ProjectorCrashTest, KilledProjectorsEndIdenticalToACleanRebuild) {
  // Batches of 1–3 events: many commit points to die between.
  KillUntilDone([](int round) { return 1 + round % 3; }, 0);
}

// In bulk mode a child dies while runs are held in memory, written, or ingested.
TEST(ProjectorCrashTest, KilledBulkProjectorsEndIdenticalToACleanRebuild) {
  KillUntilDone([](int round) { return 8 + 8 * (round % 3); }, 40);
}

}  // namespace
}  // namespace veeduria

namespace veeduria {
namespace {

// A projection whose stored version differs from the code's is dropped when the store opens and
// rebuilt by the next catch-up, to the same rows.
TEST(ProjectionVersionTest, AChangedVersionForcesARebuild) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();
  f.Close();
  {
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, {}}};
    for (const auto* p : projections::AllProjections()) cfs.push_back({std::string(p->name()), {}});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), (f.dir() / "projections").string(), cfs, &handles, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], "version/progress", "0").ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  f.Reopen();
  EXPECT_EQ(f.store().reset_on_open(), std::vector<std::string>{"progress"});
  bool empty = true;
  f.store().rows("progress").Scan("", [&](std::string_view, std::string_view) { return empty = false; });
  EXPECT_TRUE(empty);
  f.CatchUp();
  EXPECT_EQ(f.store().Digests(), digests);
}

}  // namespace
}  // namespace veeduria
