// Keys, checkpoints, evidence bundles and consistency proofs (issue 6): `init`'s signing key,
// `key show`, `checkpoint`, `evidence`, `verify --bundle`, `consistency`, `verify --consistency`,
// and the periodic checkpoint policy.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "veeduria/consumers/bundle.h"
#include "veeduria/consumers/consistency.h"
#include "veeduria/events/render.h"
#include "veeduria/events/time.h"
#include "veeduria/producers/keys.h"
#include "veeduria/projections/projection.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

Result<producers::SigningKey> LoadKey(const std::string& data) {
  auto config = producers::ReadLedgerConfig(data);
  if (!config.ok()) return config.status();
  return producers::LoadSigningKey(producers::SigningKeyPath(data, *config));
}

std::optional<events::Micros> Bound(const std::string& text, bool upper) {
  if (text.empty()) return upper ? INT64_MAX : INT64_MIN;
  if (auto t = events::ParseRfc3339(text)) return t;
  if (auto d = events::ParseDate(text))
    return upper ? events::EndOfBogotaDay(*d) : events::EndOfBogotaDay(*d - 1) + 1;
  return std::nullopt;
}

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The signature check and key parser the offline verifications use.
bool CheckSignature(std::string_view msg, std::string_view sig, std::string_view pem) {
  return producers::VerifySignature(pem, msg, sig);
}
Result<std::pair<std::string, std::string>> ParseKey(std::string_view pem) {
  auto k = producers::ParsePublicKey(pem);
  if (!k.ok()) return k.status();
  return std::make_pair(k->key_id, k->raw);
}

}  // namespace

int RunInitKey(const std::string& data, const std::string& signing_key) {
  producers::LedgerConfig config;
  if (!signing_key.empty()) config.signing_key = fs::absolute(signing_key).string();
  const std::string path = producers::SigningKeyPath(data, config);
  if (fs::exists(path)) {
    auto k = producers::LoadSigningKey(path);
    if (!k.ok()) return Fail(k.status().ToString());
    std::cout << "signing key: using the existing key " << path << " (key id " << k->key_id << ")\n";
  } else {
    Status s = producers::CreateSigningKey(path);
    if (!s.ok()) return Fail(s.ToString());
    auto k = producers::LoadSigningKey(path);
    if (!k.ok()) return Fail(k.status().ToString());
    std::cout << "signing key: created " << path << " (Ed25519, mode 0600, key id " << k->key_id
              << "); publish its public key: veeduria key show\n";
  }
  Status s = producers::WriteLedgerConfig(data, config);
  return s.ok() ? 0 : Fail(s.ToString());
}

int RunKeyShow(const std::string& data) {
  auto key = LoadKey(data);
  if (!key.ok()) return Fail(key.status().ToString());
  std::cout << "key_id: " << key->key_id << "\n"
            << "public_key_hex: "
            << events::ToHex(reinterpret_cast<const uint8_t*>(key->public_key_raw.data()),
                             key->public_key_raw.size())
            << "\n"
            << key->public_key_pem;
  return 0;
}

void ConfigureCheckpointPolicy(const std::string& data, producers::EmbeddedLedger& ledger) {
  auto config = producers::ReadLedgerConfig(data);
  if (!config.ok()) return;
  auto key = producers::LoadSigningKey(producers::SigningKeyPath(data, *config));
  if (!key.ok()) return;  // a ledger without a key (created before keys existed): no periodic checkpoints
  ledger.SetCheckpointPolicy(config->checkpoint_every_events,
                             static_cast<double>(config->checkpoint_every_seconds), key->signer, key->key_id);
}

int RunCheckpoint(const std::string& data) {
  auto ledger = OpenLedger(data, true);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  auto key = LoadKey(data);
  if (!key.ok()) return Fail(key.status().ToString());
  const auto start = std::chrono::steady_clock::now();
  auto cp = (*ledger)->AppendCheckpoint(key->signer, key->key_id);
  if (!cp.ok()) return Fail(cp.status().ToString());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  json j = json::parse(events::RenderEventJson(cp->bytes, cp->hash));
  std::cout << "checkpoint: tree_size " << j["payload"].value("tree_size", uint64_t{0}) << ", root "
            << j["payload"].value("root_hash", "") << ", key " << key->key_id << ", event "
            << j["envelope"].value("event_id", "") << " (" << ms << " ms)\n";
  return 0;
}

