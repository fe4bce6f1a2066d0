#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "fixture.h"

// Query parameters are written as designated initializers naming only what a case sets.

namespace veeduria {
namespace {

using nlohmann::json;
using testing::LedgerFixture;
using testing::RowsWhere;

void Accept(LedgerFixture& f, const json& command) {
  const events::Decision d = f.Submit(command);
  ASSERT_EQ(d.outcome, events::Outcome::kAccepted)
      << d.reason << ": " << d.message << " in " << command.dump();
}

json Cmd(const std::string& name, const std::string& id, const std::string& actor, const std::string& at,
         json fields) {
  json c = {{"command", name}, {"command_id", id}, {"actor", actor}, {"at", at}};
  c.update(fields);
  return c;
}

std::string Text(const projections::Table& t) { return projections::Render(t, projections::Format::kTable); }

const char kGob[] = "planeacion@cundinamarca.gov.co";
const char kReviewer[] = "revision@cundinamarca.gov.co";
const char kTenjo[] = "planeacion@tenjo-cundinamarca.gov.co";
const char kDnp[] = "admin@dnp.gov.co";
const char kSha[] = "1caa84d55d19bb6ce4f96bb0f34151710ff2d0b329c7e0051277b02e97ebce00";

// A small ledger for one review: Cundinamarca, Tenjo and Cajicá, the leaders of the gobernación
// and of Tenjo (requested by themselves, activated by the platform account), the reviewer the
// gobernación's leader names, one goal each for 25 and Tenjo (requests name goals), the 2023
// calendar, and Tenjo's on-time Q1 submission.
void SmallLedger(LedgerFixture& f) {
  Accept(f, {{"command", "init"},
             {"command_id", "init"},
             {"actor", kDnp},
             {"clock", "simulated"},
             {"admin", kDnp},
             {"partitions", 4},
             {"at", "2023-01-02T08:00:00-05:00"}});
  const json entities[] = {
      {{"entity", "25"}, {"name", "CUNDINAMARCA"}, {"kind", "departamento"}, {"department", "25"}},
      {{"entity", "25799"}, {"name", "TENJO"}, {"kind", "municipio"}, {"department", "25"}},
      {{"entity", "25126"}, {"name", "CAJICÁ"}, {"kind", "municipio"}, {"department", "25"}}};
  for (const auto& e : entities)
    Accept(f, Cmd("register_entity", "e-" + e["entity"].get<std::string>(), kDnp, "2023-01-03T08:00:00-05:00",
                  e));
  const std::string doc = "eb2ca6c157283a18c1fdb080a70e7862cc3d21d39f48813932c968934bda29d4";
  const std::pair<std::string, std::string> leaders[] = {{"25", kGob}, {"25799", kTenjo}};
  int hour = 10;  // two digits; the simulated clock never goes back
  for (const auto& [entity, email] : leaders) {
    const std::string h = "2023-01-05T" + std::to_string(hour++) + ":";
    Accept(f, Cmd("request_leader", "lr-" + entity, email, h + "00:00-05:00",
                  {{"entity", entity},
                   {"email", email},
                   {"name", "Líder"},
                   {"supports", {{{"kind", "acta_de_posesion"}, {"sha256", doc}}}}}));
    Accept(f, Cmd("activate_leader", "act-" + entity, "system", h + "30:00-05:00",
                  {{"request_id", "lr-" + entity}}));
  }
  Accept(f, Cmd("grant_role", "grant-reviewer", kGob, "2023-01-06T08:00:00-05:00",
                {{"user", kReviewer}, {"role", "department_reviewer"}, {"scope", "25"}}));
  for (const auto& [entity, email] : leaders) {
    const std::string h = "2023-01-10T" + std::to_string(hour++) + ":";
    Accept(f, Cmd("upload_plan", "plan-" + entity, email, h + "00:00-05:00",
                  {{"entity", entity},
                   {"plan", "PDT-2020-2023"},
                   {"name", "Plan de desarrollo"},
                   {"period", {2020, 2023}},
                   {"document_sha256", doc}}));
    Accept(f, Cmd("define_goal", "goal-" + entity, email, h + "01:00-05:00",
                  {{"entity", entity},
                   {"plan", "PDT-2020-2023"},
                   {"goal", "IP-155"},
                   {"cpi_indicator", "450102800"},
                   {"name", "Cámaras de seguridad instaladas"},
                   {"unit", "Número"},
                   {"baseline", 0},
                   {"target", 60},
                   {"accumulation", "acumulativo"}}));
  }
  std::ifstream in(std::string(VEEDURIA_SOURCE_DIR) + "/ops/campaigns/2023.jsonl");
  ASSERT_TRUE(in);
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& line : events::SplitLines(body)) Accept(f, json::parse(line.text));
  Accept(f, Cmd("submit_report", "tenjo-q1", kTenjo, "2023-04-12T09:00:00-05:00",
                {{"entity", "25799"}, {"campaign", "KPT-2023"}, {"milestone", "Q1"}}));
}

projections::Table Reviews(const projections::View& view, projections::ReviewsParams params) {
  auto t = projections::ReviewsQuery(view, params);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : projections::Table{};
}

// Circular 0009-4 on the 2023 cycle: Tenjo submitted Q2 six days late; the gobernación asked
// for an adjustment, Tenjo corrected and answered it, and the gobernación validated.
TEST(ReviewsTest, TenjoQ2IsLateThenAdjustedAnsweredAndValidated) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  const auto t = Reviews(*view, {.entity = "25799", .campaign = "KPT-2023", .milestone = "Q2"});
  ASSERT_EQ(t.rows.size(), 1u) << Text(t);
  const auto& r = t.rows[0];
  EXPECT_EQ(r["name"], "TENJO");
  EXPECT_EQ(r["submitted_at"], "2023-07-21T20:00:00Z");
  EXPECT_EQ(r["timeliness"], "late");
  EXPECT_EQ(r["days_late"], 6);
  EXPECT_EQ(r["requests"], 1);
  EXPECT_EQ(r["open_requests"], 0);
  EXPECT_EQ(r["overdue_requests"], 0);
  EXPECT_EQ(r["last_request_due"], "2023-08-08");
  EXPECT_EQ(r["answered_at"], "2023-08-01T21:00:00Z");
  EXPECT_EQ(r["validated_at"], "2023-08-03T15:00:00Z");
  EXPECT_EQ(r["validated_by"], "dsuarez@cundinamarca.gov.co");
  EXPECT_EQ(r["notified"], false);
  EXPECT_EQ(r["referred"], false);
  EXPECT_EQ(r["status"], "submitted late (6 days) → adjustment requested → answered → validated");
  // The evidence behind it: the request's item, the answer's evidence, the correction and the
  // trail of event ids in order.
  const std::string notes = Text(t);
  EXPECT_NE(notes.find("request gob25-adj-25799-q2 by dsuarez@cundinamarca.gov.co"), std::string::npos)
      << notes;
  EXPECT_NE(notes.find("IP-155: Se reportan 12 cámaras"), std::string::npos) << notes;
  EXPECT_NE(notes.find(std::string("evidence acta de recibo contrato 2023-041 sha256 ") + kSha),
            std::string::npos)
      << notes;
  size_t last = 0;
  for (const char* step :
       {"trail 2023-07-21T20:00:00Z ReportSubmitted", "trail 2023-07-25T16:00:00Z AdjustmentRequested",
        "trail 2023-07-31T15:00:00Z ProgressReported", "trail 2023-08-01T21:00:00Z AdjustmentAnswered",
        "trail 2023-08-03T15:00:00Z ReportValidated"}) {
    const size_t at = notes.find(step);
    ASSERT_NE(at, std::string::npos) << step << "\n" << notes;
    EXPECT_GT(at, last) << step;
    last = at;
  }
}

