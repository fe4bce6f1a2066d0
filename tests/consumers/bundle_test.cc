// Evidence bundles: written from a real ledger (the 2023 scenario), verified offline, and every
// kind of tampering detected and named (issue 6).

#include "veeduria/consumers/bundle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "evidence_fixture.h"
#include "veeduria/events/merkle.h"
#include "veeduria/events/render.h"

namespace veeduria::consumers {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
void Write(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

class BundleTest : public testing::EvidenceFixture {
 protected:
  void SetUp() override {
    EvidenceFixture::SetUp();
    ledger_ = Ledger("data");
    ASSERT_TRUE(ledger_->Append(testing::ScenarioCommands("2023-01-02T08:00:00-05:00")).ok());
  }

  // A bundle of every event of `entity`'s stream, against a new checkpoint signed by `key`.
  std::string MakeBundle(const std::string& name, const std::string& entity,
                         const producers::SigningKey& key) {
    auto cp = ledger_->AppendCheckpoint(key.signer, key.key_id);
    EXPECT_TRUE(cp.ok());
    const uint64_t size = ledger_->end_lsn() - 1;
    BundleInput in;
    in.selection.entity = entity;
    in.created_at = "2024-03-01T00:00:00Z";
    in.public_key_pem = key.public_key_pem;
    in.schema_fbs = std::string(SchemaText());
    in.sign_manifest = key.signer;
    EXPECT_TRUE(ledger_
                    ->ScanLog(0,
                              [&](const events::LogEntry& e) {
                                if (e.position.lsn == size) {
                                  in.checkpoint = e;
                                  return false;
                                }
                                json j = json::parse(events::RenderEventJson(e.bytes, e.hash));
                                if (j["envelope"]["stream"] == entity || j["type"] == "CampaignOpened" ||
                                    j["payload"].value("entity", "") == entity)
                                  in.events.push_back({e, *ledger_->InclusionProof(e.position.lsn, size)});
                                return true;
                              })
                    .ok());
    const std::string dir = (root_ / name).string();
    EXPECT_TRUE(WriteBundle(in, dir).ok());
    return dir;
  }

  BundleReport Verify(const std::string& dir, const std::string& trusted = "") {
    auto r = VerifyBundle(dir, trusted, testing::CheckSignature, testing::ParseKey);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BundleReport{};
  }

  // The problem of `check` on `file`, if reported.
  static bool Has(const BundleReport& r, const std::string& file, const std::string& check) {
    for (const auto& p : r.problems)
      if (p.file == file && p.check == check) return true;
    return false;
  }
  static std::string Dump(const BundleReport& r) {
    std::string s;
    for (const auto& p : r.problems) s += p.check + " " + p.file + " " + p.event_id + ": " + p.detail + "\n";
    return s;
  }
};

TEST_F(BundleTest, AnUntouchedBundleVerifies) {
  const std::string dir = MakeBundle("b", "25799", key_);
  auto r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_GT(r.events, 50u);
  EXPECT_EQ(r.events_verified, r.events);
  EXPECT_EQ(r.key_id, key_.key_id);
  EXPECT_TRUE(Verify(dir, key_.public_key_pem).ok());
  EXPECT_TRUE(fs::exists(fs::path(dir) / "schema" / "veeduria.fbs"));
  json m = json::parse(Read(fs::path(dir) / "manifest.json"));
  EXPECT_EQ(m["format"], "veeduria-evidence/1");
  EXPECT_EQ(m["events"][0]["bytes"], "events/0001.vdev");
  const std::string html = Read(fs::path(dir) / "timeline.html");
  EXPECT_NE(html.find("TENJO (25799)"), std::string::npos);
  EXPECT_NE(html.find("6 day(s) late"), std::string::npos);       // the late Q2
  EXPECT_NE(html.find("gob25-adj-25799-q2"), std::string::npos);  // the adjustment
  EXPECT_NE(html.find("@media print"), std::string::npos);
}

TEST_F(BundleTest, AnEditedEventByteIsNamed) {
  const std::string dir = MakeBundle("b", "25799", key_);
  std::string bytes = Read(fs::path(dir) / "events/0007.vdev");
  bytes[bytes.size() / 2] ^= 0x01;
  Write(fs::path(dir) / "events/0007.vdev", bytes);
  auto r = Verify(dir);
  EXPECT_FALSE(r.ok());
  // The flipped byte either breaks the buffer or changes its hash; either way the file is named.
  EXPECT_TRUE(Has(r, "events/0007.vdev", "sha256") || Has(r, "events/0007.vdev", "decode")) << Dump(r);
  EXPECT_EQ(r.events_verified, r.events - 1);
}

TEST_F(BundleTest, AnEditedEventAndManifestStillFailsTheProof) {
  // A forger who edits the bytes and fixes the manifest's hash is caught by the Merkle proof.
  const std::string dir = MakeBundle("b", "25799", key_);
  json m = json::parse(Read(fs::path(dir) / "manifest.json"));
  const std::string bytes = Read(fs::path(dir) / "events/0003.vdev");
  const std::string other = Read(fs::path(dir) / "events/0004.vdev");
  Write(fs::path(dir) / "events/0003.vdev", other);
  m["events"][2]["sha256"] = events::ToHex(events::Sha256(other));
  Write(fs::path(dir) / "manifest.json", m.dump(2));
  auto r = Verify(dir);
  EXPECT_TRUE(Has(r, "proofs/0003.json", "inclusion")) << Dump(r);
  EXPECT_TRUE(Has(r, "events/0003.vdev", "event_id")) << Dump(r);
  EXPECT_TRUE(Has(r, "manifest.sig", "signature")) << Dump(r);
}

TEST_F(BundleTest, AnEditedProofIsNamed) {
  const std::string dir = MakeBundle("b", "25799", key_);
  json p = json::parse(Read(fs::path(dir) / "proofs/0005.json"));
  std::string h = p["path"][0];
  h[0] = h[0] == '0' ? '1' : '0';
  p["path"][0] = h;
  Write(fs::path(dir) / "proofs/0005.json", p.dump());
  auto r = Verify(dir);
  ASSERT_EQ(r.problems.size(), 1u) << Dump(r);
  EXPECT_TRUE(Has(r, "proofs/0005.json", "inclusion"));
  EXPECT_FALSE(r.problems[0].event_id.empty());
}

TEST_F(BundleTest, ARemovedEventIsNamed) {
  const std::string dir = MakeBundle("b", "25799", key_);
  fs::remove(fs::path(dir) / "events/0010.vdev");
  auto r = Verify(dir);
  EXPECT_TRUE(Has(r, "events/0010.vdev", "missing")) << Dump(r);
}

TEST_F(BundleTest, AnotherCheckpointIsNamed) {
  const std::string a = MakeBundle("a", "25799", key_);
  const std::string b = MakeBundle("b", "25799", key_);  // a later checkpoint (one more leaf)
  fs::copy_file(fs::path(b) / "checkpoint.vdev", fs::path(a) / "checkpoint.vdev",
                fs::copy_options::overwrite_existing);
  auto r = Verify(a);
  EXPECT_TRUE(Has(r, "checkpoint.vdev", "sha256")) << Dump(r);
  EXPECT_TRUE(Has(r, "checkpoint.json", "json")) << Dump(r);
  // …and the old proofs do not reach the new root.
  EXPECT_TRUE(Has(r, "proofs/0001.json", "inclusion")) << Dump(r);
}

TEST_F(BundleTest, AnotherKeyIsNamed) {
  // A checkpoint signed by another key, with that key in the bundle: fine on its own, refused
  // against the published key.
  const std::string dir = MakeBundle("b", "25799", other_);
  EXPECT_TRUE(Verify(dir).ok());
  auto r = Verify(dir, key_.public_key_pem);
  EXPECT_TRUE(Has(r, "public_key.pem", "key")) << Dump(r);
  // The bundle's key file swapped for another key: the signature no longer verifies.
  const std::string d2 = MakeBundle("c", "25799", key_);
  Write(fs::path(d2) / "public_key.pem", other_.public_key_pem);
  auto r2 = Verify(d2);
  EXPECT_TRUE(Has(r2, "checkpoint.vdev", "key") || Has(r2, "checkpoint.vdev", "signature")) << Dump(r2);
  // A checkpoint's signature edited.
  const std::string d3 = MakeBundle("d", "25799", key_);
  std::string cp = Read(fs::path(d3) / "checkpoint.vdev");
  json cpj = json::parse(Read(fs::path(d3) / "checkpoint.json"));
  const std::string sig = cpj["payload"]["signature"];
  std::string raw;
  for (size_t i = 0; i < sig.size(); i += 2)
    raw.push_back(static_cast<char>(std::stoi(sig.substr(i, 2), nullptr, 16)));
  const size_t at = cp.find(raw);
  ASSERT_NE(at, std::string::npos);
  cp[at] ^= 1;
  Write(fs::path(d3) / "checkpoint.vdev", cp);
  json m = json::parse(Read(fs::path(d3) / "manifest.json"));
  m["checkpoint"]["sha256"] = events::ToHex(events::Sha256(cp));
  Write(fs::path(d3) / "manifest.json", m.dump(2));
  auto r3 = Verify(d3);
  EXPECT_TRUE(Has(r3, "checkpoint.vdev", "signature")) << Dump(r3);
}

TEST_F(BundleTest, AnEditedJsonOrTimelineIsNamed) {
  const std::string dir = MakeBundle("b", "25799", key_);
  std::string js = Read(fs::path(dir) / "events/0002.json");
  const size_t at = js.find("25799");
  ASSERT_NE(at, std::string::npos);
  js.replace(at, 5, "25798");
  Write(fs::path(dir) / "events/0002.json", js);
  std::string html = Read(fs::path(dir) / "timeline.html");
  html.replace(html.find("on time"), 7, "on tine");
  Write(fs::path(dir) / "timeline.html", html);
  auto r = Verify(dir);
  EXPECT_TRUE(Has(r, "events/0002.json", "json")) << Dump(r);
  EXPECT_TRUE(Has(r, "timeline.html", "timeline")) << Dump(r);
}

TEST_F(BundleTest, AnEventDroppedFromTheManifestIsNamed) {
  // An event dropped from the manifest too (not just its file): the manifest is signed, so the
  // trimmed selection fails; the gap also shows in the stream's sequences (a note: a selection
  // may skip events) and the timeline no longer matches what the events render to.
  const std::string dir = MakeBundle("b", "25799", key_);
  json m = json::parse(Read(fs::path(dir) / "manifest.json"));
  m["events"].erase(m["events"].begin() + 10);
  Write(fs::path(dir) / "manifest.json", m.dump(2) + "\n");
  auto r = Verify(dir);
  EXPECT_TRUE(Has(r, "manifest.sig", "signature")) << Dump(r);
  bool gap = false;
  for (const auto& n : r.notes)
    gap |= n.find("stream 25799: sequences 1–") != std::string::npos && n.find(", ") != std::string::npos;
  EXPECT_TRUE(gap);
  EXPECT_TRUE(Has(r, "timeline.html", "timeline")) << Dump(r);
}

TEST_F(BundleTest, AMissingManifestSignatureIsNamed) {
  const std::string dir = MakeBundle("b", "25799", key_);
  fs::remove(fs::path(dir) / "manifest.sig");
  EXPECT_TRUE(Has(Verify(dir), "manifest.sig", "missing"));
}

TEST(TimelineTest, EscapesHtml) {
  const std::string ev =
      R"({"type":"ReportValidated","hash":"00","envelope":{"event_id":"e1","stream":"25799","stream_seq":1,"recorded_at":"2023-08-03T15:00:00Z","actor":{"user":"<script>alert(1)</script>","role":"dnp"}},"payload":{"entity":"25799","campaign":"KPT-2023","milestone":"Q2","note":"a & b < c \"d\" 'e'"}})";
  const std::string html = RenderTimelineHtml({"25799"}, "now", {ev}, "{}", "k");
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("a &amp; b &lt; c &quot;d&quot; &#39;e&#39;"), std::string::npos);
  EXPECT_NE(html.find("2023-08-03 10:00"), std::string::npos);  // Bogotá time
}

}  // namespace
}  // namespace veeduria::consumers
