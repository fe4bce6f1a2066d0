// The MDM recompute (issue 5): the methodology module, DNP's Antioquia 2020 table imported and
// recomputed, --as-of across a correction, explain, publish and the digests.

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "fixture.h"
#include "veeduria/events/mdm.h"
#include "veeduria/producers/mdm_import.h"
#include "veeduria/projections/mdm.h"

namespace veeduria {
namespace {

using nlohmann::json;
using testing::LedgerFixture;
namespace mdm = events::mdm;

const char kTable[] = "/../shared/data/mdm/mdm_2020_antioquia.csv";

std::string ReadTable() {
  std::ifstream in(std::string(VEEDURIA_SOURCE_DIR) + kTable);
  EXPECT_TRUE(in) << kTable;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

mdm::Inputs Medellin() {
  return {"05001",
          2020,
          "mdm-2020",
          "C",
          {{"movilizacion_recursos", 85.41741943359375},
           {"ejecucion_recursos", 89.488571166992188},
           {"gobierno_abierto_transparencia", 83.333335876464844},
           {"ordenamiento_territorial", 63.816219329833984},
           {"educacion", 62.642421722412109},
           {"salud", 95.152595520019531},
           {"servicios_publicos", 63.027172088623047},
           {"seguridad_convivencia", 70.872413635253906},
           {"ajuste_por_resultados", 1.0223864316940308}}};
}

json Cmd(const std::string& name, const std::string& id, const std::string& at) {
  return json{{"command", name}, {"command_id", id}, {"actor", "admin@dnp.gov.co"}, {"at", at}};
}

// A simulated ledger with Antioquia and its 125 municipalities registered.
void InitAntioquia(LedgerFixture& f, const producers::MdmImport& table) {
  f.Submit(json{{"command", "init"},
                {"command_id", "init"},
                {"actor", "admin@dnp.gov.co"},
                {"clock", "simulated"},
                {"admin", "admin@dnp.gov.co"},
                {"partitions", 4},
                {"at", "2023-01-02T08:00:00-05:00"}});
  json dep = Cmd("register_entity", "e-05", "2023-01-03T09:00:00-05:00");
  dep.update({{"entity", "05"}, {"name", "ANTIOQUIA"}, {"kind", "departamento"}, {"department", "05"}});
  ASSERT_EQ(f.Submit(dep).outcome, events::Outcome::kAccepted);
  for (const auto& p : table.published) {
    json c = Cmd("register_entity", "e-" + p.entity, "2023-01-03T09:00:00-05:00");
    c.update({{"entity", p.entity}, {"name", p.name}, {"kind", "municipio"}, {"department", "05"}});
    ASSERT_EQ(f.Submit(c).outcome, events::Outcome::kAccepted) << p.entity;
  }
}

producers::MdmImport ImportAntioquia(LedgerFixture& f, const std::string& at = "2023-08-01T09:00:00-05:00") {
  auto table = producers::ParseMdmTable(ReadTable(), "mdm_2020_antioquia.csv", 2020, "mdm-2020",
                                        "admin@dnp.gov.co", at);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  InitAntioquia(f, *table);
  for (const auto& c : table->commands) {
    const auto d = f.Submit(c);
    EXPECT_EQ(d.outcome, events::Outcome::kAccepted) << d.message;
  }
  return std::move(*table);
}

TEST(MdmMethodologyTest, MedellinsWorkedExample) {
  const mdm::Methodology* m = mdm::FindMethodology("mdm-2020");
  ASSERT_NE(m, nullptr);
  auto s = mdm::Compute(*m, Medellin(), std::nullopt);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_NEAR(s->gestion, 80.513885498046875, 1e-5);
  EXPECT_NEAR(s->resultados, 72.923652648925781, 1e-5);
  EXPECT_DOUBLE_EQ(s->ajuste, 1.0223864316940308);
  EXPECT_NEAR(s->mdm, 82.316307067871094, 1e-5);
}

TEST(MdmMethodologyTest, PositionsCountStrictlyHigherScoresAndGroupsOnlyWhereKnown) {
  const mdm::Methodology* m = mdm::FindMethodology("mdm-2020");
  std::vector<mdm::Score> scores;
  for (auto [entity, group, mdm_value] :
       {std::tuple{"a", "C", 50.0}, std::tuple{"b", "G1", 70.0}, std::tuple{"c", "C", 70.0},
        std::tuple{"d", "", 60.0}, std::tuple{"e", "C", 40.0}}) {
    mdm::Score s;
    s.entity = entity;
    s.group = group;
    s.methodology = m->name;
    s.mdm = mdm_value;
    scores.push_back(s);
  }
  mdm::Rank(scores);
  std::vector<int> national, group;
  for (const auto& s : scores) {
    national.push_back(s.national_position);
    group.push_back(s.group_position);
  }
  EXPECT_EQ(national, (std::vector<int>{4, 1, 1, 3, 5}));  // the tie shares 1st; the next is 3rd
  EXPECT_EQ(group, (std::vector<int>{2, 1, 1, 0, 3}));     // "d" has no group: no group position
}

TEST(MdmMethodologyTest, OneDefinitionOfTheInputsForValidationAndComputation) {
  const mdm::Methodology* m = mdm::FindMethodology("mdm-2020");
  ASSERT_EQ(m->inputs.size(), 9u);
  EXPECT_EQ(m->inputs.back().name, "ajuste_por_resultados");
  EXPECT_FALSE(mdm::InRange(m->inputs.back(), 0));
  EXPECT_TRUE(mdm::InRange(m->inputs.front(), 100));
  EXPECT_FALSE(mdm::InRange(m->inputs.front(), 100.5));
  EXPECT_EQ(mdm::FindMethodology("mdm-2016"), nullptr);
  EXPECT_TRUE(mdm::IsGroup("G5"));
  EXPECT_FALSE(mdm::IsGroup("G6"));
}

// A version whose ajuste is a function of R(t) and R(t−1): a different `ajuste` and
// `needs_previous_resultados`; the rest of the recompute is shared. (The formula is made up: the
// real one is not published, MDM.md.)
double AjusteFromTrend(const mdm::Levels& l) { return 1 + (l.resultados - *l.previous_resultados) / 1000; }

const mdm::Methodology& TestTrendVersion() {
  static const mdm::Methodology* m = [] {
    auto* v = new mdm::Methodology(*mdm::FindMethodology("mdm-2020"));
    v->name = "mdm-test-trend";
    v->inputs.pop_back();  // no recorded ajuste
    v->ajuste = &AjusteFromTrend;
    v->needs_previous_resultados = true;
    return v;
  }();
  return *m;
}

const mdm::Methodology* FindWithTestVersion(std::string_view name) {
  return name == "mdm-test-trend" ? &TestTrendVersion() : mdm::FindMethodology(name);
}

TEST(MdmMethodologyTest, AVersionComputingTheAjusteFromResultadosOfTwoYears) {
  mdm::Inputs prev = Medellin();
  prev.vigencia = 2019;  // recorded under mdm-2020 rules
  mdm::Inputs cur = Medellin();
  cur.methodology = "mdm-test-trend";
  cur.values.erase("ajuste_por_resultados");
  cur.values["educacion"] = 66.642421722412109;  // R rises by 1
  auto scores = mdm::Recompute({cur}, {prev}, &FindWithTestVersion);
  ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  const mdm::Score& s = scores->front();
  const double r_prev =
      (62.642421722412109 + 95.152595520019531 + 63.027172088623047 + 70.872413635253906) / 4;
  EXPECT_NEAR(s.resultados, r_prev + 1, 1e-9);
  EXPECT_NEAR(s.ajuste, 1.001, 1e-12);
  EXPECT_NEAR(s.mdm, s.gestion * 1.001, 1e-9);
  // R(t−1) is part of what the digest covers for such a version.
  EXPECT_NE(mdm::CanonicalInputs(TestTrendVersion(), cur, 72.9).find("previous_resultados="),
            std::string::npos);
  // Without the previous vigencia's inputs there is no ajuste.
  auto missing = mdm::Recompute({cur}, {}, &FindWithTestVersion);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("2019"), std::string::npos);
}

TEST(MdmMethodologyTest, TheDigestIsOfTheCanonicalInputsAndStable) {
  const mdm::Methodology* m = mdm::FindMethodology("mdm-2020");
  const std::string canonical = mdm::CanonicalInputs(*m, Medellin(), std::nullopt);
  EXPECT_EQ(canonical.substr(0, canonical.find("movilizacion")),
            "veeduria-mdm-inputs/1\nentity=05001\nvigencia=2020\nmethodology=mdm-2020\ngroup=C\n");
  EXPECT_NE(canonical.find("ajuste_por_resultados=3ff05bb1e0000000"), std::string::npos) << canonical;
  EXPECT_EQ(mdm::InputsDigest(*m, Medellin(), std::nullopt), events::Sha256(canonical));
  mdm::Inputs changed = Medellin();
  changed.values["salud"] = std::nextafter(changed.values["salud"], 200.0);
  EXPECT_NE(mdm::InputsDigest(*m, changed, std::nullopt), mdm::InputsDigest(*m, Medellin(), std::nullopt));
}

TEST(MdmRecomputeTest, AntioquiaRecomputesToDnpsPublishedScores) {
  LedgerFixture f;
  const auto table = ImportAntioquia(f);
  ASSERT_EQ(table.published.size(), 125u);
  auto view = f.Live();
  auto scores = projections::MdmRecompute(*view, 2020);
  ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  ASSERT_EQ(scores->size(), 125u);
  std::map<std::string, const mdm::Score*> by;
  for (const auto& s : *scores) by[s.entity] = &s;
  for (const auto& p : table.published) {
    ASSERT_TRUE(by.count(p.entity)) << p.entity;
    const mdm::Score& s = *by[p.entity];
    EXPECT_NEAR(s.gestion, p.gestion, 1e-5) << p.entity;
    EXPECT_NEAR(s.resultados, p.resultados, 1e-5) << p.entity;
    EXPECT_NEAR(s.mdm, p.mdm, 1e-5) << p.entity;
    // Positions among the 125 present follow the published order.
    int expected = 1;
    for (const auto& q : table.published)
      if (q.mdm > p.mdm) ++expected;
    EXPECT_EQ(s.national_position, expected) << p.entity;
  }
  // Medellín: 5th nationally among 1,101, 3rd of Antioquia's 125 by MDM.
  EXPECT_EQ(by["05001"]->national_position, 3);
  const projections::Table diff = projections::MdmCompare(*scores, table.published);
  EXPECT_TRUE(diff.rows.empty()) << projections::Render(diff, projections::Format::kTable);
}

TEST(MdmRecomputeTest, TheComparisonNamesEveryDifference) {
  LedgerFixture f;
  auto table = ImportAntioquia(f);
  auto scores = projections::MdmRecompute(*f.Live(), 2020);
  ASSERT_TRUE(scores.ok());
  table.published[0].mdm += 0.001;  // Medellín published a little higher
  table.published.pop_back();       // and one municipality missing from the table
  const projections::Table diff = projections::MdmCompare(*scores, table.published);
  ASSERT_FALSE(testing::RowsWhere(diff, "what", "mdm").empty());
  EXPECT_EQ(testing::RowsWhere(diff, "what", "mdm")[0]["entity"], "05001");
  EXPECT_EQ(testing::RowsWhere(diff, "what", "not in the published table").size(), 1u);
}

TEST(MdmRecomputeTest, ImportReportsBadRowsByFileLineColumnAndValue) {
  const std::string text =
      "cod_mpio,nom_mpio,movilizacion_recursos,ejecucion_recursos,gobierno_abierto_transparencia,"
      "ordenamiento_territorial,gestion,educacion,salud,servicios_publicos,seguridad_convivencia,resultados,"
      "ajuste_por_resultados,mdm\n"
      "05001,MEDELLÍN,85.4,89.4,83.3,63.8,80.5,62.6,95.1,63.0,70.8,72.9,1.02,82.3\n"
      "05002,ABEJORRAL,17.9,abc,66.6,43.9,51.8,51.5,81.5,71.4,92.0,74.1,1.05,54.8\n"
      "5004,ABRIAQUÍ,21.3,51.9,33.3,34.6,35.3,44.4,65.6,40.5,92.1,60.6,0.99,35.1\n"
      "05021,ALEJANDRÍA,26.4,51.8,177.7,38.8,48.7,49.4,81.2,45.4,89.8,66.4,0.99,48.6\n";
  auto r = producers::ParseMdmTable(text, "t.csv", 2020, "mdm-2020", "admin@dnp.gov.co", "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows.size(), 4u);
  EXPECT_EQ(r->rows[0].status, "imported");
  EXPECT_EQ(r->rows[1].status, "rejected");
  EXPECT_EQ(r->rows[1].message, "t.csv:3: column 'ejecucion_recursos': value 'abc' is not a number");
  EXPECT_EQ(r->rows[2].message, "t.csv:4: column 'cod_mpio': value '5004' is not a 5-digit DANE code");
  EXPECT_EQ(r->rows[3].message,
            "t.csv:5: column 'gobierno_abierto_transparencia': value '177.7' is out of range for mdm-2020");
  ASSERT_EQ(r->commands.size(), 1u);
  EXPECT_EQ(r->commands[0]["source"], "t.csv line 2");
  EXPECT_EQ(r->commands[0]["inputs"].size(), 9u);
  EXPECT_FALSE(r->commands[0].contains("at"));
  auto bad = producers::ParseMdmTable("cod_mpio,gestion\n05001,1\n", "t.csv", 2020, "mdm-2020", "a@b.co", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.csv:1: the header has no column"), std::string::npos);
}

// Medellín's inputs recorded on 1 August, educación corrected on 2 August.
class CorrectedLedger : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = ImportAntioquia(f_);
    json c = table_.commands[0];
    ASSERT_EQ(c["entity"], "05001");
    c["command_id"] = "mdm-05001-fe";
    c["at"] = "2023-08-02T10:00:00-05:00";
    c["inputs"]["educacion"] = 70.0;
    c["source"] = "DNP, fe de erratas";
    const auto d = f_.Submit(c);
    ASSERT_EQ(d.outcome, events::Outcome::kAccepted) << d.message;
    correction_ = d.event_ids.at(0);
  }
  json MedellinRow(const projections::View& v) {
    auto t = projections::MdmQuery(v, {2020, "", "", "05001"});
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() && t->rows.size() == 1 ? json(t->rows[0]) : json();
  }
  std::unique_ptr<projections::View> AsOf(const std::string& t) {
    f_.CatchUp();
    auto v = projections::AsOfView(f_.store(), projections::AsOfKeysForMdm(f_.store(), 2020),
                                   *events::ParseInstant(t));
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return std::move(*v);
  }
  LedgerFixture f_;
  producers::MdmImport table_;
  std::string correction_;
};

TEST_F(CorrectedLedger, AsOfBeforeTheCorrectionGivesTheOldScoreAndAfterItTheNew) {
  const json before = MedellinRow(*AsOf("2023-08-01T12:00:00-05:00"));
  const json after = MedellinRow(*AsOf("2023-08-02T12:00:00-05:00"));
  const json live = MedellinRow(*f_.Live());
  EXPECT_NEAR(before["mdm"].get<double>(), 82.316307067871094, 1e-5);
  EXPECT_NEAR(before["resultados"].get<double>(), 72.923652648925781, 1e-5);
  const double r_new = (70.0 + 95.152595520019531 + 63.027172088623047 + 70.872413635253906) / 4;
  EXPECT_NEAR(after["resultados"].get<double>(), r_new, 1e-9);
  EXPECT_EQ(after, live);
  EXPECT_NE(before["inputs_digest"], after["inputs_digest"]);
  // Before the inputs were recorded at all, there is nothing to answer.
  EXPECT_FALSE(projections::MdmQuery(*AsOf("2023-07-01"), {2020, "", "", "05001"}).ok());
}

TEST_F(CorrectedLedger, ExplainNamesTheEventsAndTheReplacedValues) {
  auto t = projections::MdmExplain(*f_.Live(), 2020, "05001");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const auto edu = testing::RowsWhere(*t, "number", "educacion");
  ASSERT_EQ(edu.size(), 1u);
  EXPECT_EQ(edu[0]["value"], 70.0);
  EXPECT_EQ(edu[0]["event_id"], correction_);
  EXPECT_EQ(edu[0]["source"], "DNP, fe de erratas");
  EXPECT_NE(edu[0]["replaced"].get<std::string>().find("62.64242172241211"), std::string::npos);
  EXPECT_NE(edu[0]["replaced"].get<std::string>().find("mdm_2020_antioquia.csv line 2"), std::string::npos);
  const auto salud = testing::RowsWhere(*t, "number", "salud");
  EXPECT_NE(salud[0]["event_id"], correction_);  // unchanged: still the import's event
  EXPECT_EQ(salud[0]["source"], "mdm_2020_antioquia.csv line 2");
  EXPECT_EQ(salud[0]["replaced"], "");
  EXPECT_EQ(testing::RowsWhere(*t, "number", "mdm")[0]["computed_from"], "gestion × ajuste");
}

TEST_F(CorrectedLedger, PublishThenRecomputeGivesTheSameDigests) {
  auto scores = projections::MdmRecompute(*f_.Live(), 2020);
  ASSERT_TRUE(scores.ok());
  const auto commands =
      projections::MdmPublishCommands(*scores, "admin@dnp.gov.co", "2023-08-03T09:00:00-05:00");
  ASSERT_EQ(commands.size(), 125u);
  for (const auto& c : commands) {
    const auto d = f_.Submit(c);
    ASSERT_EQ(d.outcome, events::Outcome::kAccepted) << d.message;
  }
  f_.CatchUp();
  auto again = projections::MdmRecompute(*f_.Live(), 2020);
  ASSERT_TRUE(again.ok());
  for (const auto& s : *again) {
    const json published = f_.store().rows("mdm").Record("s/2020/" + s.entity);
    ASSERT_FALSE(published.is_null()) << s.entity;
    EXPECT_EQ(published["inputs_digest"], events::ToHex(s.inputs_digest)) << s.entity;
    EXPECT_EQ(published["mdm"].get<double>(), s.mdm);
    EXPECT_EQ(published["national_position"], s.national_position);
  }
  // Publishing again the same thing is a duplicate; the query says the published score matches.
  EXPECT_EQ(f_.Submit(commands[0]).outcome, events::Outcome::kDuplicate);
  EXPECT_EQ(MedellinRow(*f_.Live())["published_matches"], true);
  // A later correction: the published score no longer matches the inputs in force.
  json c = table_.commands[0];
  c["command_id"] = "mdm-05001-fe2";
  c["at"] = "2023-08-04T10:00:00-05:00";
  c["inputs"]["salud"] = 90.0;
  ASSERT_EQ(f_.Submit(c).outcome, events::Outcome::kAccepted);
  EXPECT_EQ(MedellinRow(*f_.Live())["published_matches"], false);
  // …and publishing the old digest is refused.
  json stale = commands[0];
  stale["command_id"] = "stale";
  stale["at"] = "2023-08-05T10:00:00-05:00";
  const auto d = f_.Submit(stale);
  EXPECT_EQ(d.outcome, events::Outcome::kRejected);
  EXPECT_EQ(d.reason, "digest_mismatch");
}

}  // namespace
}  // namespace veeduria