TEST(ReviewsTest, EveryMilestoneOfAnEntity) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  const auto t = Reviews(*view, {.entity = "25799", .campaign = "KPT-2023"});
  ASSERT_EQ(t.rows.size(), 4u) << Text(t);
  EXPECT_EQ(t.rows[0]["milestone"], "Q1");
  EXPECT_EQ(t.rows[0]["timeliness"], "on time");
  EXPECT_EQ(t.rows[0]["days_late"], 0);
  EXPECT_EQ(t.rows[0]["status"], "submitted on time → validated");
  EXPECT_EQ(t.rows[3]["milestone"], "Q4");
  EXPECT_EQ(t.rows[3]["status"], "submitted on time → adjustment requested → answered → validated");
}

// Chía never submitted Q2: the gobernación notified it and DNP referred it. The department's
// list has its municipalities, not the gobernación itself (DNP reviews it).
TEST(ReviewsTest, DepartmentListsItsMunicipalitiesWithNoticesAndReferrals) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  const auto t = Reviews(*view, {.department = "25", .campaign = "KPT-2023", .milestone = "Q2"});
  ASSERT_EQ(t.rows.size(), 2u) << Text(t);
  const auto chia = RowsWhere(t, "entity", "25175");
  ASSERT_EQ(chia.size(), 1u);
  EXPECT_EQ(chia[0]["timeliness"], "not submitted");
  EXPECT_TRUE(chia[0]["submitted_at"].is_null());
  EXPECT_EQ(chia[0]["notified"], true);
  EXPECT_EQ(chia[0]["referred"], true);
  EXPECT_EQ(chia[0]["status"],
            "not submitted → notified (not reported) → referred to Procuraduría Provincial de Zipaquirá");
  EXPECT_EQ(RowsWhere(t, "entity", "25799").size(), 1u);
  EXPECT_TRUE(RowsWhere(t, "entity", "25").empty());
  const std::string text = Text(t);
  EXPECT_NE(text.find("reviewed by DNP: see --entity 25"), std::string::npos) << text;
  // Antioquia's entities are not in Cundinamarca's list.
  EXPECT_TRUE(RowsWhere(t, "entity", "05001").empty());
}

