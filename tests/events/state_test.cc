#include "veeduria/events/state.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace veeduria::events
