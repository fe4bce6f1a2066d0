#include "veeduria/events/msgpack_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace veeduria {
namespace {

// The reader progress's query uses for r/ rows reads every field as json::from_msgpack would:
// integers of every width and sign, float32 and float64, strings of every length prefix, and
// maps and arrays (counted, skipped) before the fields after them.
TEST(MsgpackReaderTest, ReadsWhatToMsgpackWrites) {
  const nlohmann::json record = {{"a_small", 5},
                                 {"b_neg", -3},
                                 {"c_u8", 200},
                                 {"d_u16", 60000},
                                 {"e_u32", 4000000000u},
                                 {"f_u64", 1ull << 40},
                                 {"g_i8", -100},
                                 {"h_i16", -30000},
                                 {"i_i32", -2000000000},
                                 {"j_i64", -(1ll << 40)},
                                 {"k_f32", 0.5},
                                 {"l_f64", 0.1},
                                 {"m_str", "hola"},
                                 {"n_long", std::string(300, 'x')},
                                 {"o_map", {{"x", {{"y", 1}}}, {"z", {1, 2, 3}}}},
                                 {"p_empty", nlohmann::json::object()},
                                 {"q_null", nullptr},
                                 {"r_true", true},
                                 {"s_after", 7}};
  const std::vector<uint8_t> v = nlohmann::json::to_msgpack(record);
  const std::string bytes(v.begin(), v.end());
  nlohmann::json got = nlohmann::json::object();
  ASSERT_TRUE(events::MsgpackReader(bytes).ForEachField(
      [&](std::string_view k, const events::MsgpackReader::Value& x) {
        using V = events::MsgpackReader::Value;
        switch (x.kind) {
          case V::kStr:
            got[std::string(k)] = std::string(x.s);
            break;
          case V::kMap:
            got[std::string(k)] = "map" + std::to_string(x.n);
            break;
          case V::kArray:
            got[std::string(k)] = "array" + std::to_string(x.n);
            break;
          case V::kNil:
            got[std::string(k)] = nullptr;
            break;
          case V::kBool:
            got[std::string(k)] = x.b;
            break;
          case V::kDouble:
            got[std::string(k)] = x.as_double(-1);
            break;
          default:
            got[std::string(k)] = x.as_int(-1);
            break;
        }
      }));
  for (const auto& [k, want] : record.items()) {
    if (want.is_object())
      EXPECT_EQ(got[k], "map" + std::to_string(want.size())) << k;
    else if (want.is_number_float())
      EXPECT_EQ(got[k].get<double>(), want.get<double>()) << k;
    else if (want.is_number())
      EXPECT_EQ(got[k].get<int64_t>(), want.get<int64_t>()) << k;
    else
      EXPECT_EQ(got[k], want) << k;
  }
  // Truncated anywhere: never reads past the end, and says so.
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(
        events::MsgpackReader(std::string_view(bytes).substr(0, n)).ForEachField([](auto, const auto&) {}))
        << n;
}

// Arrays are walked element by element, and a nested container's bytes read on their own: the
// decider's user records hold roles as an array of [role, scope] pairs.
TEST(MsgpackReaderTest, WalksArraysAndNestedContainers) {
  const nlohmann::json record = {
      {"active", true},
      {"roles", nlohmann::json::array(
                    {nlohmann::json::array({"leader", "25001"}), nlohmann::json::array({"reporter", "25"})})},
      {"many", std::vector<int>(20, 7)},
      {"reset", ""}};
  const std::vector<uint8_t> v = nlohmann::json::to_msgpack(record);
  const std::string bytes(v.begin(), v.end());
  using V = events::MsgpackReader::Value;
  std::vector<std::pair<std::string, std::string>> roles;
  int many = 0;
  ASSERT_TRUE(events::MsgpackReader(bytes).ForEachField([&](std::string_view k, const V& x) {
    if (k == "roles") {
      ASSERT_EQ(x.kind, V::kArray);
      EXPECT_TRUE(events::MsgpackReader(x.raw).ForEachElement([&](const V& pair) {
        std::vector<std::string> parts;
        ASSERT_EQ(pair.kind, V::kArray);
        EXPECT_TRUE(
            events::MsgpackReader(pair.raw).ForEachElement([&](const V& s) { parts.emplace_back(s.s); }));
        ASSERT_EQ(parts.size(), 2u);
        roles.emplace_back(parts[0], parts[1]);
      }));
    }
    if (k == "many") {
      ASSERT_EQ(x.kind, V::kArray);
      EXPECT_EQ(x.n, 20u);
      EXPECT_TRUE(events::MsgpackReader(x.raw).ForEachElement([&](const V& e) { many += e.as_int(0); }));
    }
  }));
  EXPECT_EQ(roles,
            (std::vector<std::pair<std::string, std::string>>{{"leader", "25001"}, {"reporter", "25"}}));
  EXPECT_EQ(many, 140);
  // Not an array, or truncated anywhere: false, never past the end.
  EXPECT_FALSE(events::MsgpackReader(bytes).ForEachElement([](const V&) {}));
  const std::vector<uint8_t> a = nlohmann::json::to_msgpack(record["roles"]);
  const std::string arr(a.begin(), a.end());
  for (size_t n = 0; n < arr.size(); ++n)
    EXPECT_FALSE(events::MsgpackReader(std::string_view(arr).substr(0, n)).ForEachElement([](const V&) {}))
        << n;
}

}  // namespace
}  // namespace veeduria
