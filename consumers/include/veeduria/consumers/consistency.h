#pragma once
// Consistency proofs (DESIGN §2.7: "that the log only grew"): a document a third party checks
// offline, holding two signed checkpoints of one ledger and the RFC 6962 consistency proof that
// the tree of the later one extends the tree of the earlier one. Whoever kept the earlier
// checkpoint (or its root) learns that no event before it was edited, removed or reordered since.
// Format (docs/evidence.md):
//
//   {"format": "veeduria-consistency/1",
//    "old": {"tree_size": M, "root_hash": "<hex>", "checkpoint": "<hex of the Checkpoint event's bytes>"},
//    "new": {"tree_size": N, "root_hash": "<hex>", "checkpoint": "<hex>"},
//    "proof": ["<hex>", …],
//    "public_key_pem": "<the ledger's Ed25519 public key>"}
//
// Thread-safety: pure functions of their arguments.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/consumers/bundle.h"
#include "veeduria/events/log.h"
#include "veeduria/events/status.h"

namespace veeduria::consumers {

inline constexpr std::string_view kConsistencyFormat = "veeduria-consistency/1";

// The document for two Checkpoint events (old first) and the proof between their tree sizes.
// REQUIRES: both entries are Checkpoint events, as the ledger appends them.
std::string ConsistencyJson(const events::LogEntry& old_checkpoint, const events::LogEntry& new_checkpoint,
                            const std::vector<events::Hash>& proof, const std::string& public_key_pem);

struct ConsistencyReport {
  bool ok() const { return problems.empty(); }
  uint64_t old_size = 0, new_size = 0;
  std::string old_root_hex, new_root_hex, key_id;
  std::vector<std::string> problems;  // each names the part at fault ("old.checkpoint: …")
};

// Checks a document: each checkpoint a well-formed Checkpoint event whose tree size and root are
// the ones declared beside it, signed by the document's key (and that key the trusted one, when
// `trusted_key_pem` is not empty); the old tree no larger than the new; the proof leading from
// the old root to the new. Errors only when the text is not such a document at all.
Result<ConsistencyReport> VerifyConsistencyJson(std::string_view text, const std::string& trusted_key_pem,
                                                const SignatureCheck& check_signature,
                                                const KeyParser& parse_key);

}  // namespace veeduria::consumers
