#include "veeduria/producers/embedded_ledger.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "../crash/ledger_commands.h"
#include "../crash/spawn.h"
#include "veeduria/consumers/verify.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::producers {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Bootstrap;
using testing::Cmd;
using testing::LeaderChange;

// The database of the closed ledger under `dir`, opened with RocksDB directly, for a test to read
// or edit: its families by number, in the ledger's order (0 meta, 1 log, 2 order, 3 state, 4 merkle).
class RawDb {
 public:
  RawDb(const fs::path& dir, bool read_only) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {rocksdb::kDefaultColumnFamilyName.c_str(), "log", "order", "state", "merkle"})
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    const std::string path = (dir / "log").string();
    rocksdb::DB* db = nullptr;
    ok_ = (read_only ? rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs, &handles_, &db)
                     : rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles_, &db))
              .ok();
    db_.reset(db);
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  bool ok() const { return ok_; }
  rocksdb::DB* operator->() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* family(size_t i) const { return handles_[i]; }

 private:
  bool ok_ = false;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

class EmbeddedLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("veeduria-ledger-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
         "-" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

// One mapping of RocksDB's statuses for the ledger, the projections and the Kafka decider state:
// what was being done, then RocksDB's words; a transient one is Unavailable (retry).
TEST(FromRocksTest, EachRocksDbStatusMapsToOursNamingWhatWasBeingDone) {
  EXPECT_TRUE(FromRocks(rocksdb::Status::OK(), "writing").ok());
  const Status corrupt = FromRocks(rocksdb::Status::Corruption("bad block"), "reading the log");
  EXPECT_EQ(corrupt.code(), StatusCode::kCorruption);
  EXPECT_EQ(corrupt.message(), "reading the log: Corruption: bad block");
  for (const rocksdb::Status& transient :
       {rocksdb::Status::Busy(), rocksdb::Status::TryAgain(), rocksdb::Status::TimedOut()})
    EXPECT_EQ(FromRocks(transient, "writing").code(), StatusCode::kUnavailable) << transient.ToString();
  for (const rocksdb::Status& other : {rocksdb::Status::IOError("disk full"), rocksdb::Status::NotFound()})
    EXPECT_EQ(FromRocks(other, "writing").code(), StatusCode::kIOError) << other.ToString();
}
TEST_F(EmbeddedLedgerTest, ReopeningKeepsTheStateWithoutReplay) {
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    ASSERT_TRUE((*l)->Append(LeaderChange(1)).ok());
  }
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)->meta().clock, "system");
  EXPECT_EQ((*l)->end_lsn(), 4u);
  auto again = (*l)->Append(LeaderChange(1));  // retries after a restart are still duplicates
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome, events::Outcome::kDuplicate);
  EXPECT_EQ((*again)[1].outcome, events::Outcome::kDuplicate);
  EXPECT_EQ((*l)->end_lsn(), 4u);
}

