// The progress projection and ProgressQuery (DESIGN §2.6): exact values on the 2023 cycle, and
// small dedicated ledgers whose arithmetic can be checked by hand.

#include <gtest/gtest.h>

#include <algorithm>

#include "fixture.h"
#include "veeduria/projections/projection.h"

namespace veeduria {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using projections::ProgressParams;
using projections::ProgressQuery;
using projections::Table;
using testing::LedgerFixture;
using testing::RowsWhere;

constexpr char kAdmin[] = "admin@dnp.gov.co";
constexpr char kSha[] = "5da49ff3748c00cdc3d6d9e8eda35d9147dd6342066f41a0af98b555680337de";
constexpr char kPlan[] = "PDM-2020-2023";
constexpr char kSetup[] = "2020-02-03T09:00:00-05:00";

ProgressParams ForEntity(const std::string& entity, const std::string& campaign = "",
                         const std::string& milestone = "") {
  ProgressParams p;
  p.entity = entity;
  p.campaign = campaign;
  p.milestone = milestone;
  return p;
}

Table Query(const projections::View& view, const ProgressParams& p) {
  auto t = ProgressQuery(view, p);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : Table{};
}

// The one row of `level` whose column `column` is `value`.
ordered_json Row(const Table& t, const std::string& level, const std::string& column,
                 const std::string& value) {
  std::vector<ordered_json> found;
  for (const auto& r : RowsWhere(t, column, value))
    if (r["level"] == level) found.push_back(r);
  EXPECT_EQ(found.size(), 1u) << level << " " << column << "=" << value << "\n"
                              << projections::Render(t, projections::Format::kTable);
  return found.empty() ? ordered_json::object() : found.front();
}
ordered_json GoalRow(const Table& t, const std::string& goal) { return Row(t, "goal", "goal", goal); }

double Num(const ordered_json& v) { return v.get<double>(); }

// A small simulated ledger for clean arithmetic: Cundinamarca (25) with Tenjo (25799) and Chía
// (25175), Antioquia (05) with Medellín (05001); a CPI catalogue; a leader per municipality
// (requested by the person, activated by the platform account); KPT-2020..KPT-2023 with cuts Q2
// (due 15 July) and Q4 (due 31 January of the next year). Every command must be accepted.
class Term {
 public:
  explicit Term(LedgerFixture& f) : f_(f) {
    Run("2020-01-02T08:00:00-05:00",
        {{"command", "init"}, {"clock", "simulated"}, {"admin", kAdmin}, {"partitions", 4}}, kAdmin);
    const std::string at = "2020-01-03T08:00:00-05:00";
    for (const auto& [code, name, kind, dept] :
         std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
             {"25", "CUNDINAMARCA", "departamento", "25"},
             {"25799", "TENJO", "municipio", "25"},
             {"25175", "CHÍA", "municipio", "25"},
             {"05", "ANTIOQUIA", "departamento", "05"},
             {"05001", "MEDELLÍN", "distrito", "05"}})
      Run(at,
          {{"command", "register_entity"},
           {"entity", code},
           {"name", name},
           {"kind", kind},
           {"department", dept}},
          kAdmin);
    json rows = json::array();
    for (const char* code : {"450102800", "430100700", "220105200", "220107900", "240211200"})
      rows.push_back({{"indicator", code},
                      {"name", std::string("Indicador ") + code},
                      {"unit", "Número"},
                      {"principal", true}});
    Run(at, {{"command", "load_catalog"}, {"version", "CPI-TEST"}, {"rows", rows}}, kAdmin);
    for (int y = 2020; y <= 2023; ++y) {
      const std::string ys = std::to_string(y), next = std::to_string(y + 1);
      json ms = json::array(
          {{{"id", "Q2"}, {"activity", "report"}, {"cut", ys + "-06-30"}, {"deadline", ys + "-07-15"}},
           {{"id", "Q4"}, {"activity", "report"}, {"cut", ys + "-12-31"}, {"deadline", next + "-01-31"}}});
      Run(at,
          {{"command", "open_campaign"},
           {"campaign", "KPT-" + ys},
           {"system", "kpt"},
           {"vigencia", y},
           {"milestones", ms}},
          kAdmin);
    }
    for (const char* entity : {"25799", "25175", "05001"}) {
      const std::string email = Leader(entity);
      const std::string request =
          Run(at,
              {{"command", "request_leader"},
               {"entity", entity},
               {"email", email},
               {"name", "Líder " + std::string(entity)},
               {"supports", json::array({{{"kind", "acta_de_posesion"}, {"sha256", kSha}}})}},
              email);
      Run(at, {{"command", "activate_leader"}, {"request_id", request}}, "system");
    }
    for (const char* entity : {"25799", "25175", "05001"}) {
      const std::string email = Leader(entity);
      Run(kSetup,
          {{"command", "upload_plan"},
           {"entity", entity},
           {"plan", kPlan},
           {"name", "Plan " + std::string(entity)},
           {"period", {2020, 2023}},
           {"document_sha256", kSha}},
          email);
    }
  }

