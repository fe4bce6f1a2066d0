#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

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

// What the Cundinamarca reviewer did, across the municipalities it reviews: the notification of
// Chía (25175) and the adjustments and validations of Tenjo (25799), each line naming its entity,
// in time order, and nobody else's events.
TEST(AuditTest, AnActorsTrailCrossesEntities) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  const std::string reviewer = "dsuarez@cundinamarca.gov.co";
  auto t = projections::AuditQuery(*view, {.actor = reviewer});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->title, "Audit of actor " + reviewer);
  ASSERT_NE(std::find(t->columns.begin(), t->columns.end(), "entity"), t->columns.end());
  std::map<std::string, std::set<std::string>> types;  // entity → event types
  std::string last;
  for (const auto& r : t->rows) {
    EXPECT_EQ(r["actor"], reviewer);
    EXPECT_LE(last, r["time"].get<std::string>());
    last = r["time"].get<std::string>();
    types[r["entity"].get<std::string>()].insert(r["event"].get<std::string>());
  }
  EXPECT_EQ(types["25175"], std::set<std::string>{"NonComplianceNotified"})
      << projections::Render(*t, projections::Format::kTable);
  EXPECT_TRUE(types["25799"].count("AdjustmentRequested") && types["25799"].count("ReportValidated"))
      << projections::Render(*t, projections::Format::kTable);
  // One entity: the same lines as that entity's trail filtered by actor, without the column.
  auto tenjo = projections::AuditQuery(*view, {.entity = "25799", .actor = reviewer});
  ASSERT_TRUE(tenjo.ok());
  EXPECT_EQ(tenjo->rows.size(), RowsWhere(*t, "entity", "25799").size());
  EXPECT_EQ(std::find(tenjo->columns.begin(), tenjo->columns.end(), "entity"), tenjo->columns.end());

  // Antioquia's reviewer was refused on Tenjo: its attempts are on its own trail.
  auto outsider =
      projections::AuditQuery(*view, {.actor = "pvelez@antioquia.gov.co", .type = "CommandRejected"});
  ASSERT_TRUE(outsider.ok());
  EXPECT_FALSE(RowsWhere(*outsider, "entity", "25799").empty())
      << projections::Render(*outsider, projections::Format::kTable);

  auto neither = projections::AuditQuery(*view, {});
  EXPECT_FALSE(neither.ok());
}

// An actor's name is one part of the index's keys whatever it holds: "x" and "x/y" (or "x%2Fy")
// are three actors.
TEST(AuditTest, ActorsWhoseNamesHoldSlashesAreKeptApart) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const std::vector<std::string> actors = {"mallory@x.co", "mallory@x.co/25799", "mallory@x.co%2F25799"};
  for (size_t i = 0; i < actors.size(); ++i)
    f.Submit(nlohmann::json{{"command", "submit_report"},
                            {"command_id", "mallory-" + std::to_string(i)},
                            {"actor", actors[i]},
                            {"at", "2024-03-0" + std::to_string(i + 1) + "T09:00:00-05:00"},
                            {"entity", "25799"},
                            {"campaign", "KPT-2023"},
                            {"milestone", "Q4"}});
  auto view = f.Live();
  for (const std::string& actor : actors) {
    auto t = projections::AuditQuery(*view, {.actor = actor});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_EQ(t->rows.size(), 1u) << actor << "\n" << projections::Render(*t, projections::Format::kTable);
    EXPECT_EQ(t->rows[0]["actor"], actor);
    EXPECT_EQ(t->rows[0]["entity"], "25799");
    EXPECT_EQ(t->rows[0]["event"], "CommandRejected");
  }
}

// An object filter on an actor's trail keeps that object only, as on an entity's trail: not a
// goal whose id extends it past a '/' (IP-155/2 beside IP-155), and a bare goal id is a goal,
// never a report's milestone (Q2 is not report:KPT-2023/Q2).
TEST(AuditTest, AnActorsTrailKeepsOnlyTheObjectAskedFor) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const std::string reporter = "mhernandez@tenjo-cundinamarca.gov.co";
  const events::Decision d = f.Submit(nlohmann::json{{"command", "define_goal"},
                                                     {"command_id", "tenjo-goal-IP-155-2"},
                                                     {"actor", reporter},
                                                     {"at", "2024-03-05T09:00:00-05:00"},
                                                     {"entity", "25799"},
                                                     {"plan", "PDM-2020-2023"},
                                                     {"goal", "IP-155/2"},
                                                     {"cpi_indicator", "450102800"},
                                                     {"name", "Instalar 10 cámaras más"},
                                                     {"unit", "Número"},
                                                     {"target", 10},
                                                     {"accumulation", "acumulativo"}});
  ASSERT_EQ(d.outcome, events::Outcome::kAccepted) << d.message;
  auto view = f.Live();
  for (const std::string& object :
       std::vector<std::string>{"PDM-2020-2023/IP-155", "IP-155", "PDM-2020-2023/IP-155/2", "IP-155/2", "Q2",
                                "report:KPT-2023/Q2"})
    for (const std::string& actor : {reporter, std::string("dsuarez@cundinamarca.gov.co")}) {
      auto across = projections::AuditQuery(*view, {.object = object, .actor = actor});
      auto one = projections::AuditQuery(*view, {.entity = "25799", .object = object, .actor = actor});
      ASSERT_TRUE(across.ok() && one.ok()) << object;
      std::vector<nlohmann::ordered_json> rows;  // Tenjo's, of the trail across entities
      for (auto r : across->rows)
        if (r["entity"] == "25799") {
          r.erase("entity");
          rows.push_back(r);
        }
      EXPECT_EQ(rows, one->rows) << object << " " << actor;
      if (object.ends_with("IP-155")) {
        for (const auto& r : across->rows) EXPECT_NE(r["object"], "PDM-2020-2023/IP-155/2") << object;
      }
      if (object == "Q2") {
        EXPECT_TRUE(across->rows.empty()) << object << " " << actor;
      }
    }
  auto extended = projections::AuditQuery(*view, {.object = "PDM-2020-2023/IP-155/2", .actor = reporter});
  ASSERT_TRUE(extended.ok());
  EXPECT_EQ(extended->rows.size(), 1u);
  auto q2 = projections::AuditQuery(*view,
                                    {.object = "report:KPT-2023/Q2", .actor = "dsuarez@cundinamarca.gov.co"});
  ASSERT_TRUE(q2.ok());
  EXPECT_FALSE(q2->rows.empty());
}