// ScanLog walks the lsns in order from any of them, reading each partition's entries one after
// another: it gives what the partitions give (ScanPartition, a separate path), merged by lsn. An
// entry missing beneath the order family is named, with its lsn.
TEST_F(EmbeddedLedgerTest, ScanLogGivesThePartitionsEntriesInLsnOrderFromAnyLsn) {
  auto line = [](const events::LogEntry& e) {
    return std::to_string(e.position.lsn) + " " + e.position.topic + "/" +
           std::to_string(e.position.partition) + "@" + std::to_string(e.position.offset) + " " +
           events::ToHex(e.hash) + " " + e.bytes;
  };
  std::vector<std::string> merged;  // from the partitions, by lsn
  std::string missing_key;          // the log family's key of the entry deleted below
  uint64_t missing_lsn = 0;
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE((*l)->Append(LeaderChange(i)).ok());
      // A refusal on the stream of an unregistered municipality: an event in its partition.
      ASSERT_TRUE((*l)->Append({Cmd({{"command", "submit_report"},
                                     {"command_id", "s" + std::to_string(i)},
                                     {"actor", "x@y.co"},
                                     {"entity", std::to_string(25001 + i % 7)},
                                     {"campaign", "K"},
                                     {"milestone", "Q1"}})})
                      .ok());
    }
    std::map<uint64_t, std::string> by_lsn;
    std::set<std::string> partitions;
    for (const std::string& topic : {std::string(events::kEventsTopic), std::string(events::kDirectoryTopic)})
      for (uint32_t p = 0; p < (*l)->partitions(topic); ++p)
        ASSERT_TRUE((*l)->ScanPartition(topic, p, 0,
                                        [&](const events::LogEntry& e) {
                                          EXPECT_TRUE(by_lsn.emplace(e.position.lsn, line(e)).second);
                                          partitions.insert(topic + std::to_string(p));
                                          return true;
                                        })
                        .ok());
    ASSERT_GE(partitions.size(), 4u);  // the walk goes from partition to partition
    for (auto& [lsn, text] : by_lsn) merged.push_back(text);
    ASSERT_EQ(merged.size(), (*l)->end_lsn());

    for (uint64_t from : {uint64_t{0}, uint64_t{1}, uint64_t{7}, merged.size() / 2, merged.size() - 1,
                          uint64_t{merged.size()}}) {
      std::vector<std::string> scanned;
      ASSERT_TRUE((*l)->ScanLog(from,
                                [&](const events::LogEntry& e) {
                                  scanned.push_back(line(e));
                                  return true;
                                })
                      .ok());
      EXPECT_EQ(scanned,
                std::vector<std::string>(merged.begin() + static_cast<std::ptrdiff_t>(from), merged.end()))
          << "from lsn " << from;
    }
    size_t seen = 0;  // stopping early
    ASSERT_TRUE((*l)->ScanLog(3, [&](const events::LogEntry&) { return ++seen < 5; }).ok());
    EXPECT_EQ(seen, 5u);

    missing_lsn = merged.size() / 2;
    ASSERT_TRUE((*l)->ScanLog(missing_lsn,
                              [&](const events::LogEntry& e) {
                                missing_key.push_back(e.position.topic == events::kDirectoryTopic ? 1 : 0);
                                for (int i = 3; i >= 0; --i)
                                  missing_key.push_back(static_cast<char>(e.position.partition >> (8 * i)));
                                for (int i = 7; i >= 0; --i)
                                  missing_key.push_back(static_cast<char>(e.position.offset >> (8 * i)));
                                return false;
                              })
                    .ok());
  }
  {
    RawDb raw(dir_, false);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw->Delete({}, raw.family(1), missing_key).ok());
  }
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  size_t seen = 0;
  Status st = (*l)->ScanLog(0, [&](const events::LogEntry&) { return ++seen > 0; });
  EXPECT_EQ(seen, missing_lsn);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find("lsn " + std::to_string(missing_lsn)), std::string::npos) << st.ToString();
}