  static std::string Leader(const std::string& entity) { return "lider@" + entity + ".gov.co"; }

  // Submits `cmd` at `at` as `actor`; returns its command_id.
  std::string Run(const std::string& at, json cmd, const std::string& actor) {
    const std::string id = "cmd-" + std::to_string(++n_);
    cmd["command_id"] = id;
    cmd["actor"] = actor;
    cmd["at"] = at;
    const events::Decision d = f_.Submit(cmd);
    EXPECT_EQ(d.outcome, events::Outcome::kAccepted) << cmd.dump() << " → " << d.reason << ": " << d.message;
    return id;
  }
  void Goal(const std::string& entity, const std::string& goal, const std::string& cpi, double target,
            const std::string& accumulation) {
    Run(kSetup,
        {{"command", "define_goal"},
         {"entity", entity},
         {"plan", kPlan},
         {"goal", goal},
         {"cpi_indicator", cpi},
         {"name", "Meta " + goal},
         {"unit", "Número"},
         {"baseline", 0},
         {"target", target},
         {"accumulation", accumulation}},
        Leader(entity));
  }
  void Program(const std::string& entity, const std::string& goal, int year, double physical,
               json resources = {{"SGP", 1000000}}) {
    Run(kSetup,
        {{"command", "program_goal"},
         {"entity", entity},
         {"plan", kPlan},
         {"goal", goal},
         {"year", year},
         {"physical", physical},
         {"resources", resources}},
        Leader(entity));
  }
  void Report(const std::string& at, const std::string& entity, const std::string& goal,
              const std::string& campaign, const std::string& milestone, double ytd,
              const json& financial = nullptr) {
    json cmd = {
        {"command", "report_progress"}, {"entity", entity},       {"plan", kPlan},      {"goal", goal},
        {"campaign", campaign},         {"milestone", milestone}, {"physical_ytd", ytd}};
    if (!financial.is_null()) cmd["financial"] = financial;
    Run(at, cmd, Leader(entity));
  }

 private:
  LedgerFixture& f_;
  int n_ = 0;
};

// ---- The 2023 cycle ----

// IP-155 at Q2 was reported as 12 and corrected to 14 (acta de recibo) against 15 programmed.
TEST(ProgressTest, TenjoAtQ2AfterTheCorrection) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const Table t = Query(*f.Live(), ForEntity("25799", "KPT-2023", "Q2"));

  const auto ip155 = GoalRow(t, "IP-155");
  EXPECT_EQ(ip155["plan"], "PDM-2020-2023");
  EXPECT_EQ(ip155["sector"], "45");
  EXPECT_EQ(ip155["accumulation"], "acumulativo");
  EXPECT_EQ(ip155["year"], 2023);
  EXPECT_EQ(ip155["cut"], "KPT-2023/Q2");
  EXPECT_EQ(Num(ip155["programmed"]), 15);
  EXPECT_EQ(Num(ip155["ytd"]), 14);
  EXPECT_DOUBLE_EQ(Num(ip155["physical_pct"]), 93.33);
  // (118M + 35M obligaciones) / (200M SGP + 150M Propios programmed for 2023).
  EXPECT_DOUBLE_EQ(Num(ip155["financial_pct"]), 43.71);
  EXPECT_EQ(ip155["over_100"], false);
  EXPECT_EQ(ip155["semaforo"], "Sobresaliente");
  EXPECT_DOUBLE_EQ(Num(ip155["four_year_pct"]), 23.33);  // 14 / 60

  const auto ip310 = GoalRow(t, "IP-310");  // no_acumulativo, 640 of 650
  EXPECT_DOUBLE_EQ(Num(ip310["physical_pct"]), 98.46);
  EXPECT_DOUBLE_EQ(Num(ip310["financial_pct"]), 40.63);  // 128M / (255M + 60M)
  EXPECT_DOUBLE_EQ(Num(ip310["four_year_pct"]), 24.62);  // 98.46 for 2023, 0 for 2020–2022
  const auto ip247 = GoalRow(t, "IP-247");               // homologated in April: sector 22
  EXPECT_EQ(ip247["sector"], "22");
  EXPECT_DOUBLE_EQ(Num(ip247["physical_pct"]), 50);
  EXPECT_EQ(ip247["semaforo"], "Bajo");
  EXPECT_DOUBLE_EQ(Num(ip247["four_year_pct"]), 16.67);  // 1 / 6

  // Rollups after the goals: one row per sector, then the plan (equal weights).
  EXPECT_DOUBLE_EQ(Num(Row(t, "sector", "sector", "45")["physical_pct"]), 93.33);
  EXPECT_EQ(RowsWhere(t, "level", "sector").size(), 3u);
  const auto plan = t.rows.back();
  EXPECT_EQ(plan["level"], "plan");
  EXPECT_EQ(plan["goals"], 3);
  EXPECT_EQ(plan["reported"], 3);
  EXPECT_NEAR(Num(plan["physical_pct"]), (14.0 / 15 + 640.0 / 650 + 0.5) * 100 / 3, 0.005);
  EXPECT_EQ(plan["semaforo"], "Sobresaliente");
}

