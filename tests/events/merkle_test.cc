#include "veeduria/events/merkle.h"

#include <gtest/gtest.h>

#include <random>

namespace veeduria::events::merkle {
namespace {

Hash H(std::string_view hex) { return *HashFromHex(hex); }

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// The RFC 6962 test tree of certificate-transparency / Trillian / transparency-dev/merkle.
const char* const kInputs[] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
const char* const kRoots[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                              "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                              "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                              "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                              "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                              "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                              "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

std::vector<Hash> TestLeaves() {
  std::vector<Hash> out;
  for (const char* in : kInputs) out.push_back(LeafHash(Unhex(in)));
  return out;
}

std::vector<Hash> RandomLeaves(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Hash> out;
  for (size_t i = 0; i < n; ++i) out.push_back(LeafHash(std::to_string(rng())));
  return out;
}

// Complete nodes straight from the leaves (what the ledger stores).
NodeFn NodesOf(const std::vector<Hash>& leaves) {
  return [&leaves](uint8_t level, uint64_t index) {
    std::vector<Hash> slice(leaves.begin() + (index << level), leaves.begin() + ((index + 1) << level));
    return RootOf(slice);
  };
}

TEST(MerkleTest, EmptyTree) {
  EXPECT_EQ(ToHex(EmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(RootOf({}), EmptyRoot());
  EXPECT_EQ(Frontier().Root(), EmptyRoot());
}

TEST(MerkleTest, DomainSeparation) {
  std::string zero_prefixed(1, '\0');
  EXPECT_EQ(LeafHash(""), Sha256(zero_prefixed));
  Hash a = LeafHash("a"), b = LeafHash("b");
  std::string cat(1, '\1');
  cat.append(reinterpret_cast<const char*>(a.data()), 32).append(reinterpret_cast<const char*>(b.data()), 32);
  EXPECT_EQ(NodeHash(a, b), Sha256(cat));
  EXPECT_NE(NodeHash(a, b), NodeHash(b, a));
}

TEST(MerkleTest, KnownRootsForSizes1To8) {
  auto leaves = TestLeaves();
  EXPECT_EQ(ToHex(leaves[0]), kRoots[0]);  // one leaf: its leaf hash
  for (size_t n = 1; n <= 8; ++n) {
    std::vector<Hash> prefix(leaves.begin(), leaves.begin() + n);
    EXPECT_EQ(ToHex(RootOf(prefix)), kRoots[n - 1]) << n;
    Frontier f;
    for (const auto& h : prefix) f.Append(h);
    EXPECT_EQ(ToHex(f.Root()), kRoots[n - 1]) << n;
    EXPECT_EQ(ToHex(RangeHash(NodesOf(leaves), 0, n)), kRoots[n - 1]) << n;
  }
}

TEST(MerkleTest, KnownInclusionProofs) {
  auto leaves = TestLeaves();
  struct Case {
    uint64_t index, size;
    std::vector<const char*> proof;
  };
  const std::vector<Case> cases = {
      {0, 1, {}},
      {0,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5,
       8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1,
       5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const Case& c : cases) {
    std::vector<Hash> want;
    for (const char* h : c.proof) want.push_back(H(h));
    EXPECT_EQ(InclusionProofOf(leaves, c.index, c.size), want) << c.index << "/" << c.size;
    EXPECT_EQ(InclusionProofFromNodes(NodesOf(leaves), c.index, c.size), want) << c.index << "/" << c.size;
    EXPECT_TRUE(VerifyInclusion(leaves[c.index], c.index, c.size, want, H(kRoots[c.size - 1])));
  }
}

TEST(MerkleTest, KnownConsistencyProofs) {
  auto leaves = TestLeaves();
  struct Case {
    uint64_t m, n;
    std::vector<const char*> proof;
  };
  const std::vector<Case> cases = {
      {1, 1, {}},
      {1,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6,
       8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2,
       5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const Case& c : cases) {
    std::vector<Hash> want;
    for (const char* h : c.proof) want.push_back(H(h));
    EXPECT_EQ(ConsistencyProofOf(leaves, c.m, c.n), want) << c.m << "->" << c.n;
    EXPECT_EQ(ConsistencyProofFromNodes(NodesOf(leaves), c.m, c.n), want) << c.m << "->" << c.n;
    EXPECT_TRUE(VerifyConsistency(c.m, c.n, H(kRoots[c.m - 1]), H(kRoots[c.n - 1]), want));
  }
  EXPECT_TRUE(VerifyConsistency(0, 8, EmptyRoot(), H(kRoots[7]), {}));
}

// Every size 1–17, every inclusion proof and every consistency proof between sizes ≤ 17:
// the reference recursion and the node-based one agree and verify; every single-hash edit,
// a wrong index, size or root fails.
TEST(MerkleTest, AllProofsUpTo17) {
  auto leaves = RandomLeaves(17, 7);
  const NodeFn nodes = NodesOf(leaves);
  std::vector<Hash> roots(18);
  Frontier f;
  roots[0] = EmptyRoot();
  for (uint64_t n = 1; n <= 17; ++n) {
    f.Append(leaves[n - 1]);
    roots[n] = RootOf(std::vector<Hash>(leaves.begin(), leaves.begin() + n));
    ASSERT_EQ(f.Root(), roots[n]);
    ASSERT_EQ(RangeHash(nodes, 0, n), roots[n]);
    ASSERT_EQ(Frontier::FromNodes(n, nodes).Root(), roots[n]);
  }
  for (uint64_t n = 1; n <= 17; ++n) {
    for (uint64_t i = 0; i < n; ++i) {
      auto p = InclusionProofOf(leaves, i, n);
      ASSERT_EQ(InclusionProofFromNodes(nodes, i, n), p);
      ASSERT_TRUE(VerifyInclusion(leaves[i], i, n, p, roots[n])) << i << "/" << n;
      EXPECT_FALSE(VerifyInclusion(leaves[i], i, n, p, roots[n - 1]));
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion(leaves[(i + 1) % n], i, n, p, roots[n]));
        EXPECT_FALSE(VerifyInclusion(leaves[i], (i + 1) % n, n, p, roots[n]));
      }
      // (A proof does not always bind the size by itself — a size-3 path for leaf 0 checks out
      // against size 4 too — the signed root does: the size goes with the root.)
      EXPECT_FALSE(VerifyInclusion(leaves[i], i, n, p, roots[n + 1 <= 17 ? n + 1 : n - 1]));
      for (size_t k = 0; k < p.size(); ++k) {
        auto bad = p;
        bad[k][0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(leaves[i], i, n, bad, roots[n]));
      }
      if (!p.empty()) {
        auto shorter = p;
        shorter.pop_back();
        EXPECT_FALSE(VerifyInclusion(leaves[i], i, n, shorter, roots[n]));
      }
      auto longer = p;
      longer.push_back(roots[n]);
      EXPECT_FALSE(VerifyInclusion(leaves[i], i, n, longer, roots[n]));
    }
    for (uint64_t m = 0; m <= n; ++m) {
      auto p = ConsistencyProofOf(leaves, m, n);
      ASSERT_EQ(ConsistencyProofFromNodes(nodes, m, n), p);
      ASSERT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], p)) << m << "->" << n;
      if (m == 0 || m == n) continue;
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m - 1], roots[n], p));
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n - 1], p));
      EXPECT_FALSE(VerifyConsistency(n, m, roots[n], roots[m], p));
      for (size_t k = 0; k < p.size(); ++k) {
        auto bad = p;
        bad[k][31] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], bad)) << m << "->" << n << " #" << k;
      }
    }
  }
}