// A partition's scan reads its first entries through the block cache and the rest, past
// kCachedEntries, through another iterator around it: the entries come whole and in order across
// the switch, from any offset, and a stop ends the walk where it is asked to.
TEST_F(EmbeddedLedgerTest, ALongPartitionScanGivesEveryEntryOnceAcrossItsSwitchAroundTheCache) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  for (int chunk = 0; chunk < 6; ++chunk) {
    std::vector<events::Command> commands;
    for (int i = chunk * 200; i < (chunk + 1) * 200; ++i)
      for (events::Command& c : LeaderChange(i)) commands.push_back(std::move(c));
    ASSERT_TRUE((*l)->Append(commands).ok());
  }
  // The longest partition: the directory's, with every leader change.
  std::string topic;
  uint32_t partition = 0;
  uint64_t longest = 0;
  for (const std::string& t : {std::string(events::kEventsTopic), std::string(events::kDirectoryTopic)})
    for (uint32_t p = 0; p < (*l)->partitions(t); ++p) {
      uint64_t n = 0;
      ASSERT_TRUE((*l)->ScanPartition(t, p, 0, [&](const events::LogEntry&) { return ++n > 0; }).ok());
      if (n > longest) std::tie(topic, partition, longest) = std::tuple(t, p, n);
    }
  ASSERT_GT(longest, 2400u);
  for (uint64_t from :
       {uint64_t{0}, uint64_t{1}, uint64_t{1023}, uint64_t{1024}, uint64_t{1025}, longest - 1}) {
    std::vector<uint64_t> offsets;
    ASSERT_TRUE((*l)->ScanPartition(topic, partition, from,
                                    [&](const events::LogEntry& e) {
                                      offsets.push_back(e.position.offset);
                                      return true;
                                    })
                    .ok());
    std::vector<uint64_t> expected(longest - from);
    std::iota(expected.begin(), expected.end(), from);
    EXPECT_EQ(offsets, expected) << "from offset " << from;
  }
  for (uint64_t stop : {uint64_t{1024}, uint64_t{1025}, uint64_t{2000}}) {
    uint64_t seen = 0;
    ASSERT_TRUE(
        (*l)->ScanPartition(topic, partition, 0, [&](const events::LogEntry&) { return ++seen < stop; })
            .ok());
    EXPECT_EQ(seen, stop);
  }
}

// A scan gives the log as it was when it began: what is appended meanwhile, even to a partition it
// has not read yet, waits for the next scan.
TEST_F(EmbeddedLedgerTest, ScanLogGivesTheLogAsItWasWhenItBegan) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*l)->Append(LeaderChange(i)).ok());
  const uint64_t end = (*l)->end_lsn();
  uint64_t seen = 0;
  ASSERT_TRUE((*l)->ScanLog(0,
                            [&](const events::LogEntry& e) {
                              EXPECT_EQ(e.position.lsn, seen);
                              if (seen++ == 0) {  // before the events topic's partitions are read
                                for (int i = 0; i < 7; ++i)
                                  EXPECT_TRUE((*l)->Append({Cmd({{"command", "submit_report"},
                                                                 {"command_id", "late-" + std::to_string(i)},
                                                                 {"actor", "x@y.co"},
                                                                 {"entity", std::to_string(25001 + i)},
                                                                 {"campaign", "K"},
                                                                 {"milestone", "Q1"}})})
                                                  .ok());
                                EXPECT_EQ((*l)->end_lsn(), end + 7);
                              }
                              return true;
                            })
                  .ok());
  EXPECT_EQ(seen, end);
  seen = 0;
  ASSERT_TRUE((*l)->ScanLog(0, [&](const events::LogEntry&) { return ++seen > 0; }).ok());
  EXPECT_EQ(seen, end + 7);
}

// The state cache does not keep command outcomes after their group: a retry in a later group of the
// same open ledger still finds them (read from the database), and a reused command_id is refused.
TEST_F(EmbeddedLedgerTest, RetriesInALaterGroupAreDuplicatesWithoutReopening) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  auto first = (*l)->Append(LeaderChange(1));
  ASSERT_TRUE(first.ok());
  const uint64_t end = (*l)->end_lsn();
  for (int round = 0; round < 2; ++round) {
    auto again = (*l)->Append(LeaderChange(1));
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->size(), first->size());
    for (size_t i = 0; i < again->size(); ++i) {
      EXPECT_EQ((*again)[i].outcome, events::Outcome::kDuplicate) << round << " " << i;
      EXPECT_EQ((*again)[i].event_ids, (*first)[i].event_ids) << round << " " << i;
    }
  }
  EXPECT_EQ((*l)->end_lsn(), end);
  // The same command_id with another command: refused, and recorded as refused.
  auto refused =
      (*l)->Append({Cmd({{"command", "request_leader"},
                         {"command_id", "req-1"},
                         {"actor", "other@cundinamarca.gov.co"},
                         {"entity", "25"},
                         {"email", "other@cundinamarca.gov.co"},
                         {"name", "Otra"},
                         {"supports", {{{"kind", "acta_posesion"}, {"sha256", std::string(64, 'b')}}}}})});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ((*refused)[0].outcome, events::Outcome::kRejected);
  EXPECT_EQ((*refused)[0].reason, "command_id_reused");
}

