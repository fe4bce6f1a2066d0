// ProjectionStore::Apply and each stream's chain: what it does with an event at a sequence it
// has already applied (an exact re-delivery is skipped; anything else is a fork and stops it).

#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/utilities/options_util.h>

#include <future>
#include <optional>
#include <string_view>
#include <thread>

#include "fixture.h"
#include "veeduria/events/render.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria {
namespace {

const std::string kReport =
    R"({"command":"report_progress","command_id":"tenjo-kpt23-q4-IP-310-fix","actor":"mhernandez@tenjo-cundinamarca.gov.co","at":"2024-03-01T09:00:00-05:00","entity":"25799","plan":"PDM-2020-2023","goal":"IP-310","campaign":"KPT-2023","milestone":"Q4","physical_ytd":)";

std::string Report(int physical) { return kReport + std::to_string(physical) + "}"; }

// The event of `stream` at `seq` in `ledger`, with its log position.
std::optional<events::LogEntry> EventAt(const producers::EmbeddedLedger& ledger, const std::string& stream,
                                        uint64_t seq) {
  std::optional<events::LogEntry> found;
  for (uint32_t p = 0; p < ledger.partitions(events::kEventsTopic) && !found; ++p) {
    Status s = ledger.ScanPartition(events::kEventsTopic, p, 0, [&](const events::LogEntry& e) {
      const auto* env = schema::GetEvent(e.bytes.data())->envelope();
      if (env->stream()->str() == stream && env->stream_seq() == seq) found = e;
      return !found;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return found;
}

// Two ledgers with the same history until 25799's next event, which differs: `original` reports
// 700 and goes on, `forked` reports 701. `seq` is that event's stream_seq.
struct Fork {
  testing::LedgerFixture original, forked;
  uint64_t seq = 0;
  Fork() {
    original.LoadScenario("tests/scenarios/cycle_2023.scn");
    forked.LoadScenario("tests/scenarios/cycle_2023.scn");
    const auto a = original.Submit(Report(700));
    const auto b = forked.Submit(Report(701));
    EXPECT_EQ(a.events.size(), 1u);
    EXPECT_EQ(b.events.size(), 1u);
    seq = schema::GetEvent(a.events.at(0).bytes.data())->envelope()->stream_seq();
    EXPECT_EQ(seq, schema::GetEvent(b.events.at(0).bytes.data())->envelope()->stream_seq());
    EXPECT_NE(a.events.at(0).hash, b.events.at(0).hash);
    // The original's head moves past the forked sequence.
    original.Submit(std::string(
        R"({"command":"report_progress","command_id":"tenjo-kpt23-q4-IP-155-fix","actor":"mhernandez@tenjo-cundinamarca.gov.co","at":"2024-03-01T10:00:00-05:00","entity":"25799","plan":"PDM-2020-2023","goal":"IP-155","campaign":"KPT-2023","milestone":"Q4","physical_ytd":12})"));
    original.CatchUp();
  }
};

// `entry` re-delivered at the next offset of its partition in `store`.
events::LogEntry AtNextOffset(const projections::ProjectionStore& store, events::LogEntry entry) {
  entry.position.offset = store.NextOffset(entry.position.topic, entry.position.partition);
  return entry;
}

TEST(ProjectionStoreTest, ExactRedeliveryBelowTheHeadIsSkipped) {
  Fork f;
  const auto digests = f.original.store().Digests();
  const auto copy = EventAt(f.original.ledger(), "25799", f.seq);
  ASSERT_TRUE(copy);
  const events::LogEntry again = AtNextOffset(f.original.store(), *copy);
  ASSERT_TRUE(f.original.store().Apply({again}).ok());
  EXPECT_EQ(f.original.store().Digests(), digests);
  EXPECT_EQ(f.original.store().NextOffset(again.position.topic, again.position.partition),
            again.position.offset + 1);
}

TEST(ProjectionStoreTest, ADifferentEventAtAnAppliedSeqStopsAndIsNamed) {
  Fork f;
  const auto digests = f.original.store().Digests();
  const auto ours = EventAt(f.original.ledger(), "25799", f.seq);
  const auto theirs = EventAt(f.forked.ledger(), "25799", f.seq);
  ASSERT_TRUE(ours && theirs);
  const events::LogEntry fork = AtNextOffset(f.original.store(), *theirs);
  const Status s = f.original.store().Apply({fork});
  ASSERT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  const std::string m = s.ToString();
  EXPECT_NE(m.find("stream 25799"), std::string::npos) << m;
  EXPECT_NE(m.find("seq " + std::to_string(f.seq)), std::string::npos) << m;
  EXPECT_NE(m.find(fork.position.topic + "/" + std::to_string(fork.position.partition) + " offset " +
                   std::to_string(fork.position.offset)),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(events::ToHex(ours->hash)), std::string::npos) << m;
  EXPECT_NE(m.find(events::ToHex(theirs->hash)), std::string::npos) << m;
  // Nothing of it was written, and the offset did not move.
  EXPECT_EQ(f.original.store().Digests(), digests);
  EXPECT_EQ(f.original.store().NextOffset(fork.position.topic, fork.position.partition),
            fork.position.offset);
}

// The chain index holds a row per stretch of a stream a batch applied. One projection reset and
// replayed in batches of 7 writes its stretches again under the rows the first catch-up wrote:
// afterwards, and after a reopen, every event of the stream re-delivered is still recognised
// (the rows' last sequences and lengths both matter), and the fork still stops.
TEST(ProjectionStoreTest, EveryEventOfAStreamIsRecognisedAfterAProjectionIsReplayedInSmallBatches) {
  Fork f;
  ASSERT_TRUE(f.original.store().Reset("reviews").ok());
  f.original.CatchUp(7);
  f.original.Close();
  f.original.Reopen();
  const auto digests = f.original.store().Digests();
  size_t redelivered = 0;
  for (uint64_t seq = 1;; ++seq) {
    const auto copy = EventAt(f.original.ledger(), "25799", seq);
    if (!copy) break;
    const Status s = f.original.store().Apply({AtNextOffset(f.original.store(), *copy)});
    ASSERT_TRUE(s.ok()) << "seq " << seq << ": " << s.ToString();
    ++redelivered;
  }
  EXPECT_GT(redelivered, 20u);
  EXPECT_EQ(f.original.store().Digests(), digests);
  const auto theirs = EventAt(f.forked.ledger(), "25799", f.seq);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(f.original.store().Apply({AtNextOffset(f.original.store(), *theirs)}).code(),
            StatusCode::kCorruption);
}

// The same, after the store was closed and opened again (the chain is durable, not a cache), and
// in a batch that also holds new events: the batch stops whole.
TEST(ProjectionStoreTest, AForkIsFoundAfterReopenAndStopsTheWholeBatch) {
  Fork f;
  f.original.Close();
  f.original.Reopen();
  const auto digests = f.original.store().Digests();
  const auto theirs = EventAt(f.forked.ledger(), "25799", f.seq);
  ASSERT_TRUE(theirs);
  events::LogEntry fork = AtNextOffset(f.original.store(), *theirs);
  f.original.Submit(Report(702));  // a new event, not yet projected
  const auto fresh = EventAt(f.original.ledger(), "25799", f.seq + 2);
  ASSERT_TRUE(fresh);
  ASSERT_EQ(fresh->position.partition, fork.position.partition);
  std::vector<events::LogEntry> batch = {AtNextOffset(f.original.store(), *fresh), fork};
  batch[1].position.offset = batch[0].position.offset + 1;
  EXPECT_EQ(f.original.store().Apply(batch).code(), StatusCode::kCorruption);
  EXPECT_EQ(f.original.store().Digests(), digests);
}

// The levels of DATA/projections that hold files of `family`'s column family.
rocksdb::ColumnFamilyMetaData FamilyMeta(const std::string& data_dir, const std::string& family) {
  const std::string path = data_dir + "/projections";
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  EXPECT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs, &handles, &db).ok());
  rocksdb::ColumnFamilyMetaData meta;
  for (auto* h : handles) {
    if (h->GetName() == family) db->GetColumnFamilyMetaData(h, &meta);
    db->DestroyColumnFamilyHandle(h);
  }
  delete db;
  return meta;
}

std::vector<int> LevelsWithFiles(const std::string& data_dir, const std::string& family) {
  std::vector<int> levels;
  for (const auto& l : FamilyMeta(data_dir, family).levels)
    if (!l.files.empty()) levels.push_back(l.level);
  return levels;
}

// The rows are byte for byte those of the reference layout: the digests of `veeduria gen --scale
// tiny` (seed 2023) after `veeduria init --clock simulated --admin admin@dnp.gov.co --at
// 2023-01-02T08:00:00-05:00` and `veeduria submit`, as the binary of main at a55a8b9 printed them
// (`veeduria digest`), except audit's: its version 3 (the object index holds the index entries)
// and version 4 (the fold index holds only the events an as-of view folds, no actor index) and
// version 5 (a/ rows: the objects and plans each actor changed) changed its rows; and progress's: its version
// 2 (temporal rows, each event a new version) and version 3 (y/ and r/ rows as arrays of what the queries
// read) changed them. Faster folds must not change a byte; a deliberate layout change bumps the projection's
// version() and these figures. Checked for a rebuild and for incremental batches.
TEST(ProjectionStoreTest, RowsMatchTheReferenceLayoutByteForByte) {
  const std::vector<std::pair<std::string, std::string>> reference = {
      {"progress", "9708f845e8b8da9b73cc60dcecbd644158fef8fc183b1dd449bfe0f5a2612bd9"},
      {"audit", "ea9f64eb3dbb181bda441c3481fca19ce1038c76f745219c02e7f05b019cc9f5"},
      {"reviews", "4df311259d8366a4c81b3ef375b0e6ca56ff372306b3fcab7a2db13653ee7d4b"},
      {"compliance", "668015300b915cf4e9f87b147615dae6ae2652f4d9f1fee83650336448aa073d"},
      {"users", "a67934f9f43d1e27f03bab933f4fe9cbe983b372bc6bdf9ea17c2a8c90a36820"},
      {"mdm", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}};
  testing::LedgerFixture f;
  testing::InitForGenerated(f, "tiny");
  std::vector<events::Command> commands;
  ASSERT_NO_FATAL_FAILURE(testing::GeneratedCommands("tiny", &commands));
  for (size_t i = 0; i < commands.size(); i += 100) {
    const size_t end = std::min(commands.size(), i + 100);
    ASSERT_TRUE(f.ledger().Append({commands.begin() + i, commands.begin() + end}).ok());
    f.CatchUp(7);  // incremental, in small batches
  }
  EXPECT_EQ(f.store().Digests(), reference);
  ASSERT_TRUE(f.store().Reset("").ok());
  f.CatchUp();  // a rebuild
  EXPECT_EQ(f.store().Digests(), reference);
  // In bulk mode, in runs small enough that rows are rewritten across runs.
  auto bulk = projections::ProjectionStore::Open((f.dir() / "bulk").string(), {.bulk_events = 150});
  ASSERT_TRUE(bulk.ok()) << bulk.status().ToString();
  auto r = consumers::CatchUp(f.ledger(), **bulk, 64);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*bulk)->Digests(), reference);
  // Its runs, each spanning every entity, are ingested level above level. The temporal
  // projection's (progress: as-of queries scan an entity's every version) are then compacted into
  // one sorted run, and the time-indexed one's (audit: its queries seek ranges) merged into one in
  // the background; the rows stay the same.
  ASSERT_TRUE((*bulk)->FinishMerge().ok());
  EXPECT_FALSE((*bulk)->merging());
  EXPECT_EQ((*bulk)->Digests(), reference);
  bulk->reset();
  EXPECT_EQ(LevelsWithFiles((f.dir() / "bulk").string(), "progress").size(), 1u);
  EXPECT_EQ(LevelsWithFiles((f.dir() / "bulk").string(), "audit").size(), 1u);
  // Each run's rows cut into a file per core (written at once), the same rows: a family's slices
  // of one run never overlap, and all of a run is ingested or none. Seen here in the audit
  // family's runs, not merged.
  const std::string sliced = (f.dir() / "sliced").string();
  projections::StoreOptions keep_runs{.bulk_events = 150, .slice_bytes = 4096};
  keep_runs.before_merge = [] { return Status::Internal("runs kept for the test"); };
  auto small = projections::ProjectionStore::Open(sliced, keep_runs);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  r = consumers::CatchUp(f.ledger(), **small, 64);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*small)->FinishMerge().code(), StatusCode::kInternal);
  EXPECT_EQ((*small)->Digests(), reference);
  small->reset();
  const std::vector<int> audit_levels = LevelsWithFiles(sliced, "audit");
  EXPECT_GT(audit_levels.size(), 1u);
  if (std::thread::hardware_concurrency() > 1) {
    EXPECT_GT(FamilyMeta(sliced, "audit").file_count, audit_levels.size());
  }
}

