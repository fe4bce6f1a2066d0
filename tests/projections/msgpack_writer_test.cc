// MsgpackWriter writes, byte for byte, what nlohmann::json::to_msgpack (events::WriteRecord) writes
// for the same JSON value: the rows a fold writes straight from an event's fields must not depend
// on which of the two wrote them. Every length and width boundary of each MessagePack form.

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "msgpack.h"

namespace veeduria {
namespace {

using projections::MsgpackWriter;

std::string Nlohmann(const nlohmann::json& j) {
  const std::vector<uint8_t> v = nlohmann::json::to_msgpack(j);
  return std::string(v.begin(), v.end());
}

TEST(MsgpackWriterTest, IntegersAtEveryWidthAreNlohmannsBytes) {
  for (int64_t v : {int64_t{0},
                    int64_t{1},
                    int64_t{127},
                    int64_t{128},
                    int64_t{255},
                    int64_t{256},
                    int64_t{65535},
                    int64_t{65536},
                    int64_t{4294967295},
                    int64_t{4294967296},
                    std::numeric_limits<int64_t>::max(),
                    int64_t{-1},
                    int64_t{-32},
                    int64_t{-33},
                    int64_t{-128},
                    int64_t{-129},
                    int64_t{-32768},
                    int64_t{-32769},
                    int64_t{-2147483648LL},
                    int64_t{-2147483649LL},
                    std::numeric_limits<int64_t>::min()})
    EXPECT_EQ(MsgpackWriter().Int(v).Take(), Nlohmann(v)) << v;
}

TEST(MsgpackWriterTest, DoublesAsFloat32WhenExactElseFloat64) {
  for (double v : {0.0, 1.5, -2.25, 0.1, 1e300, 3.4028234663852886e38, 16777217.0})
    EXPECT_EQ(MsgpackWriter().Double(v).Take(), Nlohmann(v)) << v;
}

TEST(MsgpackWriterTest, StringsAtEveryLengthPrefix) {
  for (size_t n : {0, 31, 32, 255, 256, 65535, 65536})
    EXPECT_EQ(MsgpackWriter().Str(std::string(n, 'x')).Take(), Nlohmann(std::string(n, 'x'))) << n;
}

TEST(MsgpackWriterTest, ArraysAndMapsAtEveryLengthPrefix) {
  for (size_t n : {0, 15, 16, 65535, 65536}) {
    MsgpackWriter a;
    a.Array(n);
    nlohmann::json ja = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) {
      a.Int(static_cast<int64_t>(i % 200));
      ja.push_back(i % 200);
    }
    EXPECT_EQ(a.Take(), Nlohmann(ja)) << n;
  }
  for (size_t n : {0, 15, 16}) {
    MsgpackWriter m;
    m.Map(n);
    nlohmann::json jm = nlohmann::json::object();
    for (size_t i = 0; i < n; ++i) {
      const std::string k = "k" + std::string(1, static_cast<char>('a' + i));  // sorted, as a json object
      m.Str(k).Bool(i % 2 == 0);
      jm[k] = i % 2 == 0;
    }
    EXPECT_EQ(m.Take(), Nlohmann(jm)) << n;
  }
}

// A progress r/ row as the fold writes it: an array of strings, numbers and nils.
TEST(MsgpackWriterTest, ARowOfMixedValues) {
  MsgpackWriter w;
  w.Array(10).Str("PDT-2024-2027").Str("IP-7").Str("KPT-2024").Str("Q2").Int(2024).Double(0.75);
  w.Int(1718000000000000).Null().Null().Null();
  EXPECT_EQ(w.Take(), Nlohmann({"PDT-2024-2027", "IP-7", "KPT-2024", "Q2", 2024, 0.75, 1718000000000000LL,
                                nullptr, nullptr, nullptr}));
}

}  // namespace
}  // namespace veeduria
