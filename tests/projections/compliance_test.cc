#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "fixture.h"

// Query parameters are written as designated initializers naming only what a case sets.

namespace veeduria {
namespace {

using nlohmann::json;
using testing::LedgerFixture;
using testing::RowsWhere;

std::string Text(const projections::Table& t) { return projections::Render(t, projections::Format::kTable); }

projections::Table Compliance(const projections::View& view, projections::ComplianceParams params) {
  auto t = projections::ComplianceQuery(view, params);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : projections::Table{};
}

nlohmann::ordered_json Row(const projections::Table& t, const std::string& entity) {
  const auto rows = RowsWhere(t, "entity", entity);
  EXPECT_EQ(rows.size(), 1u) << entity << "\n" << Text(t);
  return rows.empty() ? nlohmann::ordered_json() : rows[0];
}

bool HasNote(const projections::Table& t, const std::string& text) {
  for (const auto& n : t.notes)
    if (n.find(text) != std::string::npos) return true;
  return false;
}

// KPT-2023 Q2 in Cundinamarca: Tenjo six days late; Chía missing, notified by the gobernación
// and referred by DNP; the gobernación itself did not report either and only DNP can act on it.
TEST(ComplianceTest, Kpt2023Q2InCundinamarca) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  const auto t = Compliance(*view, {.campaign = "KPT-2023", .milestone = "Q2", .department = "25"});
  ASSERT_EQ(t.rows.size(), 3u) << Text(t);
  const auto tenjo = Row(t, "25799");
  EXPECT_EQ(tenjo["name"], "TENJO");
  EXPECT_EQ(tenjo["department"], "25");
  EXPECT_EQ(tenjo["status"], "late");
  EXPECT_EQ(tenjo["days_late"], 6);
  EXPECT_EQ(tenjo["reported_at"], "2023-07-21T20:00:00Z");
  EXPECT_EQ(tenjo["notified"], false);
  EXPECT_EQ(tenjo["referred"], false);
  EXPECT_EQ(tenjo["action"], "");
  const auto chia = Row(t, "25175");
  EXPECT_EQ(chia["status"], "missing");
  EXPECT_TRUE(chia["days_late"].is_null());
  EXPECT_TRUE(chia["reported_at"].is_null());
  EXPECT_EQ(chia["notified"], true);
  EXPECT_EQ(chia["notified_at"], "2023-07-24T14:00:00Z");
  EXPECT_EQ(chia["referred"], true);
  EXPECT_EQ(chia["control_body"], "Procuraduría Provincial de Zipaquirá");
  EXPECT_EQ(chia["action"], "");
  const auto gob = Row(t, "25");
  EXPECT_EQ(gob["kind"], "departamento");
  EXPECT_EQ(gob["status"], "missing");
  EXPECT_EQ(gob["action"], "refer");
  EXPECT_TRUE(RowsWhere(t, "entity", "05001").empty());
  EXPECT_TRUE(
      HasNote(t, "totals: 0 on time, 1 late, 2 missing, 0 pending; 1 notified, 1 referred; 3 expected"))
      << Text(t);
}

// The action column follows the procedure: after the deadline a missing municipality is to be
// notified; once notified, referred; once referred, nothing more.
TEST(ComplianceTest, ActionFollowsNoticeAndReferral) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();  // the department's as-of keys come from the live compliance rows
  const auto keys = projections::AsOfKeysForDepartment(f.store(), "25");
  const std::map<std::string, std::string> expected = {
      {"2023-07-22", "notify"}, {"2023-07-30", "refer"}, {"2023-08-11", ""}};
  for (const auto& [day, action] : expected) {
    auto view = f.AsOf(keys, day);
    const auto t = Compliance(*view, {.campaign = "KPT-2023", .milestone = "Q2", .department = "25"});
    const auto chia = Row(t, "25175");
    EXPECT_EQ(chia["status"], "missing") << day;
    EXPECT_EQ(chia["action"], action) << day << "\n" << Text(t);
    // Tenjo submitted on 21 July: late, whatever the day.
    EXPECT_EQ(Row(t, "25799")["status"], "late") << day;
    EXPECT_EQ(Row(t, "25799")["action"], "") << day;
    EXPECT_TRUE(HasNote(t, "as of")) << day;
  }
}

// Before the deadline nobody is missing yet: as of 10 July 2023 the Q2 cut (due 15 July) is
// pending for everyone, and there is nothing to do.
TEST(ComplianceTest, PendingBeforeTheDeadline) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();  // the department's as-of keys come from the live compliance rows
  auto view = f.AsOf(projections::AsOfKeysForDepartment(f.store(), "25"), "2023-07-10");
  const auto t = Compliance(*view, {.campaign = "KPT-2023", .milestone = "Q2", .department = "25"});
  ASSERT_EQ(t.rows.size(), 3u) << Text(t);
  for (const auto& r : t.rows) {
    EXPECT_EQ(r["status"], "pending") << r.dump();
    EXPECT_EQ(r["notified"], false) << r.dump();
    EXPECT_EQ(r["action"], "") << r.dump();
  }
  EXPECT_TRUE(HasNote(t, "totals: 0 on time, 0 late, 0 missing, 3 pending")) << Text(t);
  EXPECT_TRUE(HasNote(t, "not yet passed")) << Text(t);
  // On the deadline day itself it is still pending; the next day it is missing.
  auto last_day = f.AsOf(projections::AsOfKeysForDepartment(f.store(), "25"), "2023-07-15T23:59:59-05:00");
  EXPECT_EQ(Row(Compliance(*last_day, {.campaign = "KPT-2023", .milestone = "Q2", .department = "25"}),
                "25175")["status"],
            "pending");
  auto next_day = f.AsOf(projections::AsOfKeysForDepartment(f.store(), "25"), "2023-07-16T00:00:00-05:00");
  EXPECT_EQ(Row(Compliance(*next_day, {.campaign = "KPT-2023", .milestone = "Q2", .department = "25"}),
                "25175")["status"],
            "missing");
}

