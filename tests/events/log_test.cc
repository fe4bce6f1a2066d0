#include "veeduria/events/log.h"

#include <gtest/gtest.h>

#include "veeduria/events/sha256.h"

namespace veeduria::events {
namespace {

// Known answers from Apache Kafka's UtilsTest.testMurmur2, so that both backends and Java
// clients put an entity on the same partition.
// Hex as ToHex writes it and the evidence files carry it (signatures, checkpoint bytes).
TEST(HexTest, BytesFromHexReadsWhatToHexWritesAndRefusesTheRest) {
  const std::string bytes("\x00\x01\x7f\x80\xff veeduria", 13);
  const std::string hex = ToHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(BytesFromHex(hex), bytes);
  EXPECT_EQ(BytesFromHex("ABcd"), std::string("\xab\xcd"));
  EXPECT_EQ(BytesFromHex(""), std::string());
  for (const char* bad : {"abc", "zz", "0g", "a b ", "-1"}) EXPECT_FALSE(BytesFromHex(bad)) << bad;
}

TEST(PartitionTest, Murmur2MatchesKafka) {
  EXPECT_EQ(static_cast<int32_t>(Murmur2("21")), -973932308);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("foobar")), -790332482);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("a-little-bit-long-string")), -985981536);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("a-little-bit-longer-string")), -1486304829);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")), -58897971);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("abc")), 479470107);
}

TEST(PartitionTest, DirectoryIsOnePartitionAndEntitiesSpread) {
  EXPECT_EQ(PartitionOf("directory", 8).topic, "directory");
  EXPECT_EQ(PartitionOf("directory", 8).partition, 0u);
  std::set<uint32_t> used;
  for (int code = 25001; code < 25100; ++code) {
    LogPosition p = PartitionOf(std::to_string(code), 8);
    EXPECT_EQ(p.topic, "events");
    EXPECT_LT(p.partition, 8u);
    used.insert(p.partition);
  }
  EXPECT_EQ(used.size(), 8u);
}

}  // namespace
}  // namespace veeduria::events