TEST(ProgressTest, AsOfTheDayBeforeTheCorrectionShowsTwelve) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.AsOf(projections::AsOfKeysForEntity(f.store(), "25799", false), "2023-07-30");
  const auto ip155 = GoalRow(Query(*view, ForEntity("25799", "KPT-2023", "Q2")), "IP-155");
  EXPECT_EQ(Num(ip155["ytd"]), 12);
  EXPECT_DOUBLE_EQ(Num(ip155["physical_pct"]), 80);
  EXPECT_EQ(ip155["semaforo"], "Sobresaliente");
  // Without a cut, the latest report known then is that same Q2 one.
  EXPECT_EQ(GoalRow(Query(*view, ForEntity("25799")), "IP-155")["cut"], "KPT-2023/Q2");
}

TEST(ProgressTest, WithoutACutEachGoalShowsItsLatestReport) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const Table t = Query(*f.Live(), ForEntity("25799"));
  for (const char* goal : {"IP-155", "IP-310", "IP-247"}) EXPECT_EQ(GoalRow(t, goal)["cut"], "KPT-2023/Q4");
  EXPECT_DOUBLE_EQ(Num(GoalRow(t, "IP-155")["four_year_pct"]), 25);  // 15 / 60
  EXPECT_DOUBLE_EQ(Num(GoalRow(t, "IP-310")["four_year_pct"]), 25);  // (100 + 0 + 0 + 0) / 4
  EXPECT_EQ(Num(GoalRow(t, "IP-247")["ytd"]), 1);                    // corrected from 2 in February 2024
  EXPECT_DOUBLE_EQ(Num(t.rows.back()["physical_pct"]), 83.33);       // (100 + 100 + 50) / 3
}

