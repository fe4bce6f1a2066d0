#include <gtest/gtest.h>

#include "fixture.h"

namespace veeduria {
namespace {

using testing::LedgerFixture;
using testing::RowsWhere;

std::string Shown(const projections::Table& t) { return projections::Render(t, projections::Format::kTable); }

bool Contains(const nlohmann::ordered_json& v, const std::string& part) {
  return v.is_string() && v.get<std::string>().find(part) != std::string::npos;
}

projections::Table Users(LedgerFixture& f, const std::string& entity) {
  auto view = f.Live();
  auto t = projections::UsersQuery(*view, {.entity = entity});
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : projections::Table{};
}

// The digests of this projection before and after a rebuild from the log.
std::string UsersDigest(LedgerFixture& f) {
  for (const auto& [name, digest] : f.store().Digests())
    if (name == "users") return digest;
  ADD_FAILURE() << "no users digest";
  return "";
}

// Chía changed its leader in May 2023: Laura Gómez was replaced by Mateo Rodríguez, activated
// by the platform on 16 May at 08:00 Bogotá (13:00Z).
TEST(UsersTest, ChiaShowsTheLeaderChange) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const projections::Table t = Users(f, "25175");

  const auto current = RowsWhere(t, "kind", "leader (current)");
  ASSERT_EQ(current.size(), 1u) << Shown(t);
  EXPECT_EQ(current[0]["user"], "mrodriguez@chia-cundinamarca.gov.co");
  EXPECT_EQ(current[0]["name"], "Mateo Rodríguez");
  EXPECT_EQ(current[0]["since"], "2023-05-16T13:00:00Z");
  EXPECT_TRUE(current[0]["until"].is_null());
  EXPECT_EQ(current[0]["by"], "system (platform)");
  EXPECT_EQ(current[0]["status"], "active");
  EXPECT_TRUE(Contains(current[0]["detail"], "request lr-25175-mrodriguez of 2023-05-15T15:00:00Z"))
      << Shown(t);

  const auto past = RowsWhere(t, "kind", "leader");
  ASSERT_EQ(past.size(), 1u) << Shown(t);
  EXPECT_EQ(past[0]["user"], "lgomez@chia-cundinamarca.gov.co");
  EXPECT_EQ(past[0]["since"], "2023-01-17T16:30:00Z");
  EXPECT_EQ(past[0]["until"], "2023-05-16T13:00:00Z");
  EXPECT_EQ(past[0]["replaced_by"], "mrodriguez@chia-cundinamarca.gov.co");
  EXPECT_EQ(past[0]["status"], "replaced");
  // The supports are on the record by their SHA-256 only.
  EXPECT_TRUE(
      Contains(past[0]["detail"],
               "acta_de_posesion sha256 412ee20c774b3d2892c3e58bdec9ef70c64cf0e046b4664f695a937f062dab1e"))
      << Shown(t);

  EXPECT_EQ(t.rows.front()["kind"], "leader (current)");
  EXPECT_EQ(t.notes.front(),
            "leader since 2023-05-16T13:00:00Z: mrodriguez@chia-cundinamarca.gov.co (Mateo Rodríguez)");
  // DNP's refused attempt to activate him by hand changed nothing here.
  EXPECT_TRUE(RowsWhere(t, "kind", "leader request").empty()) << Shown(t);
}

TEST(UsersTest, TheDepartmentsReviewerAppearsOnTheDepartment) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const projections::Table t = Users(f, "25");
  const auto reviewer = RowsWhere(t, "user", "dsuarez@cundinamarca.gov.co");
  ASSERT_EQ(reviewer.size(), 1u) << Shown(t);
  EXPECT_EQ(reviewer[0]["kind"], "role");
  EXPECT_EQ(reviewer[0]["role"], "department_reviewer");
  EXPECT_EQ(reviewer[0]["scope"], "25");
  EXPECT_EQ(reviewer[0]["since"], "2023-01-20T14:00:00Z");
  EXPECT_EQ(reviewer[0]["by"], "lmartinez@cundinamarca.gov.co (leader)");
  EXPECT_EQ(reviewer[0]["status"], "held");
  EXPECT_EQ(RowsWhere(t, "kind", "leader (current)").at(0)["user"], "lmartinez@cundinamarca.gov.co");
  // Antioquia's reviewer is not Cundinamarca's.
  EXPECT_TRUE(RowsWhere(t, "user", "pvelez@antioquia.gov.co").empty()) << Shown(t);
}

