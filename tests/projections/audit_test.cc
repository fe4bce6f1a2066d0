#include <gtest/gtest.h>

#include <map>

#include "fixture.h"

namespace veeduria {
namespace {

using testing::LedgerFixture;
using testing::RowsWhere;

// On the 2023 cycle: Tenjo's Q2 value of IP-155 was corrected from 12 to 14 on 31 July 2023.
TEST(AuditTest, ACorrectionShowsBothValuesAndTheActor) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  auto t =
      projections::AuditQuery(*view, {.entity = "25799", .object = "IP-155", .type = "ProgressReported"});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  bool found = false;
  for (const auto& r : t->rows) {
    const std::string change = r["change"].get<std::string>();
    if (change.find("physical_ytd: 12.0 → 14.0") != std::string::npos) {
      found = true;
      EXPECT_FALSE(r["actor"].get<std::string>().empty());
      EXPECT_FALSE(r["event_id"].get<std::string>().empty());
      EXPECT_NE(r["position"].get<std::string>().find("events/"), std::string::npos);
    }
  }
  EXPECT_TRUE(found) << projections::Render(*t, projections::Format::kTable);
}

TEST(AuditTest, AsOfADayBeforeTheCorrectionShowsTheOldValueOnly) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.AsOf({"25799", "*"}, "2023-07-30");
  auto t =
      projections::AuditQuery(*view, {.entity = "25799", .object = "IP-155", .type = "ProgressReported"});
  ASSERT_TRUE(t.ok());
  for (const auto& r : t->rows)
    EXPECT_EQ(r["change"].get<std::string>().find("→ 14.0"), std::string::npos) << r.dump();
  EXPECT_FALSE(t->rows.empty());
}

// A bare goal id finds that goal in every plan (the query skips from plan to plan); a full
// <plan>/<goal> finds only that plan's; other objects never match a goal id.
TEST(AuditTest, ABareGoalIdIsThatGoalInEveryPlan) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  auto bare = projections::AuditQuery(*view, {.entity = "25799", .object = "IP-155"});
  ASSERT_TRUE(bare.ok());
  ASSERT_FALSE(bare->rows.empty());
  std::map<std::string, size_t> per_plan;
  for (const auto& r : bare->rows) {
    const std::string object = r["object"].get<std::string>();
    ASSERT_TRUE(object.ends_with("/IP-155")) << object;
    ++per_plan[object];
  }
  for (const auto& [object, n] : per_plan) {
    auto full = projections::AuditQuery(*view, {.entity = "25799", .object = object});
    ASSERT_TRUE(full.ok());
    EXPECT_EQ(full->rows.size(), n) << object;
  }
  auto none = projections::AuditQuery(*view, {.entity = "25799", .object = "NO-SUCH-PLAN/IP-155"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->rows.empty());
}

TEST(AuditTest, RefusalsAreOnTheEntitysTrail) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  auto t = projections::AuditQuery(*view, {.entity = "25799", .type = "CommandRejected"});
  ASSERT_TRUE(t.ok());
  bool other_department = false;
  for (const auto& r : t->rows)
    other_department =
        other_department || r["change"].get<std::string>().find("not_authorized") != std::string::npos;
  EXPECT_TRUE(other_department) << projections::Render(*t, projections::Format::kTable);
}

}  // namespace
}  // namespace veeduria
