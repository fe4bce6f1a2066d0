// The typed decider-state records (events/src/records.h): round trips, deterministic bytes,
// and refusal of bytes of another kind or format (e.g. a MessagePack record of an old state).

#include "records.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace veeduria::events::records {
namespace {

TEST(RecordsTest, StreamHeadRoundTrips) {
  StreamHead h{42, Sha256("x")};
  StreamHead back;
  ASSERT_TRUE(Decode(Encode(h), &back));
  EXPECT_EQ(back.seq, 42u);
  EXPECT_EQ(back.hash, h.hash);
}

TEST(RecordsTest, MetaRoundTrips) {
  Meta m{"simulated", -5, 8};
  Meta back;
  ASSERT_TRUE(Decode(Encode(m), &back));
  EXPECT_EQ(back.clock, "simulated");
  EXPECT_EQ(back.last_at, -5);
  EXPECT_EQ(back.partitions, 8u);
}

TEST(RecordsTest, OutcomeRoundTrips) {
  Outcome o;
  o.has_fingerprint = true;
  o.fingerprint = Sha256("cmd");
  o.rejected = true;
  o.reason = "not_pesos";
  o.command = "report_progress";
  o.events = {"a", "b"};
  o.flags = {"late"};
  o.days_late = 3;
  Outcome back;
  ASSERT_TRUE(Decode(Encode(o), &back));
  EXPECT_TRUE(back.has_fingerprint);
  EXPECT_EQ(back.fingerprint, o.fingerprint);
  EXPECT_TRUE(back.rejected);
  EXPECT_EQ(back.reason, "not_pesos");
  EXPECT_EQ(back.command, "report_progress");
  EXPECT_EQ(back.events, o.events);
  EXPECT_EQ(back.flags, o.flags);
  EXPECT_EQ(back.days_late, 3);
  EXPECT_EQ(Encode(back), Encode(o));  // deterministic: a rebuild writes the same bytes
}

TEST(RecordsTest, GoalYearAndProgressRoundTrip) {
  GoalYear y{2.5, 175000000, {"SGP", "Recursos propios"}, std::string("\x01\x00\x02", 3)};
  GoalYear yb;
  ASSERT_TRUE(Decode(Encode(y), &yb));
  EXPECT_EQ(yb.physical, 2.5);
  EXPECT_EQ(yb.pesos, 175000000);
  EXPECT_EQ(yb.sources, y.sources);
  EXPECT_EQ(yb.payload, y.payload);
  Progress p{0.75, "payload"};
  Progress pb;
  ASSERT_TRUE(Decode(Encode(p), &pb));
  EXPECT_EQ(pb.physical_ytd, 0.75);
  EXPECT_EQ(pb.payload, "payload");
}

TEST(RecordsTest, GoalRoundTrips) {
  Goal g{false, "450101500", true, 500, std::string{'\x04', '\x00', 'f', 'b'}, {{2020, 100}, {2021, 140.5}}};
  Goal back;
  ASSERT_TRUE(Decode(Encode(g), &back));
  EXPECT_FALSE(back.homologated);
  EXPECT_EQ(back.cpi, "450101500");
  EXPECT_TRUE(back.acumulativo);
  EXPECT_EQ(back.target, 500);
  EXPECT_EQ(back.payload, g.payload);
  EXPECT_EQ(back.years, g.years);
  EXPECT_EQ(Encode(back), Encode(g));
  const std::string bytes = Encode(g);
  EXPECT_FALSE(Decode(bytes.substr(0, bytes.size() - 8), &back));  // a year cut short
  GoalYear y;
  EXPECT_FALSE(Decode(bytes, &y));  // another kind
}

TEST(RecordsTest, CampaignRoundTrips) {
  Campaign c;
  c.campaign = "KPT-2023";
  c.system = "kpt";
  c.vigencia = 2023;
  c.milestones = {{"Q1", "report", "2023-03-31", "2023-04-15"}, {"Q2", "report", "", "2023-07-15"}};
  c.variables = {{"V1", "Recaudo", "pesos"}};
  Campaign back;
  ASSERT_TRUE(Decode(Encode(c), &back));
  EXPECT_EQ(back.campaign, "KPT-2023");
  EXPECT_EQ(back.system, "kpt");
  EXPECT_EQ(back.vigencia, 2023);
  ASSERT_EQ(back.milestones.size(), 2u);
  EXPECT_EQ(back.milestones[0].id, "Q1");
  EXPECT_EQ(back.milestones[0].activity, "report");
  EXPECT_EQ(back.milestones[0].cut, "2023-03-31");
  EXPECT_EQ(back.milestones[1].deadline, "2023-07-15");
  ASSERT_EQ(back.variables.size(), 1u);
  EXPECT_EQ(back.variables[0].code, "V1");
  EXPECT_EQ(back.variables[0].name, "Recaudo");
  EXPECT_EQ(back.variables[0].type, "pesos");
  std::string bytes = Encode(c);
  EXPECT_FALSE(Decode(bytes.substr(0, bytes.size() - 2), &back));
}

TEST(RecordsTest, RefusesOtherKindsTruncationAndMessagePack) {
  const std::string head = Encode(StreamHead{1, Sha256("x")});
  Meta m;
  EXPECT_FALSE(Decode(head, &m));  // another kind
  StreamHead h;
  EXPECT_FALSE(Decode(head.substr(0, head.size() - 1), &h));  // truncated
  EXPECT_FALSE(Decode(head + "x", &h));                       // trailing bytes
  Outcome o;
  const std::string big_count =
      Encode(Outcome{}).substr(0, 2 + 1 + 32 + 1 + 4 + 4) + std::string("\xff\xff\xff\x7f");
  EXPECT_FALSE(Decode(big_count, &o));
  const std::vector<uint8_t> old = nlohmann::json::to_msgpack(nlohmann::json{{"seq", 1}, {"hash", "00"}});
  EXPECT_FALSE(Decode(std::string(old.begin(), old.end()), &h));
}

TEST(RecordsTest, ReadThrowsOnAMalformedRecordAndIsNulloptWhenAbsent) {
  MemoryState st;
  EXPECT_FALSE(ReadStreamHead(st, "s/directory"));
  st.Put("s/directory", Encode(Meta{"system", 1, 1}));
  EXPECT_THROW(ReadStreamHead(st, "s/directory"), std::runtime_error);
  st.Put("s/directory", Encode(StreamHead{7, {}}));
  EXPECT_EQ(ReadStreamHead(st, "s/directory")->seq, 7u);
}

}  // namespace
}  // namespace veeduria::events::records