// A bulk run copies its writes-only rows into pooled chunks, a value bigger than a quarter of one
// (1 MiB) into memory of its own: an event of several MiB (a refused report's, with its 3 MiB
// note) is stored whole, the same rows as incremental application (in batches of 7) gives.
TEST(ProjectionStoreTest, AnEventBiggerThanAChunkIsStoredWholeByABulkRun) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const std::string note(3 << 20, 'n');
  const events::Decision d = f.Submit(nlohmann::json{{"command", "report_progress"},
                                                     {"command_id", "tenjo-big-note"},
                                                     {"actor", "mhernandez@tenjo-cundinamarca.gov.co"},
                                                     {"at", "2024-03-01T09:00:00-05:00"},
                                                     {"entity", "25799"},
                                                     {"plan", "PDM-2020-2023"},
                                                     {"goal", "IP-155"},
                                                     {"campaign", "KPT-2023"},
                                                     {"milestone", "Q1"},
                                                     {"physical_ytd", 5},
                                                     {"note", note}});
  ASSERT_EQ(d.events.size(), 1u) << d.message;       // refused (the campaign closed): recorded with its note
  f.LoadScenario("tests/scenarios/cycle_2023.scn");  // duplicates now: refused, recorded, more runs
  f.CatchUp(7);
  auto bulk = projections::ProjectionStore::Open((f.dir() / "bulk").string(), {.bulk_events = 100});
  ASSERT_TRUE(bulk.ok()) << bulk.status().ToString();
  auto r = consumers::CatchUp(f.ledger(), **bulk, 32);  // runs of 100 events: later ones reuse chunks
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*bulk)->Digests(), f.store().Digests());
  // The audit index holds the event's bytes whole (an index entry ends with them).
  const std::string& bytes = d.events[0].bytes;
  ASSERT_GT(bytes.size(), size_t{3} << 20);
  size_t holding = 0;
  (*bulk)->rows("audit").Scan("", [&](std::string_view, std::string_view v) {
    holding += v.ends_with(bytes);
    return true;
  });
  EXPECT_GE(holding, 1u);
}