// Progress rows are versions (Projection::temporal): a goal is its latest definition with the
// homologations recorded after it, a year its latest programming, a cut its latest report; an
// as-of view reads the versions recorded by then, with no index keys at all.
TEST(ProgressTest, AGoalIsItsLatestDefinitionHomologationAndProgrammingAsOfEachInstant) {
  LedgerFixture f;
  Term term(f);
  auto step = [&](const std::string& at, json cmd) { term.Run(at, std::move(cmd), Term::Leader("25799")); };
  json goal = {{"command", "define_goal"},
               {"entity", "25799"},
               {"plan", kPlan},
               {"goal", "IP-9"},
               {"cpi_indicator", "990102800"},
               {"name", "Meta IP-9"},
               {"unit", "Número"},
               {"baseline", 0},
               {"target", 40},
               {"accumulation", "acumulativo"}};
  step("2020-02-04T09:00:00-05:00", goal);  // outside the catalogue: sector 99
  json program = {{"command", "program_goal"},
                  {"entity", "25799"},
                  {"plan", kPlan},
                  {"goal", "IP-9"},
                  {"year", 2020},
                  {"physical", 10},
                  {"resources", {{"SGP", 1000000}}}};
  step("2020-02-05T09:00:00-05:00", program);
  step("2020-02-10T09:00:00-05:00", {{"command", "homologate_goal"},
                                     {"entity", "25799"},
                                     {"plan", kPlan},
                                     {"goal", "IP-9"},
                                     {"cpi_indicator", "450102800"}});
  term.Report("2020-07-10T09:00:00-05:00", "25799", "IP-9", "KPT-2020", "Q2", 4);
  term.Report("2020-07-12T09:00:00-05:00", "25799", "IP-9", "KPT-2020", "Q2", 5);  // a correction
  goal["cpi_indicator"] = "220105200";
  goal["target"] = 80;
  step("2020-08-01T09:00:00-05:00", goal);  // redefined: sector 22, target 80, programming kept
  program["physical"] = 20;
  step("2020-08-02T09:00:00-05:00", program);  // reprogrammed
  f.CatchUp();
  struct Expect {
    std::string at, sector;
    double target, programmed;
    std::optional<double> ytd;
  };
  for (const Expect& x : std::vector<Expect>{{"2020-02-06", "99", 40, 10, std::nullopt},
                                             {"2020-02-11", "45", 40, 10, std::nullopt},
                                             {"2020-07-11", "45", 40, 10, 4},
                                             {"2020-07-13", "45", 40, 10, 5},
                                             {"2020-08-01T12:00:00-05:00", "22", 80, 10, 5},
                                             {"2020-08-03", "22", 80, 20, 5}}) {
    for (const std::vector<std::string>& keys :
         {std::vector<std::string>{}, std::vector<std::string>{"25799", "*"}}) {
      auto view = f.AsOf(keys, x.at);
      const auto row = GoalRow(Query(*view, ForEntity("25799")), "IP-9");
      EXPECT_EQ(row["sector"], x.sector) << x.at;
      if (x.ytd) {
        EXPECT_EQ(Num(row["programmed"]), x.programmed) << x.at;
        EXPECT_EQ(Num(row["ytd"]), *x.ytd) << x.at;
        EXPECT_DOUBLE_EQ(Num(row["four_year_pct"]), std::round(*x.ytd / x.target * 10000) / 100) << x.at;
      } else {
        EXPECT_TRUE(row["ytd"].is_null()) << x.at;
      }
    }
  }
  const auto live = GoalRow(Query(*f.Live(), ForEntity("25799")), "IP-9");
  EXPECT_EQ(live["sector"], "22");
  EXPECT_EQ(Num(live["programmed"]), 20);
  EXPECT_EQ(Num(live["ytd"]), 5);
}

// Chía did not report Q2: its goal is listed with no values and left out of the averages.
TEST(ProgressTest, AGoalNotReportedAtTheCutHasNoValues) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const Table t = Query(*f.Live(), ForEntity("25175", "KPT-2023", "Q2"));
  const auto ip088 = GoalRow(t, "IP-088");
  EXPECT_EQ(ip088["cut"], "KPT-2023/Q2");
  EXPECT_EQ(Num(ip088["programmed"]), 9800);
  EXPECT_TRUE(ip088["ytd"].is_null());
  EXPECT_TRUE(ip088["physical_pct"].is_null());
  EXPECT_TRUE(ip088["semaforo"].is_null());
  EXPECT_EQ(t.rows.back()["goals"], 1);
  EXPECT_EQ(t.rows.back()["reported"], 0);
  EXPECT_TRUE(t.rows.back()["physical_pct"].is_null());
}

// ---- Four-year % (dedicated ledgers) ----