// Circular item 8: DNP's attempt to reset Jorge Castro's password was refused; his own reset
// (requested 08:30, completed 08:40 Bogotá on 20 April) is on Tenjo's users.
TEST(UsersTest, TenjosLeaderPasswordResetAppears) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  const projections::Table t = Users(f, "25799");
  const auto resets = RowsWhere(t, "kind", "password reset");
  ASSERT_EQ(resets.size(), 1u) << Shown(t);
  EXPECT_EQ(resets[0]["user"], "jcastro@tenjo-cundinamarca.gov.co");
  EXPECT_EQ(resets[0]["name"], "Jorge Castro");
  EXPECT_EQ(resets[0]["since"], "2023-04-20T13:30:00Z");
  EXPECT_EQ(resets[0]["until"], "2023-04-20T13:40:00Z");
  EXPECT_EQ(resets[0]["by"], "jcastro@tenjo-cundinamarca.gov.co");
  EXPECT_EQ(resets[0]["status"], "completed");
  EXPECT_EQ(resets[0]["detail"], "request jcastro-reset");
  const auto reporter = RowsWhere(t, "user", "mhernandez@tenjo-cundinamarca.gov.co");
  ASSERT_EQ(reporter.size(), 1u) << Shown(t);
  EXPECT_EQ(reporter[0]["role"], "reporter");
  EXPECT_EQ(reporter[0]["by"], "jcastro@tenjo-cundinamarca.gov.co (leader)");
}

TEST(UsersTest, AsOfBeforeTheLeaderChangeShowsTheOldLeader) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  // After Mateo's request (15 May 10:00) and before its activation (16 May 08:00).
  auto view = f.AsOf(projections::AsOfKeysForEntity(f.store(), "25175", true), "2023-05-15T12:00:00-05:00");
  auto t = projections::UsersQuery(*view, {.entity = "25175"});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const auto current = RowsWhere(*t, "kind", "leader (current)");
  ASSERT_EQ(current.size(), 1u) << Shown(*t);
  EXPECT_EQ(current[0]["user"], "lgomez@chia-cundinamarca.gov.co");
  EXPECT_TRUE(current[0]["until"].is_null());
  EXPECT_EQ(current[0]["status"], "active");
  EXPECT_TRUE(RowsWhere(*t, "kind", "leader").empty()) << Shown(*t);
  const auto pending = RowsWhere(*t, "kind", "leader request");
  ASSERT_EQ(pending.size(), 1u) << Shown(*t);
  EXPECT_EQ(pending[0]["user"], "mrodriguez@chia-cundinamarca.gov.co");
  EXPECT_EQ(pending[0]["status"], "pending");
  EXPECT_EQ(pending[0]["since"], "2023-05-15T15:00:00Z");
  EXPECT_EQ(t->notes.back(), "as of 2023-05-15T17:00:00Z");
}

TEST(UsersTest, UnknownEntitiesAreInvalidArguments) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  auto live = f.Live();
  auto t = projections::UsersQuery(*live, {.entity = "25899"});
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(projections::UsersQuery(*live, {}).status().code(), StatusCode::kInvalidArgument);
  // Chía was registered on 3 January 2023: the day before, the ledger did not know it.
  auto before = f.AsOf(projections::AsOfKeysForEntity(f.store(), "25175", true), "2023-01-02");
  EXPECT_EQ(projections::UsersQuery(*before, {.entity = "25175"}).status().code(),
            StatusCode::kInvalidArgument);
}