std::vector<events::LogEntry> Partition(const producers::EmbeddedLedger& ledger, std::string_view topic,
                                        uint32_t partition) {
  std::vector<events::LogEntry> all;
  Status s = ledger.ScanPartition(topic, partition, 0, [&](const events::LogEntry& e) {
    all.push_back(e);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return all;
}

bool Empty(const projections::Rows& rows) {
  bool empty = true;
  rows.Scan("", [&](std::string_view, std::string_view) { return empty = false; });
  return empty;
}

// Bulk mode holds what it applied until a run is written: not visible, not durable (a store
// closed without Flush resumes from the stored offsets), and the catch-up then ends identical.
TEST(ProjectionStoreTest, BulkModeHoldsRowsUntilARunIsWritten) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();
  const std::string dir = (f.dir() / "bulk").string();
  const auto directory = Partition(f.ledger(), events::kDirectoryTopic, 0);
  ASSERT_GT(directory.size(), 20u);
  {
    auto bulk = projections::ProjectionStore::Open(dir, {.bulk_events = 1'000'000});
    ASSERT_TRUE(bulk.ok());
    ASSERT_TRUE((*bulk)->Apply({directory.begin(), directory.begin() + 10}).ok());
    EXPECT_EQ((*bulk)->NextOffset(events::kDirectoryTopic, 0), 10u);
    EXPECT_TRUE(Empty((*bulk)->rows("audit")));
    EXPECT_TRUE(Empty((*bulk)->rows("users")));
  }  // closed without Flush: as a crash
  {
    auto bulk = projections::ProjectionStore::Open(dir, {.bulk_events = 1'000'000});
    ASSERT_TRUE(bulk.ok());
    EXPECT_EQ((*bulk)->NextOffset(events::kDirectoryTopic, 0), 0u);
    ASSERT_TRUE((*bulk)->Apply({directory.begin(), directory.begin() + 10}).ok());
    ASSERT_TRUE((*bulk)->Flush().ok());
    EXPECT_FALSE(Empty((*bulk)->rows("audit")));
  }
  auto reopened = projections::ProjectionStore::Open(dir, {.bulk_events = 1'000'000});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->NextOffset(events::kDirectoryTopic, 0), 10u);
  ASSERT_TRUE(consumers::CatchUp(f.ledger(), **reopened).ok());
  EXPECT_EQ((*reopened)->Digests(), digests);
}

