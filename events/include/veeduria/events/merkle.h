#pragma once
// The Merkle tree over the log (RFC 6962 §2.1 / RFC 9162 §2.1), pure functions.
//
// Leaf i of the tree is the event at lsn i; its leaf hash is SHA-256(0x00 || the event's
// canonical bytes) and an interior node is SHA-256(0x01 || left || right), so a leaf can never
// be passed off as a node. The tree of size n is MTH(D[0:n]): the left subtree holds the
// largest power of two of leaves smaller than n. Proofs are the RFC's PATH (inclusion) and
// PROOF (consistency), verified with RFC 9162 §2.1.3.2 and §2.1.4.2.
//
// A "range" [begin, end) below is always one the RFC's recursion produces: `begin` is a
// multiple of a power of two at least end - begin, so its hash is the fold of at most
// log2(n) perfect subtrees (complete nodes) — which is what the ledger stores.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/sha256.h"

namespace veeduria::events::merkle {

Hash LeafHash(std::string_view event_bytes);         // SHA-256(0x00 || canonical event bytes)
Hash NodeHash(const Hash& left, const Hash& right);  // SHA-256(0x01 || left || right)
Hash EmptyRoot();                                    // SHA-256 of the empty string
Hash RootOf(const std::vector<Hash>& leaf_hashes);   // MTH of RFC 6962 §2.1

// Reference implementations over every leaf hash (tests, small trees, evidence bundles).
// REQUIRES: index < tree_size <= leaf_hashes.size(); old_size <= new_size <= leaf_hashes.size().
std::vector<Hash> InclusionProofOf(const std::vector<Hash>& leaf_hashes, uint64_t index, uint64_t tree_size);
std::vector<Hash> ConsistencyProofOf(const std::vector<Hash>& leaf_hashes, uint64_t old_size,
                                     uint64_t new_size);

bool VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t tree_size,
                     const std::vector<Hash>& proof, const Hash& root);
// old_size == 0: the proof must be empty and old_root the empty root (any log extends it).
bool VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                       const std::vector<Hash>& proof);

// The bytes a checkpoint's Ed25519 signature covers, exactly:
//   "veeduria checkpoint v1\n" <tree_size in decimal> "\n" <root, 64 lowercase hex digits> "\n"
// e.g. "veeduria checkpoint v1\n3\naeb6…6e77\n".
std::string CheckpointSignedBytes(uint64_t tree_size, const Hash& root);

// --- Building blocks shared by the reference functions and the ledger's node store ---------

// The hash of a perfect subtree: level l, index j covers leaves [j·2^l, (j+1)·2^l).
using NodeFn = std::function<Hash(uint8_t level, uint64_t index)>;
// MTH(D[begin:end]) from complete nodes (≤ log2 n lookups). REQUIRES: a range as above.
Hash RangeHash(const NodeFn& node, uint64_t begin, uint64_t end);
// RFC 6962 PATH / PROOF computed from complete nodes: O(log² n) lookups.
std::vector<Hash> InclusionProofFromNodes(const NodeFn& node, uint64_t index, uint64_t tree_size);
std::vector<Hash> ConsistencyProofFromNodes(const NodeFn& node, uint64_t old_size, uint64_t new_size);

// The right edge of a growing tree (a "compact range"): one complete node per set bit of the
// size. Appending a leaf completes the nodes it closes (reported through `completed`, so a
// store can persist them); Root() folds the edge. Used by the ledger to maintain its nodes and
// by `verify` to recompute roots from the log's own bytes, O(log n) memory.
class Frontier {
 public:
  Frontier() = default;
  uint64_t size() const { return size_; }
  // `completed(level, index, hash)` is called for the leaf (level 0) and each node it closes.
  void Append(const Hash& leaf_hash,
              const std::function<void(uint8_t, uint64_t, const Hash&)>& completed = nullptr);
  Hash Root() const;
  // Restores an edge from stored nodes: the node for each set bit of `size`, highest first.
  static Frontier FromNodes(uint64_t size, const NodeFn& node);

 private:
  uint64_t size_ = 0;
  std::vector<Hash> nodes_;  // nodes_[l] is meaningful when bit l of size_ is set
};

}  // namespace veeduria::events::merkle