// Acumulativo, target 100, 25 a year: each year's last YTD adds up (20 + 15 + 30 + 5) / 100.
TEST(ProgressTest, FourYearAcumulativoSumsEachYearsLastValue) {
  LedgerFixture f;
  Term term(f);
  term.Goal("25799", "A-1", "450102800", 100, "acumulativo");
  for (int y = 2020; y <= 2023; ++y) term.Program("25799", "A-1", y, 25);
  term.Report("2020-07-10T09:00:00-05:00", "25799", "A-1", "KPT-2020", "Q2", 10);
  term.Report("2021-01-20T09:00:00-05:00", "25799", "A-1", "KPT-2020", "Q4", 20);
  term.Report("2021-07-10T09:00:00-05:00", "25799", "A-1", "KPT-2021", "Q2", 15);  // 2021 has no Q4
  term.Report("2023-01-20T09:00:00-05:00", "25799", "A-1", "KPT-2022", "Q4", 30);  // above the 25 programmed
  term.Report("2023-07-10T09:00:00-05:00", "25799", "A-1", "KPT-2023", "Q2", 5);
  auto view = f.Live();

  const auto latest = GoalRow(Query(*view, ForEntity("25799")), "A-1");
  EXPECT_EQ(latest["cut"], "KPT-2023/Q2");
  EXPECT_DOUBLE_EQ(Num(latest["physical_pct"]), 20);
  EXPECT_EQ(latest["semaforo"], "Crítico");
  EXPECT_DOUBLE_EQ(Num(latest["four_year_pct"]), 70);
  // At a past cut, only what had been reported up to that cut counts.
  EXPECT_DOUBLE_EQ(Num(GoalRow(Query(*view, ForEntity("25799", "KPT-2022", "Q4")), "A-1")["four_year_pct"]),
                   65);
  EXPECT_DOUBLE_EQ(Num(GoalRow(Query(*view, ForEntity("25799", "KPT-2021", "Q2")), "A-1")["four_year_pct"]),
                   35);
  EXPECT_DOUBLE_EQ(Num(GoalRow(Query(*view, ForEntity("25799", "KPT-2020", "Q2")), "A-1")["four_year_pct"]),
                   10);
}

// Reports are ordered by their cut, not by when they were recorded: a Q2 reported late, after Q4,
// is neither the goal's latest report nor its year's last, and its correction replaces only it.
TEST(ProgressTest, ReportsRecordedOutOfCutOrderAreOrderedByCut) {
  LedgerFixture f;
  Term term(f);
  term.Goal("25799", "B-1", "450102800", 100, "acumulativo");
  for (int y = 2020; y <= 2023; ++y) term.Program("25799", "B-1", y, 25);
  term.Report("2022-01-10T09:00:00-05:00", "25799", "B-1", "KPT-2021", "Q4", 30);
  term.Report("2022-01-20T09:00:00-05:00", "25799", "B-1", "KPT-2021", "Q2", 10);  // late
  term.Report("2022-01-25T09:00:00-05:00", "25799", "B-1", "KPT-2021", "Q2", 12);  // its correction
  auto view = f.Live();

  const auto latest = GoalRow(Query(*view, ForEntity("25799")), "B-1");
  EXPECT_EQ(latest["cut"], "KPT-2021/Q4");
  EXPECT_DOUBLE_EQ(Num(latest["ytd"]), 30);
  EXPECT_DOUBLE_EQ(Num(latest["four_year_pct"]), 30);
  const auto q2 = GoalRow(Query(*view, ForEntity("25799", "KPT-2021", "Q2")), "B-1");
  EXPECT_EQ(q2["cut"], "KPT-2021/Q2");
  EXPECT_DOUBLE_EQ(Num(q2["ytd"]), 12);
  EXPECT_DOUBLE_EQ(Num(q2["physical_pct"]), 48);
  EXPECT_DOUBLE_EQ(Num(q2["four_year_pct"]), 12);  // Q4 is after the cut asked for
  const auto q4 = GoalRow(Query(*view, ForEntity("25799", "KPT-2021", "Q4")), "B-1");
  EXPECT_DOUBLE_EQ(Num(q4["ytd"]), 30);
  EXPECT_DOUBLE_EQ(Num(q4["four_year_pct"]), 30);
  // As of the day before the correction, Q2 is the late report's 10.
  auto before = f.AsOf({}, "2022-01-24T00:00:00-05:00");
  EXPECT_DOUBLE_EQ(Num(GoalRow(Query(*before, ForEntity("25799", "KPT-2021", "Q2")), "B-1")["ytd"]), 10);
  EXPECT_EQ(GoalRow(Query(*before, ForEntity("25799")), "B-1")["cut"], "KPT-2021/Q4");
}