// One projection reset while a run is held: its replay re-applies events the run already holds
// chain entries of, and the run is written once with each (sorted runs, unique keys).
TEST(ProjectionStoreTest, BulkModeResetsOneProjectionWithinARun) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();
  auto bulk = projections::ProjectionStore::Open((f.dir() / "bulk").string(), {.bulk_events = 1'000'000});
  ASSERT_TRUE(bulk.ok());
  ASSERT_TRUE(consumers::CatchUp(f.ledger(), **bulk).ok());
  ASSERT_TRUE((*bulk)->SetBulkEvents(1'000'000).ok());  // written; the next run starts empty
  ASSERT_TRUE((*bulk)->Reset("progress").ok());
  ASSERT_TRUE((*bulk)->Reset("reviews").ok());
  const auto directory = Partition(f.ledger(), events::kDirectoryTopic, 0);
  ASSERT_TRUE((*bulk)->Apply(directory).ok());   // only progress and reviews apply it
  ASSERT_TRUE((*bulk)->Reset("progress").ok());  // again, within the run
  ASSERT_TRUE(consumers::CatchUp(f.ledger(), **bulk).ok());
  EXPECT_EQ((*bulk)->Digests(), digests);
}

// The chain check in bulk mode, where what it compares with may not be written yet.
TEST(ProjectionStoreTest, BulkModeSkipsReDeliveriesAndStopsOnForks) {
  Fork f;
  const auto ours = EventAt(f.original.ledger(), "25799", f.seq);
  const auto theirs = EventAt(f.forked.ledger(), "25799", f.seq);
  ASSERT_TRUE(ours && theirs);
  auto bulk =
      projections::ProjectionStore::Open((f.original.dir() / "bulk").string(), {.bulk_events = 1'000'000});
  ASSERT_TRUE(bulk.ok());
  const auto partition = Partition(f.original.ledger(), ours->position.topic, ours->position.partition);
  ASSERT_TRUE((*bulk)->Apply(partition).ok());
  ASSERT_TRUE((*bulk)->Apply({AtNextOffset(**bulk, *ours)}).ok());
  const events::LogEntry fork = AtNextOffset(**bulk, *theirs);
  const Status s = (*bulk)->Apply({fork});
  ASSERT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.ToString().find(events::ToHex(ours->hash)), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find(events::ToHex(theirs->hash)), std::string::npos) << s.ToString();
  // What it held is dropped, as after a crash: it resumes from the stored offsets (none).
  EXPECT_EQ((*bulk)->NextOffset(fork.position.topic, fork.position.partition), 0u);
}