// The index keys of the audit rows: every entity, "*" and "@<email>".
std::set<std::string> IndexKeys(const projections::View& view) {
  std::set<std::string> keys;
  for (const char* family : {"o/", "i/"})
    view.rows("audit").Scan(family, [&](std::string_view k, std::string_view) {
      const std::string_view rest = k.substr(2);
      keys.insert(std::string(rest.substr(0, rest.find('/'))));
      return true;
    });
  return keys;
}

// Every actor's trail across entities is the union of the entity trails' lines of that actor
// (an event under two index keys once), with and without an object, a type and a time window,
// live and as of an instant; and under one entity, that entity's trail filtered by actor.
TEST(AuditTest, AnActorsTrailIsTheEntityTrailsFilteredByActor) {
  LedgerFixture f;
  ASSERT_NO_FATAL_FAILURE(testing::LoadGenerated(f, "tiny"));
  auto live = f.Live();
  const std::set<std::string> keys = IndexKeys(*live);
  ASSERT_GT(keys.size(), 10u);
  std::map<std::string, projections::Table> trails;  // index key → its whole trail
  std::set<std::string> actors;
  for (const std::string& k : keys) {
    auto t = projections::AuditQuery(*live, {.entity = k});
    ASSERT_TRUE(t.ok()) << k << ": " << t.status().ToString();
    for (const auto& r : t->rows) actors.insert(r["actor"].get<std::string>());
    trails[k] = std::move(*t);
  }
  ASSERT_GT(actors.size(), 10u);
  auto as_of = f.AsOf({}, "2023-08-01");
  struct Case {
    const projections::View* view;
    projections::AuditParams params;
  };
  size_t lines = 0, filtered = 0;
  for (const std::string& actor : actors) {
    std::vector<Case> cases = {{live.get(), {.actor = actor}},
                               {live.get(), {.object = "IP-1", .actor = actor}},
                               {live.get(), {.actor = actor, .type = "ProgressReported"}},
                               {live.get(),
                                {.actor = actor,
                                 .from = *events::ParseInstant("2023-04-01"),
                                 .to = *events::ParseInstant("2023-07-31")}},
                               {as_of.get(), {.actor = actor}}};
    for (const Case& c : cases) {
      std::vector<std::string> want;  // by event id: an event under two keys is one line
      std::set<std::string> seen;
      for (const std::string& k : keys) {
        projections::AuditParams p = c.params;
        p.entity = k;
        auto t = projections::AuditQuery(*c.view, p);
        ASSERT_TRUE(t.ok()) << t.status().ToString();
        if (c.params.object.empty() && c.params.type.empty() && !c.params.from && c.view == live.get()) {
          // Under one entity: that entity's whole trail filtered by actor, line for line.
          ASSERT_EQ(t->rows, RowsWhere(trails[k], "actor", actor)) << k << " " << actor;
        }
        for (const auto& r : t->rows)
          if (seen.insert(r["event_id"].get<std::string>()).second) want.push_back(r.dump());
      }
      auto across = projections::AuditQuery(*c.view, c.params);
      ASSERT_TRUE(across.ok()) << across.status().ToString();
      std::vector<std::string> got;
      std::string last;
      for (auto r : across->rows) {
        EXPECT_LE(last, r["time"].get<std::string>()) << actor;
        last = r["time"].get<std::string>();
        r.erase("entity");
        got.push_back(r.dump());
      }
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << actor << " " << c.params.object << " " << c.params.type;
      lines += got.size();
      filtered += c.params.object.empty() && c.params.type.empty() && !c.params.from ? 0 : got.size();
    }
  }
  EXPECT_GT(lines, 1000u);
  EXPECT_GT(filtered, 100u);  // the filters matched something
}

}  // namespace
}  // namespace veeduria