// rules_users.scn: Tenjo's leader revokes a reporter on 20 January and grants the role again
// on 1 February; both periods are shown, the first with its revocation.
TEST(UsersTest, ARevokedRoleShowsItsRevocation) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/rules_users.scn");
  const projections::Table t = Users(f, "25799");
  const auto periods = RowsWhere(t, "user", "reportes.sispt@tenjo-cundinamarca.gov.co");
  ASSERT_EQ(periods.size(), 2u) << Shown(t);
  EXPECT_EQ(periods[0]["since"], "2023-01-16T14:00:00Z");
  EXPECT_EQ(periods[0]["until"], "2023-01-20T14:00:00Z");
  EXPECT_EQ(periods[0]["status"], "revoked");
  EXPECT_EQ(periods[0]["by"], "planeacion@tenjo-cundinamarca.gov.co (leader)");
  EXPECT_TRUE(Contains(periods[0]["detail"], "revoked by planeacion@tenjo-cundinamarca.gov.co (leader)"))
      << Shown(t);
  EXPECT_EQ(periods[1]["since"], "2023-02-01T13:00:00Z");
  EXPECT_TRUE(periods[1]["until"].is_null());
  EXPECT_EQ(periods[1]["status"], "held");

  // The role rows, through the store.
  const auto& rows = f.store().rows("users");
  const auto g = rows.Record("g/reportes.sispt@tenjo-cundinamarca.gov.co/25799/reporter");
  ASSERT_FALSE(g.is_null());
  EXPECT_TRUE(g["held"].get<bool>());
  ASSERT_EQ(g["periods"].size(), 2u);
  EXPECT_EQ(g["periods"][0]["ended"], "revoked");
  EXPECT_TRUE(rows.Get("x/25799/reportes.sispt@tenjo-cundinamarca.gov.co/reporter").has_value());
}

// A new leader deactivates the previous one, whose roles all end with the account (the Chía
// reporter role of Tenjo's replaced leader), and who does not get them back as leader again.
TEST(UsersTest, DeactivationEndsEveryRoleAndLeadersComeAndGo) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/rules_users.scn");
  const projections::Table chia = Users(f, "25175");
  const auto lent = RowsWhere(chia, "kind", "role");
  ASSERT_EQ(lent.size(), 1u) << Shown(chia);
  EXPECT_EQ(lent[0]["user"], "planeacion@tenjo-cundinamarca.gov.co");
  EXPECT_EQ(lent[0]["role"], "reporter");
  EXPECT_EQ(lent[0]["status"], "account deactivated");
  EXPECT_EQ(lent[0]["until"], "2023-02-01T14:30:00Z");
  EXPECT_TRUE(Contains(lent[0]["detail"], "ended by system (platform)")) << Shown(chia);

  const projections::Table tenjo = Users(f, "25799");
  const auto current = RowsWhere(tenjo, "kind", "leader (current)");
  ASSERT_EQ(current.size(), 1u) << Shown(tenjo);
  EXPECT_EQ(current[0]["user"], "planeacion@tenjo-cundinamarca.gov.co");
  EXPECT_EQ(current[0]["since"], "2023-03-01T14:30:00Z");
  EXPECT_EQ(current[0]["status"], "active");
  const auto past = RowsWhere(tenjo, "kind", "leader");
  ASSERT_EQ(past.size(), 2u) << Shown(tenjo);
  EXPECT_EQ(past[0]["user"], "planeacion@tenjo-cundinamarca.gov.co");
  EXPECT_EQ(past[0]["replaced_by"], "jefe.planeacion@tenjo-cundinamarca.gov.co");
  EXPECT_EQ(past[1]["user"], "jefe.planeacion@tenjo-cundinamarca.gov.co");
  EXPECT_EQ(past[1]["replaced_by"], "planeacion@tenjo-cundinamarca.gov.co");
  EXPECT_EQ(past[1]["until"], "2023-03-01T14:30:00Z");

  const auto u = f.store().rows("users").Record("u/planeacion@tenjo-cundinamarca.gov.co");
  EXPECT_TRUE(u["active"].get<bool>());
  EXPECT_EQ(u["deactivations"].size(), 1u);
  EXPECT_EQ(u["held"], nlohmann::json::array());  // the Chía role did not come back
  EXPECT_FALSE(
      f.store().rows("users").Record("u/jefe.planeacion@tenjo-cundinamarca.gov.co")["active"].get<bool>());
}