// State keys of the bootstrap and a leader change: records, a stream head, an outcome, and two
// absent keys.
std::vector<std::string> ProbedStateKeys() {
  return {"meta",         "s/25",    "s/" + std::string(events::kDirectoryStream), "e/25", "c/req-1",
          "c/never-sent", "u/nobody"};
}

// What the state cache lends (hits, remembered misses, values overwritten by later groups, outcomes
// dropped after their group) is what the database holds: read every key before and after reopening.
TEST_F(EmbeddedLedgerTest, StateReadsThroughTheCacheMatchTheDatabase) {
  const std::vector<std::string> keys = ProbedStateKeys();
  std::map<std::string, std::optional<std::string>> cached;
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    for (const auto& k : keys) (void)(*l)->state().Get(k);  // remembered, misses too
    ASSERT_TRUE((*l)->Append(LeaderChange(1)).ok());        // overwrites some of them
    for (const auto& k : keys) {
      cached[k] = (*l)->state().Get(k);
      std::optional<std::string> lent;
      const bool found = (*l)->state().Read(k, [&](std::string_view v) { lent.emplace(v); });
      EXPECT_EQ(found, cached[k].has_value()) << k;
      EXPECT_EQ(lent, cached[k]) << k;
      EXPECT_EQ((*l)->state().Contains(k), cached[k].has_value()) << k;
    }
  }
  EXPECT_TRUE(cached["s/" + std::string(events::kDirectoryStream)].has_value());
  EXPECT_TRUE(cached["e/25"].has_value());
  EXPECT_TRUE(cached["c/req-1"].has_value());
  EXPECT_FALSE(cached["c/never-sent"].has_value());
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  for (const auto& k : keys) EXPECT_EQ((*l)->state().Get(k), cached[k]) << k;
}

// A full cache is cleared and its complete mode ends, while the groups it held may not be written
// to the state family yet: what they wrote is then read from them, every key, not only outcomes.
TEST_F(EmbeddedLedgerTest, AClearedCacheReadsWhatTheUnflushedGroupsWrote) {
  const std::vector<std::string> keys = ProbedStateKeys();
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  (*l)->SetStateFlushForTesting(1u << 30, 1u << 20);  // every group stays unflushed
  ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  auto first = (*l)->Append(LeaderChange(1));
  ASSERT_TRUE(first.ok());
  std::map<std::string, std::optional<std::string>> before;
  for (const auto& k : keys) before[k] = (*l)->state().Get(k);
  ASSERT_TRUE(before["e/25"].has_value());
  ASSERT_TRUE(before["c/req-1"].has_value());
  (*l)->ClearStateCacheForTesting();
  for (const auto& k : keys) EXPECT_EQ((*l)->state().Get(k), before[k]) << k;
  auto again = (*l)->Append(LeaderChange(1));
  ASSERT_TRUE(again.ok());
  for (const auto& d : *again) EXPECT_EQ(d.outcome, events::Outcome::kDuplicate);
  const uint64_t end = (*l)->end_lsn();
  l->reset();
  auto reopened = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->end_lsn(), end);
  for (const auto& k : keys) EXPECT_EQ((*reopened)->state().Get(k), before[k]) << k;
}

TEST_F(EmbeddedLedgerTest, ConcurrentAppendsShareGroupCommitsAndKeepEveryStreamContiguous) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = (*l)->Append(LeaderChange(t * 1000 + i));
        ASSERT_TRUE(r.ok());
        EXPECT_EQ((*r)[1].outcome, events::Outcome::kAccepted) << (*r)[1].message;
      }
    });
  }
  for (auto& th : threads) th.join();
  auto report = consumers::VerifyLog(**l);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  // init + entity + per change: request, activation (+ deactivation of the previous leader).
  EXPECT_EQ(report->events, 2u + kThreads * kPerThread * 3 - 1);
  const std::string incremental = (*l)->StateDigest();
  ASSERT_TRUE((*l)->RebuildState().ok());
  EXPECT_EQ((*l)->StateDigest(), incremental);
}