TEST(ComplianceTest, OnTimeQ1Nationally) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  const auto t = Compliance(*view, {.campaign = "KPT-2023", .milestone = "Q1"});
  ASSERT_EQ(t.rows.size(), 5u) << Text(t);  // 05, 05001, 25, 25175, 25799
  EXPECT_EQ(Row(t, "25799")["status"], "on time");
  EXPECT_EQ(Row(t, "25799")["days_late"], 0);
  EXPECT_EQ(Row(t, "25799")["reported_at"], "2023-04-13T21:00:00Z");
  EXPECT_EQ(Row(t, "25175")["status"], "on time");
  EXPECT_EQ(Row(t, "05001")["status"], "missing");
  EXPECT_EQ(Row(t, "05001")["action"], "notify");
  EXPECT_EQ(Row(t, "05")["action"], "refer");
}

// GESTIONWEB measures municipalities and districts only: no departamento is expected.
TEST(ComplianceTest, GestionwebExcludesDepartments) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  const auto national = Compliance(*view, {.campaign = "GESTIONWEB-2022", .milestone = "reporte"});
  ASSERT_EQ(national.rows.size(), 3u) << Text(national);
  for (const auto& r : national.rows) {
    EXPECT_NE(r["kind"], "departamento") << r.dump();
    EXPECT_EQ(r["status"], "missing") << r.dump();
    EXPECT_EQ(r["action"], "notify") << r.dump();
  }
  EXPECT_EQ(Row(national, "05001")["kind"], "distrito");
  const auto dept =
      Compliance(*view, {.campaign = "GESTIONWEB-2022", .milestone = "reporte", .department = "25"});
  ASSERT_EQ(dept.rows.size(), 2u) << Text(dept);
  EXPECT_TRUE(RowsWhere(dept, "entity", "25").empty());
}

TEST(ComplianceTest, UnknownCampaignOrMilestoneListsTheKnownOnes) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  auto c = projections::ComplianceQuery(*view, {.campaign = "KPT-2032", .milestone = "Q2"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("GESTIONWEB-2022, KPT-2023"), std::string::npos)
      << c.status().message();
  auto m = projections::ComplianceQuery(*view, {.campaign = "KPT-2023", .milestone = "Q5"});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("Q1, Q2, Q3, Q4"), std::string::npos) << m.status().message();
  // A milestone that is not a report (the gobernaciones' validation date) has nothing for
  // entities to meet: the error names the report milestones.
  auto v = projections::ComplianceQuery(*view, {.campaign = "GESTIONWEB-2022", .milestone = "validacion"});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("reporte"), std::string::npos) << v.status().message();
  auto none = projections::ComplianceQuery(*view, {.campaign = "KPT-2023"});
  EXPECT_FALSE(none.ok());
}

// The entity rows view.cc's as-of key functions depend on: e/<entity> → name, kind, department.
TEST(ComplianceTest, EntityRowsKeepTheirLayout) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const json e = f.store().rows("compliance").Record("e/25799");
  EXPECT_EQ(e, (json{{"name", "TENJO"}, {"kind", "municipio"}, {"department", "25"}}));
  const auto keys = projections::AsOfKeysForDepartment(f.store(), "25");
  EXPECT_EQ(keys, (std::vector<std::string>{"*", "25", "25175", "25799"}));
}

TEST(ComplianceTest, IncrementalCatchUpEqualsRebuild) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn", /*catch_up_each=*/true);
  std::map<std::string, std::string> incremental, rebuilt, empty;
  for (const auto& [name, digest] : f.store().Digests()) incremental[name] = digest;
  ASSERT_TRUE(f.store().Reset("").ok());
  for (const auto& [name, digest] : f.store().Digests()) empty[name] = digest;
  f.CatchUp();
  for (const auto& [name, digest] : f.store().Digests()) rebuilt[name] = digest;
  for (const char* p : {"reviews", "compliance"}) {
    EXPECT_EQ(incremental[p], rebuilt[p]) << p;
    EXPECT_NE(rebuilt[p], empty[p]) << p << " has no rows";
  }
  // And the answers are those of a ledger loaded at once.
  auto view = f.Live();
  const auto t = Compliance(*view, {.campaign = "KPT-2023", .milestone = "Q2", .department = "25"});
  EXPECT_EQ(Row(t, "25799")["days_late"], 6);
  EXPECT_EQ(Row(t, "25175")["referred"], true);
}

}  // namespace
}  // namespace veeduria