// Replaced as Sopó's leader, the consultant is still Cajicá's last activated leader, but the
// account is deactivated: Cajicá has no active leader.
TEST(UsersTest, ALeaderDeactivatedElsewhereIsShownInactive) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/rules_users.scn");
  const projections::Table cajica = Users(f, "25126");
  const auto current = RowsWhere(cajica, "kind", "leader (current)");
  ASSERT_EQ(current.size(), 1u) << Shown(cajica);
  EXPECT_EQ(current[0]["user"], "consultoria.planeacion@sabanacentro.org.co");
  EXPECT_TRUE(Contains(current[0]["status"],
                       "account deactivated 2023-03-10T14:10:00Z (replaced as leader of 25758 by "
                       "planeacion@sopo-cundinamarca.gov.co)"))
      << Shown(cajica);
  EXPECT_NE(
      std::find_if(cajica.notes.begin(), cajica.notes.end(),
                   [](const std::string& n) { return n.find("no active leader") != std::string::npos; }),
      cajica.notes.end())
      << Shown(cajica);

  const projections::Table sopo = Users(f, "25758");
  const auto past = RowsWhere(sopo, "kind", "leader");
  ASSERT_EQ(past.size(), 1u) << Shown(sopo);
  EXPECT_EQ(past[0]["user"], "consultoria.planeacion@sabanacentro.org.co");
  EXPECT_EQ(past[0]["replaced_by"], "planeacion@sopo-cundinamarca.gov.co");
  EXPECT_EQ(RowsWhere(sopo, "kind", "leader (current)").at(0)["user"], "planeacion@sopo-cundinamarca.gov.co");

  // As of that time on Cajicá's keys (which include the consultant's account), the same.
  auto view = f.AsOf(projections::AsOfKeysForEntity(f.store(), "25126", true), "2023-03-10T10:00:00-05:00");
  auto t = projections::UsersQuery(*view, {.entity = "25126"});
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(Contains(RowsWhere(*t, "kind", "leader (current)").at(0)["status"], "account deactivated"))
      << Shown(*t);
}

TEST(UsersTest, RowsThroughTheStore) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  const auto& rows = f.store().rows("users");
  // The bootstrap administrator's dnp role comes with LedgerInitialized.
  const auto admin = rows.Record("u/admin@dnp.gov.co");
  ASSERT_FALSE(admin.is_null());
  EXPECT_EQ(admin["held"], nlohmann::json::parse(R"([["dnp","national"]])"));
  EXPECT_TRUE(rows.Get("x/national/admin@dnp.gov.co/dnp").has_value());

  const auto chia = rows.Record("e/25175");
  EXPECT_EQ(chia["name"], "CHÍA");
  EXPECT_EQ(chia["department"], "25");
  EXPECT_EQ(chia["leader"], "mrodriguez@chia-cundinamarca.gov.co");
  const auto h = rows.Record(chia["leader_key"].get<std::string>());
  EXPECT_EQ(h["request_id"], "lr-25175-mrodriguez");
  EXPECT_EQ(h["activated_by"]["user"], "system");
  EXPECT_EQ(h["supports"].size(), 2u);

  const auto lgomez = rows.Record("u/lgomez@chia-cundinamarca.gov.co");
  EXPECT_FALSE(lgomez["active"].get<bool>());
  EXPECT_EQ(lgomez["deactivations"][0]["replaced_by"], "mrodriguez@chia-cundinamarca.gov.co");
  EXPECT_EQ(lgomez["leading"], nlohmann::json::object());
}

// Incremental application (one event per batch) and a rebuild from the log give the same rows.
TEST(UsersTest, ARebuildGivesTheSameDigests) {
  LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp(1);
  const std::string incremental = UsersDigest(f);
  const auto all = f.store().Digests();
  ASSERT_TRUE(f.store().Reset("").ok());
  f.CatchUp();
  EXPECT_EQ(UsersDigest(f), incremental);
  EXPECT_EQ(f.store().Digests(), all);
}

}  // namespace
}  // namespace veeduria