Result<EvidenceSummary> WriteEvidence(producers::EmbeddedLedger& ledger, const std::string& data,
                                      const EvidenceOptions& o) {
  auto key = LoadKey(data);
  if (!key.ok()) return Status(key.status().code(), key.status().ToString());
  if (o.milestone.size() && o.campaign.empty())
    return Status::InvalidArgument("--milestone needs --campaign");
  const auto from = Bound(o.from, false), to = Bound(o.to, true);
  if (!from || !to) return Status::InvalidArgument("--from/--to: not an RFC 3339 time or a date");
  if (o.checkpoint_first) {
    auto cp = ledger.AppendCheckpoint(key->signer, key->key_id);
    if (!cp.ok()) return Status(cp.status().code(), cp.status().ToString());
  }
  const events::CheckpointInfo last = events::ReadLastCheckpoint(ledger.state());
  if (!last.present)
    return Status::FailedPrecondition(
        "the ledger has no checkpoint yet: run 'veeduria checkpoint' (or pass --checkpoint)");
  consumers::BundleInput in;
  in.selection = {o.entity, o.campaign, o.milestone, o.from, o.to};
  in.created_at = events::FormatRfc3339(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  in.public_key_pem = key->public_key_pem;
  in.schema_fbs = std::string(consumers::SchemaText());
  in.sign_manifest = key->signer;
  bool found_cp = false;
  size_t after = 0;
  // What concerns the entity is on its own stream, in its partition of the events topic, or on
  // the directory stream (projections::IndexKeysOf): those two partitions are read, not the whole
  // log, and what they give is put back in lsn order.
  auto visit = [&](const events::LogEntry& le) {
    if (le.position.lsn == last.tree_size) {
      in.checkpoint = le;
      found_cp = true;
    }
    const auto* ev = schema::GetEvent(le.bytes.data());
    if (!ev->envelope() || ev->payload_type() == schema::Payload::Checkpoint) return true;
    projections::EventRef ref{ev, ev->envelope(), le.bytes, le.hash, le.position};
    const auto keys = projections::IndexKeysOf(ref);
    const bool mine = std::find(keys.begin(), keys.end(), o.entity) != keys.end();
    const bool global = std::find(keys.begin(), keys.end(), "*") != keys.end();
    const auto type = ev->payload_type();
    const bool deadline =
        type == schema::Payload::CampaignOpened || type == schema::Payload::DeadlineExtended;
    if (!mine && !(global && deadline)) return true;
    json j = json::parse(events::RenderEventJson(le.bytes, le.hash));
    const json p = j.value("payload", json::object());
    std::string campaign = p.value("campaign", ""), milestone = p.value("milestone", "");
    if (type == schema::Payload::CommandRejected) {
      json c = json::parse(p.value("command_json", "{}"), nullptr, false);
      if (c.is_object()) campaign = c.value("campaign", ""), milestone = c.value("milestone", "");
    }
    if (milestone.empty()) milestone = j["envelope"].value("cut", "");
    bool keep;
    if (type == schema::Payload::EntityRegistered) {
      keep = true;  // who the entity is
    } else if (type == schema::Payload::CampaignOpened) {
      keep = o.campaign.empty() || campaign == o.campaign;  // what was due
    } else {
      const events::Micros at = ev->envelope()->recorded_at();
      keep = at >= *from && at <= *to;
      const bool who = type == schema::Payload::LeaderRequested || type == schema::Payload::LeaderActivated ||
                       type == schema::Payload::UserDeactivated || type == schema::Payload::RoleGranted ||
                       type == schema::Payload::RoleRevoked;
      if (keep && !o.campaign.empty() && !who)
        keep = campaign == o.campaign && (o.milestone.empty() || milestone == o.milestone);
    }
    if (!keep) return true;
    if (le.position.lsn >= last.tree_size) {
      ++after;
      return true;
    }
    in.events.push_back({le, {}});
    return true;
  };
  const events::LogPosition own = events::PartitionOf(o.entity, ledger.partitions(events::kEventsTopic));
  Status scanned = ledger.ScanPartition(events::kDirectoryTopic, 0, 0, visit);
  if (scanned.ok() && own.topic != events::kDirectoryTopic)
    scanned = ledger.ScanPartition(own.topic, own.partition, 0, visit);
  if (!scanned.ok()) return Status(scanned.code(), scanned.ToString());
  std::sort(in.events.begin(), in.events.end(),
            [](const consumers::BundleEvent& a, const consumers::BundleEvent& b) {
              return a.entry.position.lsn < b.entry.position.lsn;
            });
  if (!found_cp)
    return Status::Corruption("the latest checkpoint (lsn " + std::to_string(last.tree_size) +
                              ") is not in the log");
  {
    json cp = json::parse(events::RenderEventJson(in.checkpoint.bytes, in.checkpoint.hash));
    if (cp["payload"].value("key_id", "") != key->key_id)
      return Status::FailedPrecondition("the latest checkpoint is signed by key " +
                                        cp["payload"].value("key_id", "") + ", the configured key is " +
                                        key->key_id);
  }
  const auto proved = std::chrono::steady_clock::now();
  for (auto& e : in.events) {
    auto proof = ledger.InclusionProof(e.entry.position.lsn, last.tree_size);
    if (!proof.ok()) return Status(proof.status().code(), proof.status().ToString());
    e.proof = std::move(*proof);
  }
  const double proof_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - proved).count();
  Status w = consumers::WriteBundle(in, o.out);
  if (!w.ok()) return Status(w.code(), w.ToString());
  return EvidenceSummary{in.events.size(), last.tree_size, events::ToHex(last.root),
                         key->key_id,      proof_s,        after};
}