// Every entry of the log, partition by partition, as CatchUp hands them over.
std::vector<std::vector<events::LogEntry>> AllPartitions(const producers::EmbeddedLedger& ledger) {
  std::vector<std::vector<events::LogEntry>> all;
  for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic})
    for (uint32_t p = 0; p < ledger.partitions(topic); ++p) all.push_back(Partition(ledger, topic, p));
  return all;
}

// Holds the writer of bulk run `run` until Release() or its own end, so that a test sees the
// store while that run is being written. Declare it after the store it holds, so that it releases
// the writer before the store waits for it.
class RunLatch {
 public:
  explicit RunLatch(uint64_t run) : run_(run), released_(release_.get_future().share()) {}
  ~RunLatch() { Release(); }
  std::function<Status(uint64_t)> Hook() const {
    return [run = run_, released = released_](uint64_t r) {
      if (r == run) released.wait();
      return Status::Ok();
    };
  }
  void Release() {
    if (!done_) release_.set_value();
    done_ = true;
  }

 private:
  const uint64_t run_;
  std::promise<void> release_;
  std::shared_future<void> released_;
  bool done_ = false;
};

// A run is written in the background while the next batches fold: their read-modify-write rows
// (users, reviews, compliance) read the rows of the run being written, which readers do not see
// until it is ingested; the rebuild ends identical to the incremental projection.
TEST(ProjectionStoreTest, BulkModeFoldsOverARunBeingWritten) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();
  std::unique_ptr<projections::ProjectionStore> bulk;
  RunLatch latch(0);
  auto opened = projections::ProjectionStore::Open((f.dir() / "bulk").string(),
                                                   {.bulk_events = 10, .before_ingest = latch.Hook()});
  ASSERT_TRUE(opened.ok());
  bulk = std::move(*opened);
  const auto partitions = AllPartitions(f.ledger());
  const auto& directory = partitions.at(0);
  ASSERT_GT(directory.size(), 20u);
  ASSERT_TRUE(bulk->Apply({directory.begin(), directory.begin() + 10}).ok());  // run 0, held
  // Fewer than bulk_events: no other run is due (it would wait for run 0).
  ASSERT_TRUE(bulk->Apply({directory.begin() + 10, directory.begin() + 19}).ok());  // folds over it
  EXPECT_EQ(bulk->NextOffset(events::kDirectoryTopic, 0), 19u);
  EXPECT_TRUE(Empty(bulk->rows("users")));  // run 0 is not ingested yet
  EXPECT_TRUE(Empty(bulk->rows("audit")));
  latch.Release();
  ASSERT_TRUE(bulk->Apply({directory.begin() + 19, directory.end()}).ok());
  for (size_t i = 1; i < partitions.size(); ++i)
    for (size_t at = 0; at < partitions[i].size(); at += 7)  // a run every other batch
      ASSERT_TRUE(bulk->Apply({partitions[i].begin() + at,
                               partitions[i].begin() + std::min(at + 7, partitions[i].size())})
                      .ok());
  ASSERT_TRUE(bulk->Flush().ok());
  EXPECT_EQ(bulk->Digests(), digests);
}

