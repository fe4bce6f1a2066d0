// veeduria verify with checkpoints: tamper tests (DESIGN §2.7, issue 6). Each edit is detected and
// the first bad event or checkpoint is named by lsn (offset and stream travel with it).
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "veeduria/consumers/verify.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/merkle.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::consumers {
namespace {

using events::Hash;
using nlohmann::json;
namespace merkle = events::merkle;

class VectorLog : public events::LogReader {
 public:
  std::vector<events::LogEntry> entries;
  uint32_t partitions(std::string_view) const override { return 1; }
  Status ScanLog(uint64_t from, const std::function<bool(const events::LogEntry&)>& fn) const override {
    for (const auto& e : entries)
      if (e.position.lsn >= from && !fn(e)) break;
    return Status::Ok();
  }
  Status ScanPartition(std::string_view, uint32_t, uint64_t,
                       const std::function<bool(const events::LogEntry&)>&) const override {
    return Status::Internal("not used");
  }
  void Renumber() {
    for (size_t i = 0; i < entries.size(); ++i) entries[i].position.lsn = entries[i].position.offset = i;
  }
};

std::string FakeSign(std::string_view msg) {
  const Hash a = events::Sha256(std::string("k1 ") + std::string(msg));
  const Hash b = events::Sha256(std::string("k1' ") + std::string(msg));
  return std::string(reinterpret_cast<const char*>(a.data()), 32) +
         std::string(reinterpret_cast<const char*>(b.data()), 32);
}
bool FakeVerify(std::string_view msg, std::string_view sig, const std::string& key_id) {
  return key_id == "k1" && sig == FakeSign(msg);
}

// lsn: 0 init, 1 register 25, 2–4 refusals on stream 25799, 5 a refusal on stream 91,
// 6 CHECKPOINT(6), 7–8 refusals on 25799, 9 register 05, 10 refusal on 91, 11 CHECKPOINT(11),
// 12 refusal on 25799.
struct Fixture {
  VectorLog log;
  events::MemoryState st;
  merkle::Frontier tree;
  void Add(const events::SealedEvent& e) {
    EXPECT_TRUE(events::Evolve(st, e));
    events::LogEntry le;
    le.position.topic = "events";
    le.position.lsn = le.position.offset = log.entries.size();
    le.hash = e.hash;
    le.bytes = e.bytes;
    log.entries.push_back(le);
    tree.Append(merkle::LeafHash(e.bytes));
  }
  void Apply(json j) {
    auto p = events::ParseCommand(j.dump(), 0);
    ASSERT_TRUE(p.command);
    for (auto& e : events::Decide(st, *p.command, 0).events) Add(e);
  }
  void Refuse(const std::string& entity, int i) {
    Apply({{"command", "submit_report"},
           {"command_id", "s" + entity + "-" + std::to_string(i)},
           {"actor", "x@y.co"},
           {"at", "2023-01-03T09:00:00-05:00"},
           {"entity", entity},
           {"campaign", "K"},
           {"milestone", "Q1"}});
  }
  void Register(const std::string& code, const std::string& name) {
    Apply({{"command", "register_entity"},
           {"command_id", "e" + code},
           {"actor", "admin@dnp.gov.co"},
           {"at", "2023-01-02T09:00:00-05:00"},
           {"entity", code},
           {"name", name},
           {"kind", "departamento"},
           {"department", code}});
  }
  void Checkpoint() {
    const Hash root = tree.Root();
    Add(events::SealCheckpoint(st, tree.size(), root, "k1",
                               FakeSign(merkle::CheckpointSignedBytes(tree.size(), root)),
                               events::ReadLedgerMeta(st).last_at));
  }
  Fixture() {
    Apply({{"command", "init"},
           {"command_id", "init"},
           {"actor", "admin@dnp.gov.co"},
           {"clock", "simulated"},
           {"admin", "admin@dnp.gov.co"},
           {"at", "2023-01-02T08:00:00-05:00"}});
    Register("25", "CUNDINAMARCA");
    for (int i = 0; i < 3; ++i) Refuse("25799", i);
    Refuse("91", 0);
    Checkpoint();
    for (int i = 3; i < 5; ++i) Refuse("25799", i);
    Register("05", "ANTIOQUIA");
    Refuse("91", 1);
    Checkpoint();
    Refuse("25799", 5);
  }
};

VerifyOptions WithKey() {
  VerifyOptions o;
  o.verify_signature = FakeVerify;
  return o;
}

// Flips a bit of `needle` inside the bytes of entry `i`; with `rehash`, also recomputes its stored hash.
void Edit(VectorLog& log, size_t i, std::string_view needle, bool rehash) {
  std::string& b = log.entries[i].bytes;
  const size_t at = b.find(needle);
  ASSERT_NE(at, std::string::npos);
  b[at + needle.size() / 2] ^= 0x20;
  if (rehash) log.entries[i].hash = events::Sha256(b);
}
std::string_view RootBytes(const events::LogEntry& e) {
  const auto* cp = schema::GetEvent(e.bytes.data())->payload_as_Checkpoint();
  return {reinterpret_cast<const char*>(cp->root_hash()->b()->data()), 32};
}
std::string SignatureBytes(const events::LogEntry& e) {
  const auto* cp = schema::GetEvent(e.bytes.data())->payload_as_Checkpoint();
  return {reinterpret_cast<const char*>(cp->signature()->data()), cp->signature()->size()};
}

// The tree's right edge at any size, from the log's own leaves, as the ledger's stored nodes give it.
std::function<Result<merkle::Frontier>(uint64_t)> StoredEdge(const VectorLog& log) {
  auto leaves = std::make_shared<std::vector<Hash>>();
  for (const auto& e : log.entries) leaves->push_back(merkle::LeafHash(e.bytes));
  return [leaves](uint64_t size) -> Result<merkle::Frontier> {
    merkle::Frontier fr;
    for (uint64_t i = 0; i < size; ++i) fr.Append((*leaves)[i]);
    return fr;
  };
}

TEST(VerifyCheckpointTest, AnIntactLogWithCheckpointsVerifies) {
  Fixture f;
  ASSERT_EQ(f.log.entries.size(), 13u);
  auto r = VerifyLog(f.log, WithKey());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << r->problem;
  EXPECT_EQ(r->events, 13u);
  EXPECT_EQ(r->checkpoints, 2u);
  EXPECT_EQ(r->signatures_checked, 2u);
  EXPECT_EQ(r->last_checkpoint_lsn, 11u);
  auto u = VerifyLog(f.log);  // no key: roots checked, signatures reported unchecked
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->ok);
  EXPECT_EQ(u->signatures_unchecked, 2u);
  EXPECT_EQ(u->signatures_checked, 0u);
}

