// The embedded ledger's Merkle tree: its stored roots and proofs equal the reference functions
// (events/merkle.h) over the log's own bytes, for every size; checkpoints and their policy.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "../crash/ledger_commands.h"
#include "veeduria/consumers/verify.h"
#include "veeduria/events/merkle.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::producers {
namespace {

namespace fs = std::filesystem;
namespace merkle = events::merkle;
using events::Hash;
using nlohmann::json;

using testing::Bootstrap;
using testing::Cmd;
using testing::LeaderChange;

// A stand-in for Ed25519 (part of the tests only): 64 bytes derived from the message.
std::string FakeSign(std::string_view msg) {
  const Hash a = events::Sha256(msg);
  const Hash b = events::Sha256(std::string("2") + std::string(msg));
  return std::string(reinterpret_cast<const char*>(a.data()), 32) +
         std::string(reinterpret_cast<const char*>(b.data()), 32);
}

class MerkleStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("veeduria-merkle-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
         "-" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::vector<Hash> Leaves(const EmbeddedLedger& l) {
    std::vector<Hash> out;
    EXPECT_TRUE(l.ScanLog(0, [&](const events::LogEntry& e) {
                   EXPECT_EQ(e.position.lsn, out.size());
                   out.push_back(merkle::LeafHash(e.bytes));
                   return true;
                 }).ok());
    return out;
  }

  fs::path dir_;
};

TEST_F(MerkleStoreTest, RootsAndProofsEqualTheReferenceForEverySize) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  EmbeddedLedger& ledger = **l;
  ASSERT_TRUE(ledger.Append(Bootstrap()).ok());
  // Groups of varied sizes, some from concurrent callers (group commit).
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE(ledger.Append(LeaderChange(i)).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) EXPECT_TRUE(ledger.Append(LeaderChange(100 + t * 10 + i)).ok());
    });
  for (auto& th : threads) th.join();
  const std::vector<Hash> leaves = Leaves(ledger);
  const uint64_t m = ledger.end_lsn();
  ASSERT_EQ(leaves.size(), m);
  ASSERT_GE(m, 100u);

  auto empty = ledger.RootAt(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, merkle::EmptyRoot());
  std::vector<Hash> roots(m + 1);
  for (uint64_t n = 0; n <= m; ++n) {
    roots[n] = merkle::RootOf(std::vector<Hash>(leaves.begin(), leaves.begin() + n));
    auto r = ledger.RootAt(n);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(*r, roots[n]) << n;
  }
  for (uint64_t n = 1; n <= m; ++n)
    for (uint64_t i = 0; i < n; ++i) {
      auto p = ledger.InclusionProof(i, n);
      ASSERT_TRUE(p.ok());
      ASSERT_EQ(*p, merkle::InclusionProofOf(leaves, i, n)) << i << "/" << n;
      ASSERT_TRUE(merkle::VerifyInclusion(leaves[i], i, n, *p, roots[n]));
    }
  for (uint64_t n = 0; n <= m; ++n)
    for (uint64_t o = 0; o <= n; ++o) {
      auto p = ledger.ConsistencyProof(o, n);
      ASSERT_TRUE(p.ok());
      ASSERT_EQ(*p, merkle::ConsistencyProofOf(leaves, o, n)) << o << "->" << n;
      ASSERT_TRUE(merkle::VerifyConsistency(o, n, roots[o], roots[n], *p)) << o << "->" << n;
    }
  EXPECT_FALSE(ledger.RootAt(m + 1).ok());
  EXPECT_FALSE(ledger.InclusionProof(m, m).ok());
  EXPECT_FALSE(ledger.ConsistencyProof(3, 2).ok());
  EXPECT_FALSE(ledger.ConsistencyProof(1, m + 1).ok());
}

TEST_F(MerkleStoreTest, ReopeningContinuesTheTree) {
  {
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Append(Bootstrap()).ok());
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE((*l)->Append(LeaderChange(i)).ok());
  }
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  for (int i = 6; i <= 11; ++i) ASSERT_TRUE((*l)->Append(LeaderChange(i)).ok());
  const auto leaves = Leaves(**l);
  for (uint64_t n = 0; n <= leaves.size(); ++n)
    ASSERT_EQ(*(*l)->RootAt(n), merkle::RootOf(std::vector<Hash>(leaves.begin(), leaves.begin() + n))) << n;
}

