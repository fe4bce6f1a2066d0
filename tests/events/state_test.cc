#include "veeduria/events/state.h"

#include <gtest/gtest.h>

#include <map>

namespace veeduria::events {
namespace {

std::optional<std::string> ReadCopy(const StateStore& st, std::string_view key) {
  std::optional<std::string> out;
  const bool found = st.Read(key, [&](std::string_view v) { out.emplace(v); });
  EXPECT_EQ(found, out.has_value());
  EXPECT_EQ(st.Contains(key), found);
  return out;
}

TEST(StateTest, ReadLendsWhatGetCopies) {
  MemoryState base;
  base.Put("a", "1");
  base.Put("b", "2");
  base.Put("empty", "");
  base.Delete("gone");
  OverlayState overlay(&base);
  overlay.Put("b", "20");
  overlay.Delete("a");
  overlay.Put("c", "3");
  for (const char* k : {"a", "b", "c", "empty", "gone", "never"}) {
    EXPECT_EQ(ReadCopy(base, k), base.Get(k)) << k;
    EXPECT_EQ(ReadCopy(overlay, k), overlay.Get(k)) << k;
  }
  EXPECT_EQ(ReadCopy(overlay, "a"), std::nullopt);  // deleted above the base
  EXPECT_EQ(ReadCopy(overlay, "b"), "20");
  EXPECT_EQ(ReadCopy(overlay, "empty"), "");  // an empty value is a value
  EXPECT_EQ(ReadCopy(base, "gone"), std::nullopt);
}

// A store that only implements Get: Read falls back to a copy.
class GetOnly : public StateStore {
 public:
  std::optional<std::string> Get(std::string_view key) const override {
    if (key == "k") return "v";
    return std::nullopt;
  }
  void Put(std::string_view, std::string) override {}
  void Delete(std::string_view) override {}
};

TEST(StateTest, DefaultReadGoesThroughGet) {
  GetOnly st;
  EXPECT_EQ(ReadCopy(st, "k"), "v");
  EXPECT_EQ(ReadCopy(st, "x"), std::nullopt);
  OverlayState overlay(&st);
  EXPECT_EQ(ReadCopy(overlay, "k"), "v");
}

// MemoryState finds its entries through a hash index of its sorted map: every key is found as the
// map holds it through the index's growth, and a copy finds its own entries, not its source's.
TEST(StateTest, MemoryStateFindsEveryEntryThroughGrowthCopiesAndMoves) {
  std::map<std::string, std::optional<std::string>> want;
  MemoryState st;
  st.Reserve(100);  // and then grown past it
  auto put = [&](const std::string& k, std::optional<std::string> v) {
    if (v)
      st.Put(k, *v);
    else
      st.Delete(k);
    want[k] = std::move(v);
  };
  auto check = [&](const MemoryState& m, const char* what) {
    ASSERT_EQ(m.entries().size(), want.size()) << what;
    auto w = want.begin();
    for (const auto& [k, v] : m.entries()) {  // sorted, as the map is
      ASSERT_EQ(k, w->first) << what;
      ASSERT_EQ(v, w->second) << what << " " << k;
      ++w;
    }
    for (const auto& [k, v] : want) {
      ASSERT_NE(m.Find(k), nullptr) << what << " " << k;
      ASSERT_EQ(*m.Find(k), v) << what << " " << k;
      ASSERT_EQ(ReadCopy(m, k), v) << what << " " << k;
      ASSERT_EQ(m.Find(k + "/"), nullptr) << what << " " << k;  // a longer key sharing the prefix
    }
    EXPECT_EQ(m.Find(""), nullptr) << what;
  };
  check(st, "empty");
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "progress/25" + std::to_string(i % 97) + "/goal/" + std::to_string(i);
    put(key, std::to_string(i));
    if (i % 3 == 0) put("meta/stream/" + std::to_string(i % 7), std::to_string(i));  // rewritten
    if (i % 11 == 0) put(key, std::nullopt);                                         // deleted
    if (i == 0 || i == 14 || i == 15 || i == 16 || i == 1000) check(st, "growing");
  }
  check(st, "grown");

  MemoryState copy(st);
  MemoryState assigned;
  assigned.Put("x", "1");
  assigned = st;
  st.Put("meta/stream/0", "changed in the source");
  st.Put("only/in/the/source", "1");
  const auto source_want = want;
  want["meta/stream/0"] = "changed in the source";
  want["only/in/the/source"] = "1";
  check(st, "source");
  want = source_want;
  check(copy, "copy");
  check(assigned, "assigned");

  MemoryState moved(std::move(copy));
  check(moved, "moved");
  MemoryState move_assigned;
  move_assigned = std::move(moved);
  check(move_assigned, "move-assigned");
  move_assigned.Put("after/the/move", "1");
  want["after/the/move"] = "1";
  check(move_assigned, "written after the move");

  OverlayState overlay(&assigned);
  overlay.Reserve(100000);  // far beyond what it gets: TakeWrites shrinks the index
  overlay.Put("a", "1");
  MemoryState taken = overlay.TakeWrites();
  EXPECT_EQ(overlay.writes().Find("a"), nullptr);
  EXPECT_EQ(ReadCopy(overlay, "a"), std::nullopt);
  ASSERT_NE(taken.Find("a"), nullptr);
  EXPECT_EQ(*taken.Find("a"), "1");
  EXPECT_EQ(taken.Find("b"), nullptr);
  taken.Put("c", "3");  // and it grows again from its shrunk size
  EXPECT_EQ(*taken.Find("c"), "3");
  EXPECT_EQ(*taken.Find("a"), "1");
  overlay.Put("b", "2");
  EXPECT_EQ(ReadCopy(overlay, "b"), "2");
  EXPECT_EQ(taken.Find("b"), nullptr);

  st.Clear();
  want.clear();
  check(st, "cleared");
  put("again", "1");
  check(st, "written after Clear");
  st.Reserve(10000);  // the index rebuilt larger around the entries it has
  check(st, "reserved");
  for (int i = 0; i < 300; ++i) put("reserved/" + std::to_string(i), std::to_string(i));
  check(st, "written after Reserve");
}

}  // namespace
}  // namespace veeduria::events