TEST(VerifyCheckpointTest, AnEventsChangedByteIsNamed) {
  Fixture f;
  f.log.entries[3].bytes[f.log.entries[3].bytes.size() - 12] ^= 1;
  auto r = VerifyLog(f.log, WithKey());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->position.lsn, 3u);
  EXPECT_EQ(r->stream, "25799");
  EXPECT_FALSE(r->at_checkpoint);
}

TEST(VerifyCheckpointTest, AStreamsLastEventRewrittenWithItsHashIsCaughtByTheNextCheckpoint) {
  // Lsn 5 is stream 91's only event before the checkpoint: no later prev_hash covers it until lsn 10.
  Fixture f;
  Edit(f.log, 5, "91", true);
  auto r = VerifyLog(f.log, WithKey());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->position.lsn, 6u);
  EXPECT_TRUE(r->at_checkpoint);
  EXPECT_EQ(r->stream, "directory");
  EXPECT_NE(r->problem.find("is not the Merkle root of the 6 events"), std::string::npos) << r->problem;
}

TEST(VerifyCheckpointTest, ARemovedEventIsNamed) {
  {  // removed, lsns left as they were: the gap
    Fixture f;
    f.log.entries.erase(f.log.entries.begin() + 5);
    auto r = VerifyLog(f.log, WithKey());
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->position.lsn, 6u);
    EXPECT_NE(r->problem.find("lsn 6 where 5 was expected"), std::string::npos) << r->problem;
  }
  {  // removed and the log renumbered: the checkpoint no longer covers what precedes it
    Fixture f;
    f.log.entries.erase(f.log.entries.begin() + 5);
    f.log.Renumber();
    auto r = VerifyLog(f.log, WithKey());
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->position.lsn, 5u);
    EXPECT_TRUE(r->at_checkpoint);
    EXPECT_NE(r->problem.find("tree_size 6 but 5 events precede it"), std::string::npos) << r->problem;
  }
  {  // within a stream: its chain
    Fixture f;
    f.log.entries.erase(f.log.entries.begin() + 3);
    f.log.Renumber();
    auto r = VerifyLog(f.log, WithKey());
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->stream, "25799");
    EXPECT_EQ(r->position.lsn, 3u);
  }
}