// A store closed while a run is being written (as a crash after its ingest): that run is
// durable with its offsets, what was folded after it is not, and a catch-up from there ends
// identical.
TEST(ProjectionStoreTest, BulkModeClosedBetweenRunsResumesAfterTheLastRun) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();
  const std::string dir = (f.dir() / "bulk").string();
  const auto directory = Partition(f.ledger(), events::kDirectoryTopic, 0);
  ASSERT_GT(directory.size(), 20u);
  {
    auto bulk = projections::ProjectionStore::Open(dir, {.bulk_events = 10});
    ASSERT_TRUE(bulk.ok());
    ASSERT_TRUE((*bulk)->Apply({directory.begin(), directory.begin() + 12}).ok());  // run 0
    ASSERT_TRUE((*bulk)->Apply({directory.begin() + 12, directory.begin() + 15}).ok());
    EXPECT_EQ((*bulk)->NextOffset(events::kDirectoryTopic, 0), 15u);
  }  // closed without Flush
  auto reopened = projections::ProjectionStore::Open(dir, {.bulk_events = 10});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->NextOffset(events::kDirectoryTopic, 0), 12u);
  EXPECT_FALSE(Empty((*reopened)->rows("users")));
  ASSERT_TRUE(consumers::CatchUp(f.ledger(), **reopened, 5).ok());
  EXPECT_EQ((*reopened)->Digests(), digests);
}

// A run that fails to be written (here: before its ingest) fails the next write of a run, and
// drops what was folded over it: the store resumes from the offsets it holds, and ends identical.
TEST(ProjectionStoreTest, BulkModeDropsWhatWasFoldedOverAFailedRun) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();
  const std::string dir = (f.dir() / "bulk").string();
  const auto directory = Partition(f.ledger(), events::kDirectoryTopic, 0);
  ASSERT_GT(directory.size(), 25u);
  auto bulk = projections::ProjectionStore::Open(
      dir, {.bulk_events = 10, .before_ingest = [](uint64_t run) {
              return run == 1 ? Status::IOError("disk full (injected)") : Status::Ok();
            }});
  ASSERT_TRUE(bulk.ok());
  ASSERT_TRUE((*bulk)->Apply({directory.begin(), directory.begin() + 10}).ok());       // run 0
  ASSERT_TRUE((*bulk)->Apply({directory.begin() + 10, directory.begin() + 20}).ok());  // run 1
  ASSERT_TRUE((*bulk)->Apply({directory.begin() + 20, directory.begin() + 25}).ok());
  const Status s = (*bulk)->Flush();
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_EQ((*bulk)->NextOffset(events::kDirectoryTopic, 0), 10u);  // run 0's
  ASSERT_TRUE(consumers::CatchUp(f.ledger(), **bulk, 5).ok());      // runs 2, 3…
  EXPECT_EQ((*bulk)->Digests(), digests);
}

// Whether each projection's family has RocksDB's automatic compactions off, as the store's latest
// OPTIONS file says (RocksDB writes one at each SetOptions).
std::map<std::string, bool> CompactionsHeld(const std::string& data_dir) {
  rocksdb::ConfigOptions config;
  config.ignore_unknown_options = true;
  rocksdb::DBOptions db;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  const rocksdb::Status s = rocksdb::LoadLatestOptions(config, data_dir + "/projections", &db, &cfs);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::map<std::string, bool> held;
  for (const auto& cf : cfs)
    if (cf.name != rocksdb::kDefaultColumnFamilyName) held[cf.name] = cf.options.disable_auto_compactions;
  return held;
}

// While a bulk catch-up writes runs, RocksDB does not compact the families merged at its end
// (progress at once, audit in the background): each run spans every entity, and compacting them
// as they come is work the one-pass merge does again. The merge lets them go, and so does a
// catch-up that fails: a store in use afterwards compacts them as any other.
TEST(ProjectionStoreTest, ABulkCatchUpHoldsTheCompactionsOfTheFamiliesItMergesUntilItMergesThem) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();
  const std::map<std::string, bool> held = {{"audit", true},    {"compliance", false}, {"mdm", false},
                                            {"progress", true}, {"reviews", false},    {"users", false}};
  const std::map<std::string, bool> none = {{"audit", false},    {"compliance", false}, {"mdm", false},
                                            {"progress", false}, {"reviews", false},    {"users", false}};
  const std::string dir = (f.dir() / "bulk").string();
  std::vector<std::map<std::string, bool>> at_ingest;
  auto bulk = projections::ProjectionStore::Open(dir, {.bulk_events = 10, .before_ingest = [&](uint64_t) {
                                                         at_ingest.push_back(CompactionsHeld(dir));
                                                         return Status::Ok();
                                                       }});
  ASSERT_TRUE(bulk.ok());
  ASSERT_TRUE(consumers::CatchUp(f.ledger(), **bulk, 5).ok());
  ASSERT_TRUE((*bulk)->FinishMerge().ok());
  EXPECT_EQ((*bulk)->Digests(), digests);
  ASSERT_GT(at_ingest.size(), 2u);
  for (size_t run = 0; run < at_ingest.size(); ++run) EXPECT_EQ(at_ingest[run], held) << "run " << run;
  EXPECT_EQ(CompactionsHeld(dir), none);

  const std::string failing = (f.dir() / "failing").string();
  auto failed = projections::ProjectionStore::Open(
      failing, {.bulk_events = 10, .before_ingest = [](uint64_t run) {
                  return run == 2 ? Status::IOError("disk full (injected)") : Status::Ok();
                }});
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(consumers::CatchUp(f.ledger(), **failed, 5).status().code(), StatusCode::kIOError);
  EXPECT_EQ(CompactionsHeld(failing), none);

  const std::string unmerged = (f.dir() / "unmerged").string();
  projections::StoreOptions failing_merge{.bulk_events = 10};
  failing_merge.before_merge = [] { return Status::Internal("merge failed (injected)"); };
  auto kept = projections::ProjectionStore::Open(unmerged, failing_merge);
  ASSERT_TRUE(kept.ok());
  ASSERT_TRUE(consumers::CatchUp(f.ledger(), **kept, 5).ok());
  EXPECT_EQ((*kept)->FinishMerge().code(), StatusCode::kInternal);
  EXPECT_EQ(CompactionsHeld(unmerged), none);
}