// No_acumulativo, level 200 (programmed 100, 150, 200, 200): yearly % capped at 100, a year with
// no report counts 0: (80 + 100 + 0 + 75) / 4.
TEST(ProgressTest, FourYearNoAcumulativoAveragesCappedYearlyPercents) {
  LedgerFixture f;
  Term term(f);
  term.Goal("25799", "B-1", "430100700", 200, "no_acumulativo");
  const double programmed[] = {100, 150, 200, 200};
  for (int y = 2020; y <= 2023; ++y) term.Program("25799", "B-1", y, programmed[y - 2020]);
  term.Report("2021-01-20T09:00:00-05:00", "25799", "B-1", "KPT-2020", "Q4", 80);
  term.Report("2021-07-10T09:00:00-05:00", "25799", "B-1", "KPT-2021", "Q2", 100);
  term.Report("2022-01-20T09:00:00-05:00", "25799", "B-1", "KPT-2021", "Q4", 180);  // 120% of 150
  term.Report("2023-07-10T09:00:00-05:00", "25799", "B-1", "KPT-2023", "Q2", 150);
  auto view = f.Live();

  const auto latest = GoalRow(Query(*view, ForEntity("25799")), "B-1");
  EXPECT_DOUBLE_EQ(Num(latest["physical_pct"]), 75);
  EXPECT_EQ(latest["semaforo"], "Satisfactorio");
  EXPECT_DOUBLE_EQ(Num(latest["four_year_pct"]), 63.75);
  const auto q4_2021 = GoalRow(Query(*view, ForEntity("25799", "KPT-2021", "Q4")), "B-1");
  EXPECT_DOUBLE_EQ(Num(q4_2021["physical_pct"]), 120);  // kept above 100, flagged
  EXPECT_EQ(q4_2021["over_100"], true);
  EXPECT_DOUBLE_EQ(Num(q4_2021["four_year_pct"]), 45);  // (80 + 100 + 0 + 0) / 4
  EXPECT_DOUBLE_EQ(Num(GoalRow(Query(*view, ForEntity("25799", "KPT-2020", "Q4")), "B-1")["four_year_pct"]),
                   20);
}

// ---- Financial %, over 100, semáforo ----

TEST(ProgressTest, FinancialPercentAndValuesAbove100) {
  LedgerFixture f;
  Term term(f);
  for (const char* g : {"F-1", "F-2", "F-3"}) term.Goal("25799", g, "240211200", 40, "acumulativo");
  term.Program("25799", "F-1", 2023, 10, {{"SGP", 1000000}, {"Propios", 3000000}});
  term.Program("25799", "F-2", 2023, 10, {{"SGP", 1000000}});
  term.Program("25799", "F-3", 2023, 10, {{"SGP", 1000000}});
  const std::string at = "2023-07-10T09:00:00-05:00";
  term.Report(at, "25799", "F-1", "KPT-2023", "Q2", 12,
              {{"SGP", {{"compromisos", 900000}, {"obligaciones", 500000}, {"pagos", 400000}}},
               {"Propios", {{"compromisos", 2000000}, {"obligaciones", 1500000}, {"pagos", 1000000}}}});
  term.Report(at, "25799", "F-2", "KPT-2023", "Q2", 5,
              {{"SGP", {{"compromisos", 1500000}, {"obligaciones", 1500000}, {"pagos", 1000000}}}});
  term.Report(at, "25799", "F-3", "KPT-2023", "Q2", 5);  // no financial execution reported
  const Table t = Query(*f.Live(), ForEntity("25799", "KPT-2023", "Q2"));

  const auto f1 = GoalRow(t, "F-1");
  EXPECT_DOUBLE_EQ(Num(f1["physical_pct"]), 120);
  EXPECT_DOUBLE_EQ(Num(f1["financial_pct"]), 50);  // 2M obligaciones / 4M programmed
  EXPECT_EQ(f1["over_100"], true);
  const auto f2 = GoalRow(t, "F-2");
  EXPECT_DOUBLE_EQ(Num(f2["physical_pct"]), 50);
  EXPECT_DOUBLE_EQ(Num(f2["financial_pct"]), 150);
  EXPECT_EQ(f2["over_100"], true);
  const auto f3 = GoalRow(t, "F-3");
  EXPECT_TRUE(f3["financial_pct"].is_null());
  EXPECT_EQ(f3["over_100"], false);
  // The plan averages capped values: physical (100 + 50 + 50) / 3, financial (50 + 100) / 2.
  const auto plan = t.rows.back();
  EXPECT_NEAR(Num(plan["physical_pct"]), 66.67, 1e-9);
  EXPECT_DOUBLE_EQ(Num(plan["financial_pct"]), 75);
}