TEST_F(MerkleStoreTest, ACheckpointSignsTheRootOfEverythingBeforeIt) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  EmbeddedLedger& ledger = **l;
  EXPECT_FALSE(ledger.AppendCheckpoint(FakeSign, "k1").ok());  // not initialized: nothing to sign
  EXPECT_EQ(ledger.end_lsn(), 0u);
  ASSERT_TRUE(ledger.Append(Bootstrap()).ok());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(ledger.Append(LeaderChange(i)).ok());
  const uint64_t before = ledger.end_lsn();
  std::string signed_bytes;
  auto cp = ledger.AppendCheckpoint(
      [&](std::string_view msg) {
        signed_bytes = std::string(msg);
        return FakeSign(msg);
      },
      "k1");
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  EXPECT_EQ(cp->type, "Checkpoint");
  EXPECT_EQ(cp->stream, "directory");
  EXPECT_EQ(ledger.end_lsn(), before + 1);
  const auto* ev = schema::GetEvent(cp->bytes.data());
  const auto* p = ev->payload_as_Checkpoint();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->tree_size(), before);
  const Hash root = *ledger.RootAt(before);
  EXPECT_EQ(0, std::memcmp(p->root_hash()->b()->data(), root.data(), 32));
  EXPECT_EQ(p->key_id()->str(), "k1");
  EXPECT_EQ(signed_bytes, merkle::CheckpointSignedBytes(before, root));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p->signature()->data()), p->signature()->size()),
            FakeSign(signed_bytes));
  EXPECT_EQ(ev->envelope()->actor()->user()->str(), "system");
  EXPECT_EQ(ev->envelope()->actor()->role(), schema::ActorRole::platform);
  const auto last = events::ReadLastCheckpoint(ledger.state());
  EXPECT_TRUE(last.present);
  EXPECT_EQ(last.tree_size, before);
  EXPECT_EQ(last.root, root);
  // The chain, a later append and a rebuilt decider state are unaffected.
  ASSERT_TRUE(ledger.Append(LeaderChange(4)).ok());
  auto v = consumers::VerifyLog(ledger);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  const std::string digest = ledger.StateDigest();
  ASSERT_TRUE(ledger.RebuildState().ok());
  EXPECT_EQ(ledger.StateDigest(), digest);
  // A signer that does not return an Ed25519-sized signature is refused, and nothing is written.
  const uint64_t end = ledger.end_lsn();
  EXPECT_FALSE(ledger.AppendCheckpoint([](std::string_view) { return std::string("short"); }, "k1").ok());
  EXPECT_EQ(ledger.end_lsn(), end);
  ASSERT_TRUE(ledger.Append(LeaderChange(5)).ok());
  auto v2 = consumers::VerifyLog(ledger);
  ASSERT_TRUE(v2.ok());
  EXPECT_TRUE(v2->ok) << v2->problem;
}

