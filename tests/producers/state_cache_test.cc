#include "state_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace veeduria::producers::internal {
namespace {

TEST(StateCacheTest, MissIsNotCached) {
  StateCache c(16);
  EXPECT_FALSE(c.Find("c/x").cached);
  EXPECT_EQ(c.size(), 0u);
}

TEST(StateCacheTest, RemembersValuesAndMisses) {
  StateCache c(16);
  StateCache::Lookup put = c.Put("e/25019", std::string_view("leader"));
  EXPECT_TRUE(put.cached);
  EXPECT_TRUE(put.present);
  EXPECT_EQ(put.value, "leader");
  c.Put("r/none", std::nullopt);
  StateCache::Lookup hit = c.Find("e/25019");
  EXPECT_TRUE(hit.cached && hit.present);
  EXPECT_EQ(hit.value, "leader");
  StateCache::Lookup miss = c.Find("r/none");
  EXPECT_TRUE(miss.cached);
  EXPECT_FALSE(miss.present);
  // An empty value is present, not a miss.
  c.Put("empty", std::string_view());
  EXPECT_TRUE(c.Find("empty").present);
  EXPECT_EQ(c.size(), 3u);
}

TEST(StateCacheTest, OverwriteReplacesValueAndMiss) {
  StateCache c(16);
  c.Put("k", std::nullopt);
  c.Put("k", std::string_view("a much longer value than the first one"));
  EXPECT_EQ(c.Find("k").value, "a much longer value than the first one");
  c.Put("k", std::string_view("v"));
  EXPECT_EQ(c.Find("k").value, "v");
  c.Put("k", std::nullopt);
  EXPECT_TRUE(c.Find("k").cached);
  EXPECT_FALSE(c.Find("k").present);
  EXPECT_EQ(c.size(), 1u);
}

// A value put over another of its size: absent and empty ("") are told apart, and a value put from
// the cache's own view of it stays what it was.
TEST(StateCacheTest, OverwriteKeepsPresenceAndAliasedValues) {
  StateCache c(16);
  c.Put("k", std::string_view("12345678"));
  c.Put("k", std::string_view("abcdefgh"));
  EXPECT_EQ(c.Find("k").value, "abcdefgh");
  c.Put("k", c.Find("k").value);  // the view into the entry itself
  EXPECT_EQ(c.Find("k").value, "abcdefgh");
  c.Put("e", std::nullopt);
  c.Put("e", std::string_view(""));  // a miss, then an empty value: present
  EXPECT_TRUE(c.Find("e").present);
  EXPECT_EQ(c.Find("e").value, "");
  c.Put("e", std::nullopt);  // and absent again
  EXPECT_TRUE(c.Find("e").cached);
  EXPECT_FALSE(c.Find("e").present);
  const StateCache::Lookup put = c.Put("k", std::string_view("ABCDEFGH"));
  EXPECT_TRUE(put.present);
  EXPECT_EQ(put.value, "ABCDEFGH");
  EXPECT_EQ(c.size(), 2u);
}

TEST(StateCacheTest, EraseKeepsTheRestOfAProbeRunReachable) {
  // A tiny table so that keys collide and runs wrap around the end.
  StateCache c(4);
  std::map<std::string, std::string> want;
  for (int i = 0; i < 4; ++i) {
    const std::string k = "k" + std::to_string(i);
    c.Put(k, std::string_view(k + "=v"));
    want[k] = k + "=v";
  }
  c.Erase("k1");
  want.erase("k1");
  c.Erase("absent");
  EXPECT_FALSE(c.Find("k1").cached);
  for (const auto& [k, v] : want) EXPECT_EQ(c.Find(k).value, v) << k;
  EXPECT_EQ(c.size(), want.size());
}

TEST(StateCacheTest, ClearsWhenFull) {
  StateCache c(8);
  const size_t cap = c.max_entries();
  for (size_t i = 0; i < cap; ++i) c.Put("k" + std::to_string(i), std::string_view("v"));
  EXPECT_EQ(c.size(), cap);
  // Overwriting does not grow the cache.
  c.Put("k0", std::string_view("w"));
  EXPECT_EQ(c.size(), cap);
  // One more key: the cache starts again with just it.
  StateCache::Lookup l = c.Put("new", std::string_view("x"));
  EXPECT_EQ(l.value, "x");
  EXPECT_EQ(c.size(), 1u);
  EXPECT_FALSE(c.Find("k0").cached);
  EXPECT_EQ(c.Find("new").value, "x");
}

// The table starts at one huge page of slots (131,072: room for 65,536 entries) and doubles as it
// fills: past that, every entry stays reachable, erasures included, and nothing is cleared.
TEST(StateCacheTest, GrowsUntilItsLimitBeforeClearing) {
  StateCache c(1 << 20);
  constexpr int kKeys = 300000;
  for (int i = 0; i < kKeys; ++i) c.Put("r/" + std::to_string(i), std::string_view(std::to_string(i)));
  for (int i = 0; i < kKeys; i += 3) c.Erase("r/" + std::to_string(i));
  EXPECT_EQ(c.clears(), 0u);
  EXPECT_EQ(c.size(), static_cast<size_t>(kKeys - (kKeys + 2) / 3));
  for (int i = 0; i < kKeys; ++i) {
    const StateCache::Lookup l = c.Find("r/" + std::to_string(i));
    ASSERT_EQ(l.cached, i % 3 != 0) << i;
    if (l.cached) {
      ASSERT_EQ(l.value, std::to_string(i));
    }
  }
}

// Random puts, overwrites, misses and erasures against a std::map.
TEST(StateCacheTest, AgreesWithAMap) {
  StateCache c(1 << 12);
  std::map<std::string, std::optional<std::string>> want;
  std::mt19937 rng(7);
  for (int step = 0; step < 200000; ++step) {
    const std::string key = "g/25019/PDT/" + std::to_string(rng() % 3000);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const std::string v(rng() % 40, static_cast<char>('a' + rng() % 26));
        c.Put(key, std::string_view(v));
        want[key] = v;
        break;
      }
      case 2:
        c.Put(key, std::nullopt);
        want[key] = std::nullopt;
        break;
      default:
        c.Erase(key);
        want.erase(key);
    }
  }
  ASSERT_EQ(c.size(), want.size());  // 3,000 keys at most: never cleared
  for (const auto& [k, v] : want) {
    StateCache::Lookup l = c.Find(k);
    ASSERT_TRUE(l.cached) << k;
    ASSERT_EQ(l.present, v.has_value()) << k;
    if (v) {
      ASSERT_EQ(l.value, *v) << k;
    }
  }
}

}  // namespace
}  // namespace veeduria::producers::internal

namespace veeduria::producers::internal {
namespace {

TEST(HashSetTest, HoldsWhatWasInsertedUpToItsLimit) {
  HashSet set(1000);
  EXPECT_FALSE(set.Contains(StateCache::HashOf("c/a")));
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(set.Insert(StateCache::HashOf("c/" + std::to_string(i))));
  EXPECT_TRUE(set.Insert(StateCache::HashOf("c/7")));  // already there
  EXPECT_EQ(set.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(set.Contains(StateCache::HashOf("c/" + std::to_string(i))));
  EXPECT_FALSE(set.Contains(StateCache::HashOf("c/1000")));
}

TEST(HashSetTest, RefusesToGrowPastItsLimit) {
  HashSet set(40);
  size_t inserted = 0;
  for (uint64_t h = 1; h <= 100; ++h) inserted += set.Insert(h * 0x9e3779b97f4a7c15ull) ? 1 : 0;
  EXPECT_LT(inserted, 100u);
  EXPECT_GE(inserted, 40u);  // it refuses only when it would grow past room for 40
  EXPECT_EQ(set.size(), inserted);
}

}  // namespace
}  // namespace veeduria::producers::internal