TEST(ProgressTest, SemaforoBandBoundaries) {
  LedgerFixture f;
  Term term(f);
  const std::vector<std::pair<std::string, double>> goals = {
      {"S-1", 3999}, {"S-2", 4000}, {"S-3", 6000}, {"S-4", 7999}, {"S-5", 8000}};
  for (const auto& [g, ytd] : goals) {
    term.Goal("25799", g, "220105200", 10000, "acumulativo");
    term.Program("25799", g, 2023, 10000);
  }
  for (const auto& [g, ytd] : goals)
    term.Report("2023-07-10T09:00:00-05:00", "25799", g, "KPT-2023", "Q2", ytd);
  auto view = f.Live();

  const Table t = Query(*view, ForEntity("25799", "KPT-2023", "Q2"));
  const std::vector<std::pair<double, std::string>> expected = {
      {39.99, "Crítico"}, {40, "Bajo"}, {60, "Medio"}, {79.99, "Satisfactorio"}, {80, "Sobresaliente"}};
  for (size_t i = 0; i < goals.size(); ++i) {
    const auto row = GoalRow(t, goals[i].first);
    EXPECT_DOUBLE_EQ(Num(row["physical_pct"]), expected[i].first) << goals[i].first;
    EXPECT_EQ(row["semaforo"], expected[i].second) << goals[i].first;
  }
  // 59.996 is shown as 60.00, and the semáforo reads the shown value.
  EXPECT_DOUBLE_EQ(Num(t.rows.back()["physical_pct"]), 60);
  EXPECT_EQ(t.rows.back()["semaforo"], "Medio");

  ProgressParams custom = ForEntity("25799", "KPT-2023", "Q2");
  custom.bands = {.bajo = 30, .medio = 39.99, .satisfactorio = 60, .sobresaliente = 79.99};
  const Table c = Query(*view, custom);
  const std::vector<std::string> shifted = {"Medio", "Medio", "Satisfactorio", "Sobresaliente",
                                            "Sobresaliente"};
  for (size_t i = 0; i < goals.size(); ++i) EXPECT_EQ(GoalRow(c, goals[i].first)["semaforo"], shifted[i]);
  EXPECT_EQ(c.rows.back()["semaforo"], "Satisfactorio");
}

// ---- Department and national rollups ----

// Every goal weighs the same (not every entity): Cundinamarca = (50 + 100 + 30) / 3, Chía's
// second goal being unreported; the nation adds Medellín's 90.
TEST(ProgressTest, DepartmentAndNationalRollups) {
  LedgerFixture f;
  Term term(f);
  const std::vector<std::tuple<std::string, std::string, double>> goals = {{"25799", "G-1", 50},
                                                                           {"25799", "G-2", 120},
                                                                           {"25175", "G-1", 30},
                                                                           {"25175", "G-2", -1},
                                                                           {"05001", "G-1", 90}};
  for (const auto& [entity, goal, ytd] : goals) {
    term.Goal(entity, goal, "220107900", 100, "acumulativo");
    term.Program(entity, goal, 2023, 100);
  }
  for (const auto& [entity, goal, ytd] : goals)
    if (ytd >= 0) term.Report("2023-07-10T09:00:00-05:00", entity, goal, "KPT-2023", "Q2", ytd);
  auto view = f.Live();

  ProgressParams dept;
  dept.department = "25";
  dept.campaign = "KPT-2023";
  dept.milestone = "Q2";
  const Table d = Query(*view, dept);
  ASSERT_EQ(d.rows.size(), 4u) << projections::Render(d, projections::Format::kTable);
  const auto gob = Row(d, "entity", "entity", "25");
  EXPECT_EQ(gob["goals"], 0);
  EXPECT_TRUE(gob["physical_pct"].is_null());
  const auto chia = Row(d, "entity", "entity", "25175");
  EXPECT_EQ(chia["goals"], 2);
  EXPECT_EQ(chia["reported"], 1);
  EXPECT_DOUBLE_EQ(Num(chia["physical_pct"]), 30);
  EXPECT_DOUBLE_EQ(Num(chia["four_year_pct"]), 15);  // (30 + 0) / 2: no report is 0 of the term
  const auto tenjo = Row(d, "entity", "entity", "25799");
  EXPECT_EQ(tenjo["plans"], kPlan);
  EXPECT_DOUBLE_EQ(Num(tenjo["physical_pct"]), 75);  // (50 + capped 100) / 2
  const auto total = d.rows.back();
  EXPECT_EQ(total["level"], "department");
  EXPECT_EQ(total["name"], "CUNDINAMARCA");
  EXPECT_EQ(total["entities"], 3);
  EXPECT_EQ(total["goals"], 4);
  EXPECT_EQ(total["reported"], 3);
  EXPECT_DOUBLE_EQ(Num(total["physical_pct"]), 60);
  EXPECT_EQ(total["semaforo"], "Medio");
  EXPECT_DOUBLE_EQ(Num(total["four_year_pct"]), 45);  // (50 + 100 + 30 + 0) / 4

  ProgressParams nation = dept;
  nation.department.clear();
  nation.national = true;
  const Table n = Query(*view, nation);
  ASSERT_EQ(n.rows.size(), 3u) << projections::Render(n, projections::Format::kTable);
  const auto antioquia = Row(n, "department", "department", "05");
  EXPECT_EQ(antioquia["name"], "ANTIOQUIA");
  EXPECT_EQ(antioquia["entities"], 2);
  EXPECT_DOUBLE_EQ(Num(antioquia["physical_pct"]), 90);
  EXPECT_DOUBLE_EQ(Num(Row(n, "department", "department", "25")["physical_pct"]), 60);
  const auto all = n.rows.back();
  EXPECT_EQ(all["level"], "nation");
  EXPECT_EQ(all["entities"], 5);
  EXPECT_EQ(all["goals"], 5);
  EXPECT_EQ(all["reported"], 4);
  EXPECT_DOUBLE_EQ(Num(all["physical_pct"]), 67.5);
  EXPECT_EQ(all["semaforo"], "Medio");
  EXPECT_DOUBLE_EQ(Num(all["four_year_pct"]), 54);  // (50 + 100 + 30 + 0 + 90) / 5
}