// As of 28 July 2023 Tenjo's Q2 request (due 8 August) was open but not overdue, and nothing
// had been validated yet.
TEST(ReviewsTest, AsOfWhileTheRequestWasOpen) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.AsOf(projections::AsOfKeysForEntity(f.store(), "25799", false), "2023-07-28");
  const auto open = Reviews(*view, {.entity = "25799", .status = "open"});
  ASSERT_EQ(open.rows.size(), 1u) << Text(open);
  EXPECT_EQ(open.rows[0]["milestone"], "Q2");
  EXPECT_EQ(open.rows[0]["open_requests"], 1);
  EXPECT_TRUE(open.rows[0]["validated_at"].is_null());
  EXPECT_EQ(open.rows[0]["status"],
            "submitted late (6 days) → adjustment requested → awaiting answer, due 2023-08-08");
  EXPECT_TRUE(Reviews(*view, {.entity = "25799", .status = "overdue"}).rows.empty());
  // The department's list as of then, from the as-of keys of the department.
  auto dview = f.AsOf(projections::AsOfKeysForDepartment(f.store(), "25"), "2023-07-28");
  const auto dept = Reviews(*dview, {.department = "25", .status = "open"});
  ASSERT_EQ(dept.rows.size(), 1u) << Text(dept);
  EXPECT_EQ(dept.rows[0]["entity"], "25799");
}

// A request is open until answered and overdue from the first instant after its due date in
// Bogotá; an answer after the due date closes it, marked late.
TEST(ReviewsTest, OpenAndOverdueFollowTheDueDateInBogota) {
  LedgerFixture f;
  SmallLedger(f);
  Accept(f, Cmd("request_adjustment", "adj-tenjo-q1", kReviewer, "2023-04-17T09:00:00-05:00",
                {{"entity", "25799"},
                 {"campaign", "KPT-2023"},
                 {"milestone", "Q1"},
                 {"kind", "adjustment"},
                 {"items", {{{"goal", "IP-155"}, {"observation", "Adjuntar el acta de recibo"}}}},
                 {"due", "2023-04-21"}}));
  {
    auto view = f.Live("2023-04-20T12:00:00-05:00");
    const auto open = Reviews(*view, {.department = "25", .status = "open"});
    ASSERT_EQ(open.rows.size(), 1u) << Text(open);
    EXPECT_EQ(open.rows[0]["entity"], "25799");
    EXPECT_EQ(open.rows[0]["last_request_due"], "2023-04-21");
    EXPECT_TRUE(Reviews(*view, {.department = "25", .status = "overdue"}).rows.empty());
  }
  {
    // The last minute of the due date is still on time.
    auto view = f.Live("2023-04-21T23:59:59-05:00");
    EXPECT_TRUE(Reviews(*view, {.entity = "25799", .status = "overdue"}).rows.empty());
  }
  {
    auto view = f.Live("2023-04-22T00:00:00-05:00");
    const auto overdue =
        Reviews(*view, {.entity = "25799", .campaign = "KPT-2023", .milestone = "Q1", .status = "overdue"});
    ASSERT_EQ(overdue.rows.size(), 1u) << Text(overdue);
    EXPECT_EQ(overdue.rows[0]["overdue_requests"], 1);
    EXPECT_EQ(overdue.rows[0]["status"],
              "submitted on time → adjustment requested → answer overdue since 2023-04-21");
  }
  Accept(f, Cmd("answer_adjustment", "answer-tenjo-q1", kTenjo, "2023-04-24T10:00:00-05:00",
                {{"request_id", "adj-tenjo-q1"},
                 {"note", "Se adjunta el acta"},
                 {"evidence", {{{"name", "acta de recibo"}, {"sha256", kSha}}}}}));
  auto view = f.Live("2023-05-01T00:00:00-05:00");
  EXPECT_TRUE(Reviews(*view, {.department = "25", .status = "open"}).rows.empty());
  EXPECT_TRUE(Reviews(*view, {.department = "25", .status = "overdue"}).rows.empty());
  const auto t = Reviews(*view, {.entity = "25799", .campaign = "KPT-2023", .milestone = "Q1"});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0]["answered_at"], "2023-04-24T15:00:00Z");
  EXPECT_EQ(t.rows[0]["status"], "submitted on time → adjustment requested → answered late (3 days)");
  EXPECT_NE(Text(t).find(std::string("evidence acta de recibo sha256 ") + kSha), std::string::npos)
      << Text(t);
}