// Numbered batches appended from threads started last batch first (OrderedAppender) are decided
// in number order, each while the one before it is written: the log and the state come out byte
// for byte as from the same batches appended one after another.
TEST_F(EmbeddedLedgerTest, OrderedBatchesAreDecidedInOrderWhileTheOneBeforeIsWritten) {
  constexpr int kChunks = 24;
  std::vector<std::vector<events::Command>> chunks(kChunks);
  for (int k = 0; k < kChunks; ++k)
    for (int i = 0; i < 3; ++i)
      for (auto& c : LeaderChange(k * 10 + i)) chunks[k].push_back(std::move(c));
  // A log's lines and the state's digest.
  auto contents = [](EmbeddedLedger& l) {
    std::vector<std::string> lines;
    EXPECT_TRUE(l.ScanLog(0, [&](const events::LogEntry& e) {
                   lines.push_back(std::to_string(e.position.lsn) + " " + e.position.topic + "/" +
                                   std::to_string(e.position.partition) + "/" +
                                   std::to_string(e.position.offset) + " " + e.bytes);
                   return true;
                 }).ok());
    lines.push_back(l.StateDigest());
    return lines;
  };
  std::atomic<int64_t> serial_now{1'700'000'000'000'000};
  std::vector<std::string> serial;
  {
    auto l = EmbeddedLedger::Open((dir_ / "serial").string());
    ASSERT_TRUE(l.ok());
    (*l)->SetClockForTesting([&] { return serial_now.fetch_add(1000); });
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    for (const auto& c : chunks) ASSERT_TRUE((*l)->Append(c).ok());
    serial = contents(**l);
  }

  auto l = EmbeddedLedger::Open((dir_ / "queued").string());
  ASSERT_TRUE(l.ok());
  std::atomic<int64_t> now{1'700'000'000'000'000};
  std::mutex mu;
  std::condition_variable cv;
  size_t decided = 0;  // GUARDED_BY(mu): commands decided after the bootstrap (one clock read each)
  (*l)->SetClockForTesting([&] {
    std::lock_guard<std::mutex> lock(mu);
    ++decided;
    cv.notify_all();
    return now.fetch_add(1000);
  });
  ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    decided = 0;
  }
  // Batch 0's write waits until batches 1 and 2 were decided over it (the clock is read for
  // batch 2's first command once batch 1 is decided).
  bool held = false;
  (*l)->SetBeforeWriteForTesting([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!held) cv.wait(lock, [&] { return decided > chunks[0].size() + chunks[1].size(); });
    held = true;
    return Status::Ok();
  });
  OrderedAppender appender(**l);
  std::vector<std::thread> threads;
  for (size_t k = chunks.size(); k-- > 0;) {  // a thread per batch, the last one started first
    threads.emplace_back([&, k] {
      auto r = appender.Append(k, chunks[k]);
      ASSERT_TRUE(r.ok());
      for (const auto& d : *r) EXPECT_EQ(d.outcome, events::Outcome::kAccepted) << d.message;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(contents(**l), serial);
  EXPECT_EQ((*l)->end_lsn(), serial.size() - 1);
}

// A command retried in the group decided while its first group is still being written is a
// duplicate: its outcome is read from the writes in flight, not from the database, which does not
// hold it yet.
TEST_F(EmbeddedLedgerTest, ARetryDecidedWhileItsFirstGroupIsWrittenIsADuplicate) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  const std::vector<events::Command> first = LeaderChange(1);
  std::vector<events::Command> second = LeaderChange(1);  // the retry, then a new command
  for (auto& c : LeaderChange(2)) second.push_back(std::move(c));
  std::mutex mu;
  std::condition_variable cv;
  int decided = 0;  // GUARDED_BY(mu): commands decided (the clock is read once per command)
  (*l)->SetClockForTesting([&] {
    std::lock_guard<std::mutex> lock(mu);
    ++decided;
    cv.notify_all();
    return events::Micros{1'800'000'000'000'000} + decided;
  });
  // The first group's write waits until the second group has decided its retries (the clock is
  // read for the command after them).
  bool held = false;
  (*l)->SetBeforeWriteForTesting([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!held) cv.wait(lock, [&] { return decided > static_cast<int>(first.size() * 2); });
    held = true;
    return Status::Ok();
  });
  Result<std::vector<events::Decision>> retried = Status::Internal("not run");
  std::thread behind;
  auto r = (*l)->Append(first, [&] { behind = std::thread([&] { retried = (*l)->Append(second); }); });
  behind.join();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(retried.ok());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ((*r)[i].outcome, events::Outcome::kAccepted) << (*r)[i].message;
    EXPECT_EQ((*retried)[i].outcome, events::Outcome::kDuplicate) << i << " " << (*retried)[i].message;
    EXPECT_EQ((*retried)[i].event_ids, (*r)[i].event_ids) << i;
  }
  EXPECT_EQ((*retried)[first.size()].outcome, events::Outcome::kAccepted);
  auto report = consumers::VerifyLog(**l);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
}

// A failed write fails its group and the group decided over it, writes neither, and fails every
// later append: the memory is ahead of the database until the ledger is reopened, which then
// holds what was written before and appends again.
TEST_F(EmbeddedLedgerTest, AFailedWriteFailsItsGroupAndEveryLaterAppendUntilReopened) {
  uint64_t written = 0;
  std::string digest;
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    written = (*l)->end_lsn();
    digest = (*l)->StateDigest();
    std::mutex mu;
    std::condition_variable cv;
    bool second_queued = false;
    (*l)->SetBeforeWriteForTesting([&] {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return second_queued; });  // the second group is queued behind this one
      return Status::IOError("injected: the disk is gone");
    });
    std::thread second;
    auto r = (*l)->Append(LeaderChange(1), [&] {
      second = std::thread([&] {  // enqueues the second group once the first holds its place
        auto again = (*l)->Append(LeaderChange(2), [&] {
          std::lock_guard<std::mutex> lock(mu);
          second_queued = true;
          cv.notify_all();
        });
        ASSERT_FALSE(again.ok());
        EXPECT_NE(again.status().ToString().find("the disk is gone"), std::string::npos)
            << again.status().ToString();
      });
    });
    second.join();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().ToString().find("the disk is gone"), std::string::npos) << r.status().ToString();
    (*l)->SetBeforeWriteForTesting(nullptr);
    for (int i = 0; i < 3; ++i) {  // without the disk failing again
      auto later = (*l)->Append(LeaderChange(3 + i));
      ASSERT_FALSE(later.ok());
      EXPECT_NE(later.status().ToString().find("the disk is gone"), std::string::npos);
    }
    EXPECT_EQ((*l)->end_lsn(), written);
  }
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)->end_lsn(), written);
  EXPECT_EQ((*l)->StateDigest(), digest);
  auto r = (*l)->Append(LeaderChange(1));
  ASSERT_TRUE(r.ok());
  for (const auto& d : *r) EXPECT_EQ(d.outcome, events::Outcome::kAccepted) << d.message;
  auto report = consumers::VerifyLog(**l);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
}

