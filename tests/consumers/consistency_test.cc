// Consistency proofs between two signed checkpoints (DESIGN §2.7: "that the log only grew"):
// written from real ledgers, verified offline, a history rewritten and re-signed with the same key
// caught, and every edit of the document named.

#include "veeduria/consumers/consistency.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "evidence_fixture.h"

namespace veeduria::consumers {
namespace {

using nlohmann::json;

using testing::CheckSignature;
using testing::ParseKey;
using testing::ScenarioCommands;

class ConsistencyTest : public testing::EvidenceFixture {
 protected:
  void SetUp() override {
    EvidenceFixture::SetUp();
    ledger_ = Ledger("a");
    // Half the scenario, a checkpoint; the rest, another.
    const auto cmds = ScenarioCommands("2023-01-02T08:00:00-05:00");
    const auto half = cmds.begin() + static_cast<std::ptrdiff_t>(cmds.size() / 2);
    ASSERT_TRUE(ledger_->Append({cmds.begin(), half}).ok());
    old_ = Checkpoint(*ledger_, key_);
    ASSERT_TRUE(ledger_->Append({half, cmds.end()}).ok());
    new_ = Checkpoint(*ledger_, key_);
    ASSERT_GT(new_.position.lsn, old_.position.lsn + 20);
  }
  // A new checkpoint of `ledger` signed by `key`, as the log holds it.
  static events::LogEntry Checkpoint(producers::EmbeddedLedger& ledger, const producers::SigningKey& key) {
    EXPECT_TRUE(ledger.AppendCheckpoint(key.signer, key.key_id).ok());
    events::LogEntry out;
    EXPECT_TRUE(ledger
                    .ScanLog(ledger.end_lsn() - 1,
                             [&](const events::LogEntry& e) {
                               out = e;
                               return false;
                             })
                    .ok());
    return out;
  }
  std::string Document(const events::LogEntry& from, const events::LogEntry& to,
                       producers::EmbeddedLedger& ledger) const {
    auto proof = ledger.ConsistencyProof(from.position.lsn, to.position.lsn);
    EXPECT_TRUE(proof.ok()) << proof.status().ToString();
    return ConsistencyJson(from, to, *proof, key_.public_key_pem);
  }
  ConsistencyReport Verify(const std::string& text, const std::string& trusted = "") const {
    auto r = VerifyConsistencyJson(text, trusted, CheckSignature, ParseKey);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ConsistencyReport{};
  }
  static std::string Problems(const ConsistencyReport& r) {
    std::string out;
    for (const auto& p : r.problems) out += p + "\n";
    return out;
  }