// ---- Parameters, rebuild, stream order ----

TEST(ProgressTest, RefusesAQueryWithoutAScopeOrWithABadCut) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto view = f.Live();
  auto none = ProgressQuery(*view, ProgressParams{});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("--entity"), std::string::npos);
  EXPECT_EQ(ProgressQuery(*view, ForEntity("25799", "KPT-2023")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ProgressQuery(*view, ForEntity("25799", "KPT-2099", "Q2")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ProgressQuery(*view, ForEntity("25799", "KPT-2023", "Q9")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ProgressQuery(*view, ForEntity("25799", "GESTIONWEB-2022", "reporte")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ProgressTest, RebuildGivesTheSameDigest) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto before = f.store().Digests();
  ASSERT_TRUE(f.store().Reset("").ok());
  f.CatchUp();
  EXPECT_EQ(f.store().Digests(), before);
  EXPECT_TRUE(std::any_of(before.begin(), before.end(), [](const auto& d) { return d.first == "progress"; }));
  EXPECT_DOUBLE_EQ(
      Num(GoalRow(Query(*f.Live(), ForEntity("25799", "KPT-2023", "Q2")), "IP-155")["physical_pct"]), 93.33);
}

// Directory events (entities, campaigns) may reach a projector before or after an entity's own
// events: the rows must be the same either way.
TEST(ProgressTest, RowsDoNotDependOnHowStreamsInterleave) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  std::vector<events::LogEntry> log;
  ASSERT_TRUE(f.ledger()
                  .ScanLog(0,
                           [&](const events::LogEntry& e) {
                             log.push_back(e);
                             return true;
                           })
                  .ok());
  const projections::Projection* progress = projections::FindProjection("progress");
  ASSERT_NE(progress, nullptr);
  auto fold = [&](bool directory_last) {
    std::vector<const events::LogEntry*> order;
    for (const auto& e : log) order.push_back(&e);
    std::stable_partition(order.begin(), order.end(), [&](const events::LogEntry* e) {
      return (e->position.topic == events::kDirectoryTopic) != directory_last;
    });
    events::MemoryState rows;
    for (const events::LogEntry* e : order) {
      const schema::Event* ev = schema::GetEvent(e->bytes.data());
      progress->Apply(projections::EventRef{ev, ev->envelope(), e->bytes, e->hash, e->position}, rows);
    }
    return rows.entries();
  };
  const auto first = fold(false), last = fold(true);
  EXPECT_GT(first.size(), 10u);
  EXPECT_TRUE(first == last);
}

}  // namespace
}  // namespace veeduria
