#pragma once
// Evidence bundles (DESIGN §2.7, issue 6): a directory a third party checks offline, with
// nothing but its own files. Layout (documented in docs/evidence.md):
//
//   manifest.json            what the bundle holds and how the files tie together
//   manifest.sig             Ed25519 signature (hex) of manifest.json's bytes by the ledger's key,
//                            so the selection itself cannot be trimmed or edited unnoticed
//   events/NNNN.vdev         each selected event's canonical bytes (a FlatBuffers `Event`)
//   events/NNNN.json         its canonical JSON (events::RenderEventJson, with its position)
//   proofs/NNNN.json         its Merkle inclusion proof against the checkpoint
//   checkpoint.vdev/.json    the signed Checkpoint event the proofs lead to
//   public_key.pem           the ledger's Ed25519 public key
//   schema/veeduria.fbs      the schema, to decode the .vdev files with flatc
//   timeline.html            the case as a person reads it (RenderTimelineHtml)
//
// Thread-safety: pure functions of their arguments and the files they read or write.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/log.h"
#include "veeduria/events/sha256.h"
#include "veeduria/events/status.h"

namespace veeduria::consumers {

inline constexpr std::string_view kBundleFormat = "veeduria-evidence/1";

// What was asked for (recorded in the manifest and shown by the timeline).
struct BundleSelection {
  std::string entity;
  std::string campaign, milestone;  // empty: every campaign / milestone
  std::string from, to;             // RFC 3339 bounds on recorded_at, empty: unbounded
};

struct BundleEvent {
  events::LogEntry entry;           // position.lsn is the Merkle leaf index
  std::vector<events::Hash> proof;  // inclusion proof for tree_size = checkpoint's
};

struct BundleInput {
  BundleSelection selection;
  std::string created_at;           // RFC 3339
  std::vector<BundleEvent> events;  // in lsn order
  events::LogEntry checkpoint;      // the Checkpoint event
  std::string public_key_pem;
  std::string schema_fbs;  // contents of schema/veeduria.fbs
  // Signs the manifest's bytes with the ledger's key (64-byte Ed25519 signature).
  std::function<std::string(std::string_view)> sign_manifest;
};

// schema/veeduria.fbs as this build was compiled with (copied into every bundle).
std::string_view SchemaText();

// Writes the bundle into `dir` (created; refused if it exists and is not empty).
Status WriteBundle(const BundleInput& input, const std::string& dir);

// The timeline of a bundle: a self-contained, printable HTML page (no scripts, no external
// resources). A deterministic function of its arguments (the verifier re-renders it).
// `events_json` are the events' canonical JSON renderings, in lsn order.
std::string RenderTimelineHtml(const BundleSelection& selection, const std::string& created_at,
                               const std::vector<std::string>& events_json,
                               const std::string& checkpoint_json, const std::string& key_id);

// Checks a checkpoint signature: (message, 64-byte signature, public key PEM) → valid.
using SignatureCheck = std::function<bool(std::string_view, std::string_view, std::string_view)>;
// Parses a public key PEM: its key id (16 hex) and raw bytes, or an error.
using KeyParser = std::function<Result<std::pair<std::string, std::string>>(std::string_view)>;

struct BundleProblem {
  std::string file;      // the file at fault ("events/0003.vdev", "manifest.json"…)
  std::string event_id;  // when it concerns an event
  std::string check;     // "sha256", "inclusion", "signature", "chain", "json", "missing"…
  std::string detail;
};

struct BundleReport {
  bool ok() const { return problems.empty(); }
  size_t events = 0;           // events listed in the manifest
  size_t events_verified = 0;  // of them, those that passed every check
  uint64_t tree_size = 0;
  std::string root_hex, key_id;
  std::vector<std::string> notes;  // e.g. per-stream sequence ranges and gaps (not failures)
  std::vector<BundleProblem> problems;
};

// Verifies the bundle in `dir` offline. `trusted_key_pem`, when not empty, is the key the
// checkpoint must be signed with (the bundle's own key must then be the same key).
// Errors only when the manifest cannot be read at all; every other failure is a problem.
Result<BundleReport> VerifyBundle(const std::string& dir, const std::string& trusted_key_pem,
                                  const SignatureCheck& check_signature, const KeyParser& parse_key);

}  // namespace veeduria::consumers