int RunEvidence(const std::string& data, const EvidenceOptions& o) {
  auto ledger_r = OpenLedger(data, true);
  if (!ledger_r.ok()) return Fail(ledger_r.status().ToString());
  const auto start = std::chrono::steady_clock::now();
  auto r = WriteEvidence(**ledger_r, data, o);
  if (!r.ok()) return Fail(r.status().message());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "evidence: " << r->events << " events of " << o.entity << " with inclusion proofs against "
            << "the checkpoint of " << r->tree_size << " events (root " << r->root_hex << ", key "
            << r->key_id << ") in " << o.out << " (" << s << " s, proofs " << r->proof_seconds << " s)\n";
  if (r->after)
    std::cerr << "note: " << r->after
              << " matching event(s) recorded after that checkpoint are not in the bundle; "
              << "run 'veeduria checkpoint' (or pass --checkpoint) to include them\n";
  std::cout << "  open " << o.out << "/timeline.html; check with: veeduria verify --bundle " << o.out << "\n";
  return 0;
}

int RunVerifyBundle(const std::string& dir, const std::string& key_file) {
  std::string trusted;
  if (!key_file.empty()) {
    auto t = ReadText(key_file);
    if (!t.ok()) return Fail(t.status().ToString());
    trusted = *t;
  }
  const auto start = std::chrono::steady_clock::now();
  auto report = consumers::VerifyBundle(dir, trusted, CheckSignature, ParseKey);
  if (!report.ok()) return Fail(report.status().ToString());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& n : report->notes) std::cout << "  " << n << "\n";
  if (report->ok()) {
    std::cout << "verify --bundle: OK: " << report->events
              << " events; every file matches the manifest, every "
              << "inclusion proof reaches the root of the checkpoint of " << report->tree_size << " events ("
              << report->root_hex << "), signed by key " << report->key_id
              << (key_file.empty()
                      ? " (the bundle's own key: compare it with the published one, or pass --key)"
                      : " (the key given with --key)")
              << "; chains consistent; timeline.html matches (" << s << " s)\n";
    return 0;
  }
  std::cout << "verify --bundle: FAILED: " << report->problems.size() << " problem(s); "
            << report->events_verified << " of " << report->events << " events pass every check\n";
  for (const auto& p : report->problems)
    std::cout << "  " << p.check << ": " << (p.file.empty() ? "" : p.file)
              << (p.event_id.empty() ? "" : " (event " + p.event_id + ")") << ": " << p.detail << "\n";
  return 2;
}