// DNP asks through the gobernación; the gobernación's own report is DNP's to review and shows
// under --entity, not in the department's list.
TEST(ReviewsTest, DnpRequestsThroughTheGobernacionAndReviewsTheGobernacion) {
  LedgerFixture f;
  SmallLedger(f);
  Accept(f, Cmd("request_adjustment", "dnp-clar-tenjo-q1", kDnp, "2023-04-17T09:00:00-05:00",
                {{"entity", "25799"},
                 {"campaign", "KPT-2023"},
                 {"milestone", "Q1"},
                 {"kind", "clarification"},
                 {"items", {{{"goal", "IP-155"}, {"observation", "Aclarar la fuente"}}}},
                 {"due", "2023-04-28"}}));
  Accept(f, Cmd("request_adjustment", "dnp-adj-25-q1", kDnp, "2023-04-17T09:05:00-05:00",
                {{"entity", "25"},
                 {"campaign", "KPT-2023"},
                 {"milestone", "Q1"},
                 {"kind", "adjustment"},
                 {"items", {{{"goal", "IP-155"}, {"observation", "Reportar el avance"}}}},
                 {"due", "2023-04-28"}}));
  auto view = f.Live("2023-04-20T00:00:00-05:00");
  const auto tenjo = Reviews(*view, {.entity = "25799", .campaign = "KPT-2023", .milestone = "Q1"});
  ASSERT_EQ(tenjo.rows.size(), 1u);
  EXPECT_EQ(
      tenjo.rows[0]["status"],
      "submitted on time → clarification requested by DNP through the gobernación → awaiting answer, due "
      "2023-04-28");
  EXPECT_NE(Text(tenjo).find("(DNP, through the gobernación)"), std::string::npos) << Text(tenjo);
  const auto dept = Reviews(*view, {.department = "25", .status = "open"});
  ASSERT_EQ(dept.rows.size(), 1u) << Text(dept);
  EXPECT_EQ(dept.rows[0]["entity"], "25799");
  const auto gob = Reviews(*view, {.entity = "25", .status = "open"});
  ASSERT_EQ(gob.rows.size(), 1u) << Text(gob);
  EXPECT_EQ(gob.rows[0]["timeliness"], "not submitted");
  EXPECT_EQ(gob.rows[0]["status"],
            "not submitted → adjustment requested by DNP through the gobernación → "
            "awaiting answer, due 2023-04-28");
}

TEST(ReviewsTest, BadParametersAreInvalidArguments) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  for (const projections::ReviewsParams& p :
       {projections::ReviewsParams{}, projections::ReviewsParams{.entity = "25799", .department = "25"},
        projections::ReviewsParams{.entity = "25799", .status = "late"},
        projections::ReviewsParams{.entity = "99999"}, projections::ReviewsParams{.department = "99"},
        projections::ReviewsParams{.entity = "25799", .milestone = "Q2"}}) {
    auto t = projections::ReviewsQuery(*view, p);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace veeduria