TEST(MerkleTest, RandomSizesProperties) {
  std::mt19937_64 rng(2024);
  for (int round = 0; round < 40; ++round) {
    const uint64_t n = 1 + rng() % 3000;
    auto leaves = RandomLeaves(n, rng());
    const NodeFn nodes = NodesOf(leaves);
    Frontier f;
    for (const auto& h : leaves) f.Append(h);
    const Hash root = RootOf(leaves);
    ASSERT_EQ(f.Root(), root);
    const uint64_t i = rng() % n;
    auto p = InclusionProofOf(leaves, i, n);
    ASSERT_EQ(InclusionProofFromNodes(nodes, i, n), p);
    EXPECT_TRUE(VerifyInclusion(leaves[i], i, n, p, root));
    if (!p.empty()) {
      auto bad = p;
      bad[rng() % bad.size()][rng() % 32] ^= static_cast<uint8_t>(1 + rng() % 255);
      EXPECT_FALSE(VerifyInclusion(leaves[i], i, n, bad, root));
    }
    Hash wrong = root;
    wrong[rng() % 32] ^= 4;
    EXPECT_FALSE(VerifyInclusion(leaves[i], i, n, p, wrong));
    const uint64_t m = 1 + rng() % n;
    const Hash old_root = RootOf(std::vector<Hash>(leaves.begin(), leaves.begin() + m));
    auto c = ConsistencyProofOf(leaves, m, n);
    ASSERT_EQ(ConsistencyProofFromNodes(nodes, m, n), c);
    EXPECT_TRUE(VerifyConsistency(m, n, old_root, root, c));
    EXPECT_FALSE(VerifyConsistency(m, n, old_root, wrong, c));
    if (!c.empty()) {
      auto bad = c;
      bad[rng() % bad.size()][rng() % 32] ^= 0x10;
      EXPECT_FALSE(VerifyConsistency(m, n, old_root, root, bad));
    }
  }
}

TEST(MerkleTest, CheckpointSignedBytes) {
  EXPECT_EQ(CheckpointSignedBytes(3, H(kRoots[2])),
            "veeduria checkpoint v1\n3\naeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77\n");
}

}  // namespace
}  // namespace veeduria::events::merkle