// A bulk catch-up's families hold unmerged runs until their merge completes; a process that ended
// before (a rebuild stopped while it merged, or while it caught up) leaves a marker in the store,
// and the next one to serve from it merges them (ResumeMerge), once: the rows stay the same.
TEST(ProjectionStoreTest, AMergeAProcessLeftUndoneIsDoneByTheNextOneThatResumesIt) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();

  // Stopped while it merged: progress was merged at the end of the catch-up, audit was not.
  const std::string dir = (f.dir() / "stopped").string();
  {
    projections::StoreOptions unmerged{.bulk_events = 10};
    unmerged.before_merge = [] { return Status::Unavailable("the process ended (injected)"); };
    auto bulk = projections::ProjectionStore::Open(dir, unmerged);
    ASSERT_TRUE(bulk.ok());
    ASSERT_TRUE(consumers::CatchUp(f.ledger(), **bulk, 5).ok());
    EXPECT_EQ((*bulk)->FinishMerge().code(), StatusCode::kUnavailable);
  }
  EXPECT_GT(LevelsWithFiles(dir, "audit").size(), 1u);
  // From the open to the merge, RocksDB does not compact a family that awaits one (it would
  // merge the runs level into level, which the merge does again); the others it does.
  const std::map<std::string, bool> audit_held = {{"audit", true},    {"compliance", false},
                                                  {"mdm", false},     {"progress", false},
                                                  {"reviews", false}, {"users", false}};
  const std::map<std::string, bool> none = {{"audit", false},    {"compliance", false}, {"mdm", false},
                                            {"progress", false}, {"reviews", false},    {"users", false}};
  {
    auto reopened = projections::ProjectionStore::Open(dir);
    ASSERT_TRUE(reopened.ok());
    EXPECT_EQ(CompactionsHeld(dir), audit_held);
    EXPECT_EQ((*reopened)->ResumeMerge(), std::vector<std::string>{"audit"});
    ASSERT_TRUE((*reopened)->FinishMerge().ok());
    EXPECT_EQ(CompactionsHeld(dir), none);
    EXPECT_FALSE((*reopened)->merging());
    EXPECT_EQ((*reopened)->Digests(), digests);
    EXPECT_TRUE((*reopened)->ResumeMerge().empty());  // done: nothing left
  }
  EXPECT_EQ(LevelsWithFiles(dir, "audit").size(), 1u);

  // Stopped while it caught up: runs ingested, neither family merged. Resetting a projection
  // leaves its fresh family nothing to merge.
  const std::string killed = (f.dir() / "killed").string();
  const auto directory = Partition(f.ledger(), events::kDirectoryTopic, 0);
  ASSERT_GT(directory.size(), 25u);
  {
    auto bulk = projections::ProjectionStore::Open(killed, {.bulk_events = 10});
    ASSERT_TRUE(bulk.ok());
    for (size_t i = 0; i < 25; i += 5)
      ASSERT_TRUE((*bulk)->Apply({directory.begin() + i, directory.begin() + i + 5}).ok());
  }  // closed without Flush: runs 0 and 1 ingested
  EXPECT_GT(LevelsWithFiles(killed, "audit").size(), 1u);
  {
    auto reopened = projections::ProjectionStore::Open(killed);
    ASSERT_TRUE(reopened.ok());
    std::map<std::string, bool> both_held = audit_held;
    both_held["progress"] = true;
    EXPECT_EQ(CompactionsHeld(killed), both_held);
    ASSERT_TRUE((*reopened)->Reset("progress").ok());
    EXPECT_EQ(CompactionsHeld(killed), audit_held);  // a fresh family, nothing to merge
    EXPECT_EQ((*reopened)->ResumeMerge(), std::vector<std::string>{"audit"});
    ASSERT_TRUE((*reopened)->FinishMerge().ok());
    EXPECT_EQ(CompactionsHeld(killed), none);
  }
  EXPECT_EQ(LevelsWithFiles(killed, "audit").size(), 1u);
  auto resumed = projections::ProjectionStore::Open(killed);
  ASSERT_TRUE(resumed.ok());
  EXPECT_TRUE((*resumed)->ResumeMerge().empty());
  ASSERT_TRUE(consumers::CatchUp(f.ledger(), **resumed).ok());
  EXPECT_EQ((*resumed)->Digests(), digests);
  resumed->reset();

  // A rebuild of users alone writes runs to no family merged at the end: stopped, it leaves
  // nothing to merge.
  {
    auto bulk = projections::ProjectionStore::Open(killed, {.bulk_events = 10});
    ASSERT_TRUE(bulk.ok());
    ASSERT_TRUE((*bulk)->Reset("users").ok());
    for (size_t i = 0; i < 25; i += 5)
      ASSERT_TRUE((*bulk)->Apply({directory.begin() + i, directory.begin() + i + 5}).ok());
  }
  auto users_only = projections::ProjectionStore::Open(killed);
  ASSERT_TRUE(users_only.ok());
  EXPECT_TRUE((*users_only)->PendingMerges().empty());
  EXPECT_EQ(CompactionsHeld(killed), none);
  users_only->reset();

  // A process that writes outside bulk mode and never merges (`submit`, `import`) lets a pending
  // family go at its first batch: held, its level-0 files would pile up unmerged. The merge stays
  // pending for the next process that resumes it.
  const std::string writes = (f.dir() / "writes").string();
  {
    projections::StoreOptions unmerged{.bulk_events = 10};
    unmerged.before_merge = [] { return Status::Unavailable("the process ended (injected)"); };
    auto bulk = projections::ProjectionStore::Open(writes, unmerged);
    ASSERT_TRUE(bulk.ok());
    ASSERT_TRUE(consumers::CatchUp(f.ledger(), **bulk, 5).ok());
  }
  auto writer = projections::ProjectionStore::Open(writes);
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ(CompactionsHeld(writes), audit_held);
  ASSERT_TRUE((*writer)->Apply({directory.front()}).ok());  // a re-delivery: skipped, but a batch
  EXPECT_EQ(CompactionsHeld(writes), none);
  EXPECT_EQ((*writer)->PendingMerges(), std::vector<std::string>{"audit"});
  writer->reset();

  // Once a merge has begun, a batch leaves its family held: `serve` catches up while it merges.
  std::promise<void> release;
  projections::StoreOptions waiting;
  waiting.before_merge = [released = release.get_future().share()] {
    released.wait();
    return Status::Ok();
  };
  auto server = projections::ProjectionStore::Open(writes, waiting);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(CompactionsHeld(writes), audit_held);
  EXPECT_EQ((*server)->ResumeMerge(), std::vector<std::string>{"audit"});
  ASSERT_TRUE((*server)->Apply({directory.front()}).ok());
  EXPECT_EQ(CompactionsHeld(writes), audit_held);
  release.set_value();
  ASSERT_TRUE((*server)->FinishMerge().ok());
  EXPECT_EQ(CompactionsHeld(writes), none);
  EXPECT_TRUE((*server)->PendingMerges().empty());
}