TEST(VerifyCheckpointTest, TwoSwappedEventsAreNamed) {
  {  // different streams: every chain is intact, the root is not
    Fixture f;
    std::swap(f.log.entries[4].bytes, f.log.entries[5].bytes);
    std::swap(f.log.entries[4].hash, f.log.entries[5].hash);
    auto r = VerifyLog(f.log, WithKey());
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->position.lsn, 6u);
    EXPECT_TRUE(r->at_checkpoint);
  }
  {  // same stream: the sequence
    Fixture f;
    std::swap(f.log.entries[7].bytes, f.log.entries[8].bytes);
    std::swap(f.log.entries[7].hash, f.log.entries[8].hash);
    auto r = VerifyLog(f.log, WithKey());
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->position.lsn, 7u);
    EXPECT_FALSE(r->at_checkpoint);
  }
}

TEST(VerifyCheckpointTest, AChangedCheckpointRootIsNamed) {
  {  // bytes only: the stored hash
    Fixture f;
    Edit(f.log, 6, RootBytes(f.log.entries[6]), false);
    auto r = VerifyLog(f.log, WithKey());
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->position.lsn, 6u);
  }
  {  // bytes and hash of the last checkpoint (no later directory event): the root itself
    Fixture f;
    Edit(f.log, 11, RootBytes(f.log.entries[11]), true);
    auto r = VerifyLog(f.log);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->position.lsn, 11u);
    EXPECT_TRUE(r->at_checkpoint);
    EXPECT_EQ(r->stream, "directory");
    EXPECT_NE(r->problem.find("root_hash"), std::string::npos) << r->problem;
  }
}

TEST(VerifyCheckpointTest, AChangedCheckpointSignatureIsNamed) {
  Fixture f;
  Edit(f.log, 11, SignatureBytes(f.log.entries[11]), true);
  auto r = VerifyLog(f.log, WithKey());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->position.lsn, 11u);
  EXPECT_TRUE(r->at_checkpoint);
  EXPECT_NE(r->problem.find("signature does not verify with key 'k1'"), std::string::npos) << r->problem;
  auto u = VerifyLog(f.log);  // without the key the signature cannot be judged: unchecked
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->ok);
  EXPECT_EQ(u->signatures_unchecked, 2u);
}