// The `state_lsn` a closed ledger under `dir` recorded (0 if none), read with RocksDB directly.
uint64_t StoredStateLsn(const fs::path& dir) {
  RawDb raw(dir, true);
  if (!raw.ok()) return 0;
  std::string v;
  uint64_t lsn = 0;
  if (raw->Get({}, raw.family(0), "state_lsn", &v).ok())
    for (char c : v) lsn = (lsn << 8) | static_cast<uint8_t>(c);
  return lsn;
}

// The decider state is written after its events, several groups at once (a key's latest write
// wins), and what a crash left unwritten is evolved from the log at Open: the state is the same
// as one rebuilt from the whole log, and the retries of everything acknowledged are duplicates.
TEST_F(EmbeddedLedgerTest, TheStateIsWrittenAfterItsEventsAndEvolvedFromTheLogAfterACrash) {
  std::string rebuilt;
  uint64_t written = 0;
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    (*l)->SetStateFlushForTesting(7, 4096);
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    for (int i = 0; i < 40; ++i) ASSERT_TRUE((*l)->Append(LeaderChange(i)).ok());  // a group each
    const std::string digest = (*l)->StateDigest();
    ASSERT_TRUE((*l)->RebuildState().ok());
    ASSERT_EQ((*l)->StateDigest(), digest);
    for (int i = 40; i < 57; ++i) ASSERT_TRUE((*l)->Append(LeaderChange(i)).ok());
    (*l)->SetStateFlushForTesting(1'000'000, 4096);  // the last groups stay unwritten
    for (int i = 57; i < 60; ++i) ASSERT_TRUE((*l)->Append(LeaderChange(i)).ok());
    written = (*l)->end_lsn();
    // A failing disk: the ledger closes without writing the state it holds.
    (*l)->SetBeforeWriteForTesting([] { return Status::IOError("injected: the disk is gone"); });
    ASSERT_FALSE((*l)->Append(LeaderChange(60)).ok());
  }
  const uint64_t state_lsn = StoredStateLsn(dir_);  // the state family covers some of the log
  EXPECT_GT(state_lsn, 100u);
  EXPECT_LT(state_lsn, written);
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  ASSERT_EQ((*l)->end_lsn(), written);
  for (int i = 0; i < 60; ++i) {
    auto r = (*l)->Append(LeaderChange(i));
    ASSERT_TRUE(r.ok());
    for (const auto& d : *r) EXPECT_EQ(d.outcome, events::Outcome::kDuplicate) << i << " " << d.message;
  }
  const std::string evolved = (*l)->StateDigest();
  ASSERT_TRUE((*l)->RebuildState().ok());
  EXPECT_EQ((*l)->StateDigest(), evolved);
  auto next = (*l)->Append(LeaderChange(60));
  ASSERT_TRUE(next.ok());
  for (const auto& d : *next) EXPECT_EQ(d.outcome, events::Outcome::kAccepted) << d.message;
}