// CatchUp reads a partition one batch ahead of the batch being applied (on a thread of its own
// once a partition holds more than one batch): any batch size gives the same rows.
TEST(CatchUpTest, ReadingAheadGivesTheSameRowsAtAnyBatchSize) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto digests = f.store().Digests();
  for (size_t batch : {1, 3, 1000}) {
    auto store = projections::ProjectionStore::Open((f.dir() / ("b" + std::to_string(batch))).string());
    ASSERT_TRUE(store.ok());
    auto r = consumers::CatchUp(f.ledger(), **store, batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*store)->Digests(), digests) << "batch " << batch;
  }
}

// A target that fails its third batch: the catch-up stops there with its status, the reading
// ahead is ended, and nothing after it is applied.
TEST(CatchUpTest, AFailedBatchStopsTheReadingAhead) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  class Failing : public events::ProjectionTarget {
   public:
    uint64_t NextOffset(std::string_view, uint32_t) const override { return 0; }
    Status Apply(const std::vector<events::LogEntry>& entries) override {
      if (++batches == 3) return Status::Unavailable("injected");
      events += entries.size();
      return Status::Ok();
    }
    int batches = 0;
    size_t events = 0;
  } target;
  auto r = consumers::CatchUp(f.ledger(), target, 2);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(target.batches, 3);
  EXPECT_EQ(target.events, 4u);
}

}  // namespace
}  // namespace veeduria