TEST(VerifyCheckpointTest, FromATrustedCheckpointChecksOnlyWhatCameAfter) {
  Fixture f;
  const auto frontier_at = StoredEdge(f.log);
  f.log.entries[3].bytes[f.log.entries[3].bytes.size() - 12] ^= 1;  // before the trusted point: not read
  for (bool stored_edge : {false, true}) {
    VerifyOptions o = WithKey();
    o.from_checkpoint = 6;
    if (stored_edge) o.frontier_at = frontier_at;
    auto r = VerifyLog(f.log, o);
    ASSERT_TRUE(r.ok());
    if (stored_edge) {
      EXPECT_TRUE(r->ok) << r->problem;
      EXPECT_EQ(r->skipped, 7u);
      EXPECT_EQ(r->events, 6u);
      EXPECT_EQ(r->checkpoints, 1u);
    } else {
      // Hashing the prefix's leaves from their (edited) bytes: the trusted root does not match.
      EXPECT_FALSE(r->ok);
      EXPECT_EQ(r->position.lsn, 6u);
      EXPECT_NE(r->problem.find("the trusted checkpoint"), std::string::npos) << r->problem;
    }
  }
  {  // after the trusted point: named
    Fixture g;
    g.log.entries[8].bytes[g.log.entries[8].bytes.size() - 12] ^= 1;
    VerifyOptions o = WithKey();
    o.from_checkpoint = 6;
    auto r = VerifyLog(g.log, o);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->position.lsn, 8u);
  }
  {  // not a checkpoint
    Fixture g;
    VerifyOptions o;
    o.from_checkpoint = 5;
    auto r = VerifyLog(g.log, o);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_NE(r->problem.find("is not a checkpoint"), std::string::npos);
  }
  {  // a stored edge that does not fold to the trusted root
    Fixture g;
    VerifyOptions o;
    o.from_checkpoint = 11;
    o.frontier_at = [&](uint64_t size) { return frontier_at(size - 1); };
    auto r = VerifyLog(g.log, o);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->position.lsn, 11u);
  }
  {  // beyond the log
    Fixture g;
    VerifyOptions o;
    o.from_checkpoint = 40;
    auto r = VerifyLog(g.log, o);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
  }
}

// The same over a log of several of the batches verify hashes on a second thread: the roots of
// checkpoints beyond the first batch, a trusted checkpoint in a later batch (with and without the
// stored edge), and an edit on either side of it.
TEST(VerifyCheckpointTest, CheckpointsOfALongLogAreCheckedFromAnyBatch) {
  Fixture f;  // 13 events, then checkpoints at lsn 3014 and 6016
  for (int i = 100; i < 3100; ++i) f.Refuse("25799", i);
  f.Checkpoint();
  const uint64_t trusted = f.log.entries.size() - 1;
  ASSERT_EQ(trusted, 3013u);
  for (int i = 100; i < 3100; ++i) f.Refuse(i % 2 ? "91" : "25799", 10000 + i);
  f.Checkpoint();
  f.Refuse("91", 99999);
  const auto frontier_at = StoredEdge(f.log);
  auto r = VerifyLog(f.log, WithKey());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << r->problem;
  EXPECT_EQ(r->checkpoints, 4u);
  EXPECT_EQ(r->events, f.log.entries.size());
  for (bool stored_edge : {false, true}) {
    VerifyOptions o = WithKey();
    o.from_checkpoint = trusted;
    if (stored_edge) o.frontier_at = frontier_at;
    auto t = VerifyLog(f.log, o);
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t->ok) << t->problem;
    EXPECT_EQ(t->skipped, trusted + 1);
    EXPECT_EQ(t->checkpoints, 1u);
  }
  {  // an event of the trusted prefix, in its second batch, rewritten with its hash
    VectorLog log = f.log;
    Edit(log, 2500, "25799", true);
    VerifyOptions o = WithKey();
    o.from_checkpoint = trusted;
    o.frontier_at = frontier_at;
    auto t = VerifyLog(log, o);  // trusted: not hashed
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t->ok) << t->problem;
    o.frontier_at = nullptr;  // its leaf hashed: the trusted root does not match
    t = VerifyLog(log, o);
    ASSERT_TRUE(t.ok());
    EXPECT_FALSE(t->ok);
    EXPECT_EQ(t->position.lsn, trusted);
    auto full = VerifyLog(log, WithKey());  // everything checked: the stream's next prev_hash
    ASSERT_TRUE(full.ok());
    EXPECT_FALSE(full->ok);
    EXPECT_EQ(full->position.lsn, 2501u);
  }
  {  // after the trusted point, the last event of stream 91 before the second checkpoint
    VectorLog log = f.log;
    Edit(log, 6013, "91", true);
    VerifyOptions o = WithKey();
    o.from_checkpoint = trusted;
    o.frontier_at = frontier_at;
    auto t = VerifyLog(log, o);
    ASSERT_TRUE(t.ok());
    EXPECT_FALSE(t->ok);
    EXPECT_EQ(t->position.lsn, 6014u);
    EXPECT_TRUE(t->at_checkpoint);
  }
}

}  // namespace
}  // namespace veeduria::consumers