// A trickle of small groups (a quiet service) is written too, by their number, long before it
// covers the events that trigger a flush: the retries that read them search only a few.
TEST_F(EmbeddedLedgerTest, ManySmallGroupsAreWrittenByTheirNumber) {
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    (*l)->SetStateFlushForTesting(1'000'000, 4);
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*l)->Append(LeaderChange(i)).ok());
    (*l)->SetBeforeWriteForTesting([] { return Status::IOError("injected: closes without a flush"); });
    ASSERT_FALSE((*l)->Append(LeaderChange(10)).ok());
  }
  EXPECT_GT(StoredStateLsn(dir_), 0u);
}

// Regression: the rebuild evolves in batches of 4,096 events; the state cache must learn what
// each batch wrote, or later reads see stale misses (once: the partition count was lost).
TEST_F(EmbeddedLedgerTest, RebuildingALargeStateKeepsItIdentical) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  std::vector<events::Command> changes;
  for (int i = 0; i < 1500; ++i)
    for (auto& c : LeaderChange(i)) changes.push_back(std::move(c));
  ASSERT_TRUE((*l)->Append(changes).ok());
  ASSERT_GT((*l)->end_lsn(), 4096u);
  const std::string incremental = (*l)->StateDigest();
  ASSERT_TRUE((*l)->RebuildState().ok());
  EXPECT_EQ((*l)->StateDigest(), incremental);
  EXPECT_EQ((*l)->partitions(events::kEventsTopic), 4u);
}