// The committing thread builds each group's leaves; a checkpoint decided meanwhile signs the tree
// of the groups handed off (waiting for them to be built) and of its own group's earlier events.
// Slow writes keep groups queued, so checkpoints come first, last and amid groups of several
// writers.
TEST_F(MerkleStoreTest, CheckpointsAmongConcurrentGroupsSignTheRootOfEverythingBeforeThem) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  EmbeddedLedger& ledger = **l;
  ASSERT_TRUE(ledger.Append(Bootstrap()).ok());
  ledger.SetBeforeWriteForTesting([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Status::Ok();
  });
  ledger.SetCheckpointPolicy(3, 0, FakeSign, "k1");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) EXPECT_TRUE(ledger.Append(LeaderChange(1000 + t * 100 + i)).ok());
    });
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto cp = ledger.AppendCheckpoint(FakeSign, "k2");
        EXPECT_TRUE(cp.ok()) << cp.status().message();
      }
    });
  for (auto& th : threads) th.join();
  ledger.SetCheckpointPolicy(0, 0, nullptr, "");
  const std::vector<Hash> leaves = Leaves(ledger);
  uint64_t checkpoints = 0, by_policy = 0;
  ASSERT_TRUE(ledger
                  .ScanLog(0,
                           [&](const events::LogEntry& e) {
                             const auto* ev = schema::GetEvent(e.bytes.data());
                             const auto* p = ev->payload_as_Checkpoint();
                             if (!p) return true;
                             ++checkpoints;
                             by_policy += p->key_id()->str() == "k1";
                             EXPECT_EQ(p->tree_size(), e.position.lsn);
                             const Hash root = merkle::RootOf(
                                 std::vector<Hash>(leaves.begin(), leaves.begin() + e.position.lsn));
                             EXPECT_EQ(0, std::memcmp(p->root_hash()->b()->data(), root.data(), 32))
                                 << "checkpoint at " << e.position.lsn;
                             return true;
                           })
                  .ok());
  EXPECT_EQ(checkpoints - by_policy, 20u);
  EXPECT_GE(by_policy, 5u) << leaves.size() << " events";
  auto v = consumers::VerifyLog(ledger);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->checkpoints, checkpoints);
  for (uint64_t n = 0; n <= leaves.size(); n += 7)
    ASSERT_EQ(*ledger.RootAt(n), merkle::RootOf(std::vector<Hash>(leaves.begin(), leaves.begin() + n))) << n;
}

TEST_F(MerkleStoreTest, ThePolicyCheckpointsEveryKEvents) {
  auto l = EmbeddedLedger::Open(dir_.string());
  ASSERT_TRUE(l.ok());
  EmbeddedLedger& ledger = **l;
  ledger.SetCheckpointPolicy(10, 0, FakeSign, "k1");
  ASSERT_TRUE(ledger.Append(Bootstrap()).ok());
  for (int i = 1; i <= 30; ++i) ASSERT_TRUE(ledger.Append(LeaderChange(i)).ok());
  std::vector<uint64_t> at;  // lsns of checkpoints
  uint64_t events_since = 0, max_gap = 0;
  ASSERT_TRUE(ledger
                  .ScanLog(0,
                           [&](const events::LogEntry& e) {
                             const auto* ev = schema::GetEvent(e.bytes.data());
                             if (ev->payload_type() == schema::Payload::Checkpoint) {
                               EXPECT_EQ(ev->payload_as_Checkpoint()->tree_size(), e.position.lsn);
                               at.push_back(e.position.lsn);
                               max_gap = std::max(max_gap, events_since);
                               events_since = 0;
                             } else {
                               ++events_since;
                             }
                             return true;
                           })
                  .ok());
  ASSERT_GE(at.size(), 5u);
  EXPECT_GE(max_gap, 10u);
  EXPECT_LE(max_gap, 10u + 3);  // a group of one command adds at most 3 events past the threshold
  for (uint64_t lsn : at) {
    auto r = ledger.RootAt(lsn);
    ASSERT_TRUE(r.ok());
  }
  // By time: with T = 0.05 s, a slow writer gets a checkpoint after each group.
  ledger.SetCheckpointPolicy(0, 0.05, FakeSign, "k1");
  const uint64_t before = events::ReadLastCheckpoint(ledger.state()).tree_size;
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  ASSERT_TRUE(ledger.Append(LeaderChange(99)).ok());
  EXPECT_GT(events::ReadLastCheckpoint(ledger.state()).tree_size, before);
  EXPECT_EQ(events::ReadLastCheckpoint(ledger.state()).tree_size, ledger.end_lsn() - 1);
  // Disabled: no more checkpoints.
  ledger.SetCheckpointPolicy(0, 0, nullptr, "");
  const uint64_t last = events::ReadLastCheckpoint(ledger.state()).tree_size;
  ASSERT_TRUE(ledger.Append(LeaderChange(100)).ok());
  EXPECT_EQ(events::ReadLastCheckpoint(ledger.state()).tree_size, last);
}

}  // namespace
}  // namespace veeduria::producers