  events::LogEntry old_, new_;
};

TEST_F(ConsistencyTest, AProofBetweenTwoCheckpointsVerifiesAndNamesBothTrees) {
  const std::string doc = Document(old_, new_, *ledger_);
  const ConsistencyReport r = Verify(doc, key_.public_key_pem);
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.old_size, old_.position.lsn);
  EXPECT_EQ(r.new_size, new_.position.lsn);
  EXPECT_EQ(r.old_root_hex, events::ToHex(*ledger_->RootAt(old_.position.lsn)));
  EXPECT_EQ(r.new_root_hex, events::ToHex(*ledger_->RootAt(new_.position.lsn)));
  EXPECT_EQ(r.key_id, key_.key_id);
  EXPECT_FALSE(json::parse(doc)["proof"].empty());
  // A checkpoint consistent with itself: an empty proof.
  EXPECT_TRUE(Verify(Document(new_, new_, *ledger_)).ok());
  // Not the trusted key.
  const ConsistencyReport untrusted = Verify(doc, other_.public_key_pem);
  ASSERT_EQ(untrusted.problems.size(), 3u) << Problems(untrusted);
  EXPECT_NE(untrusted.problems[0].find("is not the trusted key " + other_.key_id), std::string::npos);
}

// The operator rewrites the history (here: the same commands after an init an hour later, so
// every event's hash differs) and signs its checkpoint with the same key. Each checkpoint verifies
// on its own; no proof leads from the root a third party kept to the new one.
TEST_F(ConsistencyTest, ARewrittenHistoryIsCaughtEvenWhenSignedWithTheSameKey) {
  auto forged = Ledger("forged");
  ASSERT_TRUE(forged->Append(ScenarioCommands("2023-01-02T09:00:00-05:00")).ok());
  const events::LogEntry forged_cp = Checkpoint(*forged, key_);
  ASSERT_GE(forged_cp.position.lsn, old_.position.lsn);
  const ConsistencyReport r = Verify(Document(old_, forged_cp, *forged), key_.public_key_pem);
  ASSERT_EQ(r.problems.size(), 1u) << Problems(r);
  EXPECT_NE(r.problems[0].find("the log was not only appended to between the two checkpoints"),
            std::string::npos)
      << Problems(r);
  // The forged ledger's own two trees are consistent: the proof is about what a third party kept.
  const events::LogEntry later = Checkpoint(*forged, key_);
  EXPECT_TRUE(Verify(Document(forged_cp, later, *forged)).ok());
}

TEST_F(ConsistencyTest, EveryEditOfTheDocumentIsNamed) {
  const json doc = json::parse(Document(old_, new_, *ledger_));
  struct Case {
    std::string what;
    std::function<void(json&)> edit;
    std::string problem;  // a part of the one problem it must cause
  };
  const std::string signed_elsewhere = [&] {
    const events::LogEntry cp = Checkpoint(*ledger_, other_);
    return json::parse(ConsistencyJson(cp, cp, {}, key_.public_key_pem))["old"]["checkpoint"]
        .get<std::string>();
  }();
  const std::vector<Case> cases = {
      {"a proof hash changed",
       [](json& d) {
         std::string h = d["proof"][0];
         h[0] = h[0] == '0' ? '1' : '0';
         d["proof"][0] = h;
       },
       "proof: it does not lead from the root"},
      {"a proof hash dropped", [](json& d) { d["proof"].erase(d["proof"].size() - 1); },
       "proof: it does not lead from the root"},
      {"the old root declared otherwise", [](json& d) { d["old"]["root_hash"] = std::string(64, 'a'); },
       "old.checkpoint: its tree size"},
      {"the new size declared otherwise", [](json& d) { d["new"]["tree_size"] = 3; },
       "new.checkpoint: its tree size"},
      {"old and new swapped", [](json& d) { std::swap(d["old"], d["new"]); }, "is larger than the new"},
      {"a checkpoint cut short",
       [](json& d) {
         std::string c = d["old"]["checkpoint"];
         d["old"]["checkpoint"] = c.substr(0, c.size() / 2);
       },
       "old.checkpoint: not the hex of a well-formed event buffer"},
      {"a checkpoint signed by another key", [&](json& d) { d["new"]["checkpoint"] = signed_elsewhere; },
       "new.checkpoint: its tree size"},
      {"a proof hash not hex", [](json& d) { d["proof"][0] = "zz"; },
       "proof: not a list of 64-hex-digit hashes"},
  };
  for (const Case& c : cases) {
    json edited = doc;
    c.edit(edited);
    const ConsistencyReport r = Verify(edited.dump());
    ASSERT_EQ(r.problems.size(), 1u) << c.what << "\n" << Problems(r);
    EXPECT_NE(r.problems[0].find(c.problem), std::string::npos) << c.what << "\n" << Problems(r);
  }
  // Its own checkpoint's declared size and root, with another key's signature: the key is named.
  json other = doc;
  const events::LogEntry cp = Checkpoint(*ledger_, other_);
  other["new"] = json::parse(ConsistencyJson(cp, cp, {}, key_.public_key_pem))["new"];
  const ConsistencyReport r = Verify(other.dump());
  ASSERT_EQ(r.problems.size(), 1u) << Problems(r);
  EXPECT_NE(r.problems[0].find("new.checkpoint: signed by key " + other_.key_id), std::string::npos)
      << Problems(r);

  EXPECT_FALSE(VerifyConsistencyJson("{}", "", CheckSignature, ParseKey).ok());
  EXPECT_FALSE(VerifyConsistencyJson("not json", "", CheckSignature, ParseKey).ok());
  // Members of other types are refused, not thrown.
  for (const char* text : {R"({"format":5})", R"({"format":"veeduria-consistency/1","old":5})",
                           R"({"format":"veeduria-consistency/1","public_key_pem":[1]})"}) {
    auto r = VerifyConsistencyJson(text, "", CheckSignature, ParseKey);
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("not a consistency document"), std::string::npos)
        << r.status().ToString();
  }
}

}  // namespace
}  // namespace veeduria::consumers