Result<std::string> ConsistencyDocument(const producers::EmbeddedLedger& ledger, const std::string& data,
                                        uint64_t from_size, std::optional<uint64_t> to_size) {
  auto key = LoadKey(data);
  if (!key.ok()) return Status(key.status().code(), key.status().ToString());
  // A checkpoint of tree size N is the event at lsn N: two point reads. Only a refusal lists them
  // all, from the directory stream's partition, which holds them.
  const events::CheckpointInfo last = events::ReadLastCheckpoint(ledger.state());
  if (!last.present)
    return Status::FailedPrecondition("the ledger has no checkpoint yet: run 'veeduria checkpoint'");
  const uint64_t to = to_size.value_or(last.tree_size);
  std::map<uint64_t, events::LogEntry> checkpoints;  // by tree size
  for (const uint64_t size : {from_size, to}) {
    if (size >= ledger.end_lsn()) continue;
    Status read = ledger.ScanLog(size, [&](const events::LogEntry& le) {
      const auto* cp = schema::GetEvent(le.bytes.data())->payload_as_Checkpoint();
      if (cp != nullptr && cp->tree_size() == size) checkpoints.emplace(size, le);
      return false;
    });
    if (!read.ok()) return Status(read.code(), read.ToString());
  }
  for (const uint64_t size : {from_size, to})
    if (!checkpoints.count(size)) {
      std::string sizes;
      Status scanned = ledger.ScanPartition(events::kDirectoryTopic, 0, 0, [&](const events::LogEntry& le) {
        const auto* cp = schema::GetEvent(le.bytes.data())->payload_as_Checkpoint();
        if (cp != nullptr && cp->tree_size() == le.position.lsn)
          sizes += (sizes.empty() ? "" : ", ") + std::to_string(cp->tree_size());
        return true;
      });
      if (!scanned.ok()) return Status(scanned.code(), scanned.ToString());
      return Status::InvalidArgument("no signed checkpoint of tree size " + std::to_string(size) +
                                     "; the ledger's are of " + sizes);
    }
  if (from_size > to)
    return Status::InvalidArgument("--from-size " + std::to_string(from_size) + " is after --to-size " +
                                   std::to_string(to));
  for (const uint64_t size : {from_size, to}) {
    const auto* cp = schema::GetEvent(checkpoints.at(size).bytes.data())->payload_as_Checkpoint();
    const std::string signed_by = cp->key_id() ? cp->key_id()->str() : "";
    if (signed_by != key->key_id)
      return Status::FailedPrecondition("the checkpoint of tree size " + std::to_string(size) +
                                        " is signed by key " + signed_by + ", the configured key is " +
                                        key->key_id + ": the document would carry the wrong public key");
  }
  auto proof = ledger.ConsistencyProof(from_size, to);
  if (!proof.ok()) return Status(proof.status().code(), proof.status().ToString());
  return consumers::ConsistencyJson(checkpoints.at(from_size), checkpoints.at(to), *proof,
                                    key->public_key_pem);
}

int RunConsistency(const std::string& data, uint64_t from_size, std::optional<uint64_t> to_size,
                   const std::string& out) {
  auto ledger = OpenLedger(data, true);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  auto doc = ConsistencyDocument(**ledger, data, from_size, to_size);
  if (!doc.ok()) return Fail(doc.status().message());
  if (out.empty()) {
    std::cout << *doc;
    return 0;
  }
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file << *doc;
  file.close();
  if (!file) return Fail("cannot write " + out);
  const json j = json::parse(*doc);
  std::cout << "consistency: the checkpoint of " << j["new"]["tree_size"] << " events extends the one of "
            << j["old"]["tree_size"] << " (" << j["proof"].size() << " proof hashes) in " << out
            << "; check with: veeduria verify --consistency " << out << " --key PUBLISHED.pem\n";
  return 0;
}

int RunVerifyConsistency(const std::string& file, const std::string& key_file) {
  auto text = ReadText(file);
  if (!text.ok()) return Fail(text.status().ToString());
  std::string trusted;
  if (!key_file.empty()) {
    auto t = ReadText(key_file);
    if (!t.ok()) return Fail(t.status().ToString());
    trusted = *t;
  }
  auto report = consumers::VerifyConsistencyJson(*text, trusted, CheckSignature, ParseKey);
  if (!report.ok()) return Fail(file + ": " + report.status().message());
  if (report->ok()) {
    std::cout << "verify --consistency: OK: the log of " << report->new_size << " events (root "
              << report->new_root_hex << ") extends the log of " << report->old_size << " events (root "
              << report->old_root_hex << "): none of those " << report->old_size
              << " was edited, removed or reordered; both checkpoints signed by key " << report->key_id
              << (key_file.empty()
                      ? " (the document's own key: compare it with the published one, or pass --key)"
                      : " (the key given with --key)")
              << "\n";
    return 0;
  }
  std::cout << "verify --consistency: FAILED: " << report->problems.size() << " problem(s)\n";
  for (const auto& p : report->problems) std::cout << "  " << p << "\n";
  return 2;
}

}  // namespace veeduria::cli
