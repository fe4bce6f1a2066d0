#include "veeduria/events/merkle.h"

namespace veeduria::events::merkle {
namespace {

// The largest power of two smaller than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) { return uint64_t{1} << (63 - __builtin_clzll(n - 1)); }

Hash Digest2(uint8_t prefix, const uint8_t* a, size_t an, const uint8_t* b, size_t bn) {
  const char p = static_cast<char>(prefix);
  return Sha256Parts({std::string_view(&p, 1), std::string_view(reinterpret_cast<const char*>(a), an),
                      std::string_view(reinterpret_cast<const char*>(b), bn)});
}

// The RFC's definitions written directly over slices of leaf hashes (the reference).
Hash Mth(const Hash* d, uint64_t n) {
  if (n == 0) return EmptyRoot();
  if (n == 1) return d[0];
  const uint64_t k = SplitPoint(n);
  return NodeHash(Mth(d, k), Mth(d + k, n - k));
}

void Path(uint64_t m, const Hash* d, uint64_t n, std::vector<Hash>* out) {
  if (n <= 1) return;
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    Path(m, d, k, out);
    out->push_back(Mth(d + k, n - k));
  } else {
    Path(m - k, d + k, n - k, out);
    out->push_back(Mth(d, k));
  }
}

void SubProof(uint64_t m, const Hash* d, uint64_t n, bool b, std::vector<Hash>* out) {
  if (m == n) {
    if (!b) out->push_back(Mth(d, n));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(m, d, k, b, out);
    out->push_back(Mth(d + k, n - k));
  } else {
    SubProof(m - k, d + k, n - k, false, out);
    out->push_back(Mth(d, k));
  }
}

// The same recursions over absolute ranges, hashing ranges from complete nodes.
void PathFromNodes(const NodeFn& node, uint64_t m, uint64_t begin, uint64_t end, std::vector<Hash>* out) {
  if (end - begin <= 1) return;
  const uint64_t mid = begin + SplitPoint(end - begin);
  if (m < mid) {
    PathFromNodes(node, m, begin, mid, out);
    out->push_back(RangeHash(node, mid, end));
  } else {
    PathFromNodes(node, m, mid, end, out);
    out->push_back(RangeHash(node, begin, mid));
  }
}

void SubProofFromNodes(const NodeFn& node, uint64_t m, uint64_t begin, uint64_t end, bool b,
                       std::vector<Hash>* out) {
  if (m == end) {
    if (!b) out->push_back(RangeHash(node, begin, end));
    return;
  }
  const uint64_t mid = begin + SplitPoint(end - begin);
  if (m <= mid) {
    SubProofFromNodes(node, m, begin, mid, b, out);
    out->push_back(RangeHash(node, mid, end));
  } else {
    SubProofFromNodes(node, m, mid, end, false, out);
    out->push_back(RangeHash(node, begin, mid));
  }
}

}  // namespace

Hash LeafHash(std::string_view event_bytes) {
  return Digest2(0x00, reinterpret_cast<const uint8_t*>(event_bytes.data()), event_bytes.size(), nullptr, 0);
}

Hash NodeHash(const Hash& left, const Hash& right) {
  return Digest2(0x01, left.data(), left.size(), right.data(), right.size());
}

Hash EmptyRoot() {
  static const Hash kEmpty = Sha256("");
  return kEmpty;
}

Hash RootOf(const std::vector<Hash>& leaf_hashes) { return Mth(leaf_hashes.data(), leaf_hashes.size()); }

std::vector<Hash> InclusionProofOf(const std::vector<Hash>& leaf_hashes, uint64_t index, uint64_t tree_size) {
  std::vector<Hash> out;
  if (index >= tree_size || tree_size > leaf_hashes.size()) return out;
  Path(index, leaf_hashes.data(), tree_size, &out);
  return out;
}

std::vector<Hash> ConsistencyProofOf(const std::vector<Hash>& leaf_hashes, uint64_t old_size,
                                     uint64_t new_size) {
  std::vector<Hash> out;
  if (old_size == 0 || old_size >= new_size || new_size > leaf_hashes.size()) return out;
  SubProof(old_size, leaf_hashes.data(), new_size, true, &out);
  return out;
}

bool VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t tree_size,
                     const std::vector<Hash>& proof, const Hash& root) {
  if (index >= tree_size) return false;
  uint64_t fn = index, sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = NodeHash(p, r);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                       const std::vector<Hash>& proof) {
  if (old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (old_size == 0) return proof.empty() && old_root == EmptyRoot();
  if (proof.empty()) return false;
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if ((old_size & (old_size - 1)) == 0) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

std::string CheckpointSignedBytes(uint64_t tree_size, const Hash& root) {
  return "veeduria checkpoint v1\n" + std::to_string(tree_size) + "\n" + ToHex(root) + "\n";
}

Hash RangeHash(const NodeFn& node, uint64_t begin, uint64_t end) {
  if (end <= begin) return EmptyRoot();
  const uint64_t len = end - begin;
  Hash parts[64];
  int n = 0;
  uint64_t pos = begin;
  for (int b = 63; b >= 0; --b) {
    if (!((len >> b) & 1)) continue;
    parts[n++] = node(static_cast<uint8_t>(b), pos >> b);
    pos += uint64_t{1} << b;
  }
  Hash h = parts[n - 1];
  for (int i = n - 2; i >= 0; --i) h = NodeHash(parts[i], h);
  return h;
}

std::vector<Hash> InclusionProofFromNodes(const NodeFn& node, uint64_t index, uint64_t tree_size) {
  std::vector<Hash> out;
  if (index < tree_size) PathFromNodes(node, index, 0, tree_size, &out);
  return out;
}

std::vector<Hash> ConsistencyProofFromNodes(const NodeFn& node, uint64_t old_size, uint64_t new_size) {
  std::vector<Hash> out;
  if (old_size > 0 && old_size < new_size) SubProofFromNodes(node, old_size, 0, new_size, true, &out);
  return out;
}

void Frontier::Append(const Hash& leaf_hash,
                      const std::function<void(uint8_t, uint64_t, const Hash&)>& completed) {
  Hash h = leaf_hash;
  uint8_t level = 0;
  uint64_t index = size_;
  if (completed) completed(0, index, h);
  while ((size_ >> level) & 1) {
    h = NodeHash(nodes_[level], h);
    ++level;
    index >>= 1;
    if (completed) completed(level, index, h);
  }
  if (nodes_.size() <= level) nodes_.resize(level + 1);
  nodes_[level] = h;
  ++size_;
}

Hash Frontier::Root() const {
  if (size_ == 0) return EmptyRoot();
  bool have = false;
  Hash h{};
  for (size_t l = 0; l < 64; ++l) {
    if (!((size_ >> l) & 1)) continue;
    h = have ? NodeHash(nodes_[l], h) : nodes_[l];
    have = true;
  }
  return h;
}

Frontier Frontier::FromNodes(uint64_t size, const NodeFn& node) {
  Frontier f;
  f.size_ = size;
  for (int l = 63; l >= 0; --l) {
    if (!((size >> l) & 1)) continue;
    if (f.nodes_.size() <= static_cast<size_t>(l)) f.nodes_.resize(l + 1);
    f.nodes_[l] = node(static_cast<uint8_t>(l), (size >> l) - 1);
  }
  return f;
}

}  // namespace veeduria::events::merkle