// A ledger written before the typed decider-state records (format 1: every record JSON as
// MessagePack, no format recorded) is rebuilt at Open, not misread.
TEST_F(EmbeddedLedgerTest, OpenRebuildsAStateOfAnOlderFormat) {
  std::string current;
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    ASSERT_TRUE((*l)->Append(LeaderChange(1)).ok());
    current = (*l)->StateDigest();
  }
  {  // Turn it into what an older version left: JSON records, and no format in the meta family.
    RawDb raw(dir_, false);
    ASSERT_TRUE(raw.ok());
    auto msgpack = [](const json& j) {
      std::vector<uint8_t> b = json::to_msgpack(j);
      return std::string(b.begin(), b.end());
    };
    ASSERT_TRUE(
        raw->Put({}, raw.family(3), "s/directory", msgpack({{"seq", 4}, {"hash", std::string(64, '0')}}))
            .ok());
    ASSERT_TRUE(
        raw->Put({}, raw.family(3), "meta", msgpack({{"clock", "system"}, {"last_at", 0}, {"partitions", 4}}))
            .ok());
    ASSERT_TRUE(raw->Delete({}, raw.family(0), "state_format").ok());
  }
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ((*l)->StateDigest(), current);
  auto again = (*l)->Append(LeaderChange(1));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)[0].outcome, events::Outcome::kDuplicate);
  auto next = (*l)->Append(LeaderChange(2));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ((*next)[1].outcome, events::Outcome::kAccepted) << (*next)[1].message;
  auto report = consumers::VerifyLog(**l);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
}

// True when `fd` has data (or EOF) within 30 s (a bound for a broken child, not a timing).
bool ReadableSoon(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 30'000) > 0;
}

// A real kill -9 of a child process in the middle of appending, many times: every command it
// was told was durable is there, none is there by halves, and the log still verifies.
TEST_F(EmbeddedLedgerTest, KilledWriterLosesNoAcknowledgedCommandAndLeavesNoHalfCommand) {
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
  }
  std::mt19937 rng(20230715);
  int next = 0, acknowledged = 0;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(fcntl(fds[0], F_SETFD, FD_CLOEXEC), 0);
    const int first = next;
    const pid_t pid =
        testing::SpawnCrashChild({"append", dir_.string(), std::to_string(first), std::to_string(fds[1])});
    ASSERT_GT(pid, 0);
    close(fds[1]);
    const int want = 1 + static_cast<int>(rng() % 20);
    int acked = -1, got = 0, v;
    while (got < want && ReadableSoon(fds[0]) && read(fds[0], &v, sizeof v) == sizeof v) {
      acked = v;
      ++got;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ASSERT_FALSE(WIFEXITED(status)) << "the writer failed on its own, status " << WEXITSTATUS(status);
    while (read(fds[0], &v, sizeof v) == sizeof v) acked = v;  // acks written before the kill
    close(fds[0]);

    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    auto report = consumers::VerifyLog(**l);
    ASSERT_TRUE(report.ok());
    ASSERT_TRUE(report->ok) << "round " << round << ": " << report->problem;
    // Every acknowledged change is there: retrying it is a duplicate.
    for (int i = first; i <= acked; ++i) {
      auto r = (*l)->Append(LeaderChange(i));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ((*r)[1].outcome, events::Outcome::kDuplicate) << "round " << round << " change " << i;
    }
    // No command is there by halves: an activation that replaces a leader has both events.
    std::map<std::string, int> per_command;
    ASSERT_TRUE(
        (*l)->ScanLog(0,
                      [&](const events::LogEntry& e) {
                        ++per_command[schema::GetEvent(e.bytes.data())->envelope()->command_id()->str()];
                        return true;
                      })
            .ok());
    for (const auto& [id, n] : per_command)
      if (id.rfind("act-", 0) == 0) {
        EXPECT_EQ(n, id == "act-0" ? 1 : 2) << "round " << round << " " << id;
      }
    const std::string incremental = (*l)->StateDigest();
    ASSERT_TRUE((*l)->RebuildState().ok());
    EXPECT_EQ((*l)->StateDigest(), incremental) << "round " << round;
    // The killed writer may have committed a few unacknowledged ones; a stalled one none.
    next = std::max(next, acked) + 1000;
    if (acked >= first) acknowledged += acked - first + 1;
  }
  EXPECT_GT(acknowledged, 8) << "the writers acknowledged too little to test anything";
}

}  // namespace
}  // namespace veeduria::producers
