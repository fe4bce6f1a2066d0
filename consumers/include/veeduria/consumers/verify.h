#pragma once
// Walks the whole log and checks, per stream, that sequences have no gap or repeat, that
// each event's stored hash is SHA-256 of its bytes, and that each prev_hash is the hash of
// the stream's previous event (the genesis hash for the first); that lsns run 0, 1, 2… with no
// gap; and, for every Checkpoint event, that its tree_size is the number of events before it,
// that its root_hash is the Merkle root (events/merkle.h) of those events — recomputed from the
// log's own bytes while walking (O(log n) memory), never read from the ledger's stored tree — and,
// when a signature verifier is given, that its signature verifies.
//
// What each check catches: an edited byte (the stored hash), an event removed, repeated or
// reordered within its stream (stream_seq, prev_hash), an event rewritten together with its
// stored hash (the next prev_hash), and a rewrite of a stream's tail, a removal or a reordering
// across streams that left every chain intact (the next checkpoint's root). What comes after the
// last checkpoint is protected by the chains only.
//
// --from-checkpoint (VerifyOptions::from_checkpoint): the checkpoint at that lsn is trusted. The
// events before it are read but not hashed: each stream's head (last stream_seq and stored hash)
// is taken as it is, and the Merkle tree's right edge at the checkpoint comes from
// `frontier_at` (the ledger's stored nodes), accepted only if it folds to the trusted root (the
// root is a hash of exactly those nodes); without `frontier_at` the prefix's leaf hashes are
// computed. Everything after the checkpoint is checked in full.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "veeduria/events/log.h"
#include "veeduria/events/merkle.h"

namespace veeduria::consumers {

// True when `signature` is a valid signature of `message` by the key `key_id`.
using SignatureVerifier =
    std::function<bool(std::string_view message, std::string_view signature, const std::string& key_id)>;

struct VerifyOptions {
  SignatureVerifier verify_signature;       // empty: signatures are reported unchecked
  std::optional<uint64_t> from_checkpoint;  // lsn of a trusted Checkpoint event
  // The tree's right edge for the first `size` events (e.g. from EmbeddedLedger's nodes).
  std::function<Result<events::merkle::Frontier>(uint64_t size)> frontier_at;
  // Read between batches when given: once true, the walk ends and VerifyLog returns kUnavailable
  // (a server that stops does not wait for a national log's 14 s).
  const std::atomic<bool>* stop = nullptr;
};

struct VerifyReport {
  uint64_t events = 0;  // events checked (after the trusted checkpoint, with from_checkpoint)
  uint64_t streams = 0;
  uint64_t skipped = 0;                         // events up to and including the trusted checkpoint
  uint64_t checkpoints = 0;                     // checkpoints whose root was recomputed and matched
  uint64_t signatures_checked = 0;              // … and whose signature verified
  uint64_t signatures_unchecked = 0;            // … whose signature was not checked (no verifier)
  std::optional<uint64_t> last_checkpoint_lsn;  // the last checkpoint seen (trusted or checked)
  bool ok = true;
  // The first broken event or checkpoint, when !ok.
  events::LogPosition position;
  std::string stream;
  uint64_t stream_seq = 0;
  bool at_checkpoint = false;  // the problem is a checkpoint's (size, root, signature)
  std::string problem;
};

Result<VerifyReport> VerifyLog(const events::LogReader& log, const VerifyOptions& options = {});

}  // namespace veeduria::consumers
