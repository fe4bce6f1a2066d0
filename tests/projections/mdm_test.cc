#include <gtest/gtest.h>

#include "fixture.h"
#include "veeduria/events/sha256.h"
#include "veeduria/projections/projection.h"

namespace veeduria {
namespace {

using nlohmann::json;
using testing::LedgerFixture;

// MDM.md's worked example: Medellín (05001), vigencia 2020.
json MedellinInputs() {
  return json{{"movilizacion_recursos", 85.41741943359375},
              {"ejecucion_recursos", 89.488571166992188},
              {"gobierno_abierto_transparencia", 83.333335876464844},
              {"ordenamiento_territorial", 63.816219329833984},
              {"educacion", 62.642421722412109},
              {"salud", 95.152595520019531},
              {"servicios_publicos", 63.027172088623047},
              {"seguridad_convivencia", 70.872413635253906},
              {"ajuste_por_resultados", 1.0223864316940308}};
}

json Command(const std::string& name, const std::string& id, const std::string& at) {
  return json{{"command", name}, {"command_id", id}, {"actor", "admin@dnp.gov.co"}, {"at", at}};
}

// A ledger with Antioquia, Medellín and Bello, and the 2020 inputs of Medellín recorded on
// 1 August 2023 and corrected (educación, source, group) on 2 August.
class MdmLedger {
 public:
  MdmLedger() {
    f.Submit(json{{"command", "init"},
                  {"command_id", "init"},
                  {"actor", "admin@dnp.gov.co"},
                  {"clock", "simulated"},
                  {"admin", "admin@dnp.gov.co"},
                  {"partitions", 4},
                  {"at", "2023-01-02T08:00:00-05:00"}});
    Register("05", "ANTIOQUIA", "departamento", "2023-01-03T09:00:00-05:00");
    Register("05001", "MEDELLÍN", "distrito", "2023-01-03T09:01:00-05:00");
    Register("05088", "BELLO", "municipio", "2023-01-03T09:02:00-05:00");
    json first = Command("record_mdm_inputs", "mdm-05001-2020", "2023-08-01T09:00:00-05:00");
    first.update({{"entity", "05001"},
                  {"vigencia", 2020},
                  {"methodology", "mdm-2020"},
                  {"inputs", MedellinInputs()},
                  {"source", "DNP, resultados MDM 2020"}});
    const auto d1 = f.Submit(first);
    EXPECT_EQ(d1.outcome, events::Outcome::kAccepted) << d1.message;
    first_event = d1.event_ids.at(0);
    json bello = first;
    bello["command_id"] = "mdm-05088-2020";
    bello["entity"] = "05088";
    bello["at"] = "2023-08-01T09:05:00-05:00";
    bello["inputs"]["educacion"] = 55.1;
    EXPECT_EQ(f.Submit(bello).outcome, events::Outcome::kAccepted);
    json correction = first;
    correction["command_id"] = "mdm-05001-2020-fe";
    correction["at"] = "2023-08-02T10:00:00-05:00";
    correction["inputs"]["educacion"] = 62.7;
    correction["source"] = "DNP, resultados MDM 2020 (fe de erratas)";
    correction["group"] = "C";
    const auto d2 = f.Submit(correction);
    EXPECT_EQ(d2.outcome, events::Outcome::kAccepted) << d2.message;
    correction_event = d2.event_ids.at(0);
  }

  LedgerFixture f;
  std::string first_event, correction_event;

 private:
  void Register(const std::string& entity, const std::string& name, const std::string& kind,
                const std::string& at) {
    json c = Command("register_entity", "entity-" + entity, at);
    c.update({{"entity", entity}, {"name", name}, {"kind", kind}, {"department", entity.substr(0, 2)}});
    EXPECT_EQ(f.Submit(c).outcome, events::Outcome::kAccepted) << c.dump();
  }
};

events::Micros At(const std::string& t) { return *events::ParseInstant(t); }

TEST(MdmTest, InputsKeepTheirProvenanceAndTheValuesACorrectionReplaced) {
  MdmLedger m;
  m.f.CatchUp();
  const auto& rows = m.f.store().rows("mdm");
  const json row = rows.Record("v/2020/05001");
  ASSERT_FALSE(row.is_null());
  EXPECT_EQ(row["entity"], "05001");
  EXPECT_EQ(row["vigencia"], 2020);
  EXPECT_EQ(row["methodology"], "mdm-2020");
  EXPECT_EQ(row["group"], "C");
  EXPECT_EQ(row["source"], "DNP, resultados MDM 2020 (fe de erratas)");
  EXPECT_EQ(row["event_id"], m.correction_event);
  EXPECT_EQ(row["recorded_at"], At("2023-08-02T10:00:00-05:00"));
  EXPECT_EQ(row["actor"], json({{"user", "admin@dnp.gov.co"}, {"role", "dnp"}}));
  EXPECT_EQ(row["first_recorded_at"], At("2023-08-01T09:00:00-05:00"));
  json current = MedellinInputs();
  current["educacion"] = 62.7;
  EXPECT_EQ(row["inputs"], current);  // doubles survive the round trip bit for bit

  ASSERT_EQ(row["corrections"].size(), 1u);
  const json& c = row["corrections"][0];
  EXPECT_EQ(c["event_id"], m.correction_event);
  EXPECT_EQ(c["recorded_at"], At("2023-08-02T10:00:00-05:00"));
  EXPECT_EQ(c["source"], "DNP, resultados MDM 2020 (fe de erratas)");
  const json& replaced = c["replaced"];
  EXPECT_EQ(replaced["inputs"], MedellinInputs());
  EXPECT_EQ(replaced["inputs"]["educacion"].get<double>(), 62.642421722412109);
  EXPECT_EQ(replaced["group"], "");  // the first recording did not give one
  EXPECT_EQ(replaced["source"], "DNP, resultados MDM 2020");
  EXPECT_EQ(replaced["methodology"], "mdm-2020");
  EXPECT_EQ(replaced["event_id"], m.first_event);
  EXPECT_EQ(replaced["recorded_at"], At("2023-08-01T09:00:00-05:00"));

  EXPECT_TRUE(rows.Get("e/05001/2020").has_value());
  EXPECT_TRUE(rows.Record("v/2019/05001").is_null());
}

TEST(MdmTest, AVigenciasMunicipalitiesAreAPrefixScan) {
  MdmLedger m;
  m.f.CatchUp();
  std::vector<std::string> entities;
  m.f.store().rows("mdm").ScanRecords("v/2020/", [&](std::string_view, const json& r) {
    entities.push_back(r["entity"].get<std::string>());
    return true;
  });
  EXPECT_EQ(entities, (std::vector<std::string>{"05001", "05088"}));
  EXPECT_EQ(m.f.store().rows("mdm").Record("v/2020/05088")["corrections"], json::array());
}

TEST(MdmTest, AsOfBeforeTheCorrectionHoldsTheFirstInputs) {
  MdmLedger m;
  auto view = m.f.AsOf({"05001", "*"}, "2023-08-01T12:00:00-05:00");
  const json row = view->rows("mdm").Record("v/2020/05001");
  ASSERT_FALSE(row.is_null());
  EXPECT_EQ(row["inputs"], MedellinInputs());
  EXPECT_EQ(row["event_id"], m.first_event);
  EXPECT_EQ(row["corrections"], json::array());
  EXPECT_TRUE(view->rows("mdm").Record("v/2020/05088").is_null());  // not among the keys asked for
}

// MdmScoreComputed has no command yet (the MDM issue adds the recompute): these events are
// built by hand and applied straight to in-memory rows.
std::string ScoreEvent(const std::string& stream, uint64_t seq, const std::string& at, double mdm,
                       int position) {
  schema::EventT ev;
  ev.envelope = std::make_unique<schema::EnvelopeT>();
  ev.envelope->schema_version = 1;
  ev.envelope->event_id = "score-" + stream + "-" + std::to_string(seq);
  ev.envelope->stream = stream;
  ev.envelope->stream_seq = seq;
  ev.envelope->recorded_at = At(at);
  ev.envelope->vigencia = 2020;
  ev.envelope->actor = std::make_unique<schema::ActorT>();
  ev.envelope->actor->user = "admin@dnp.gov.co";
  ev.envelope->actor->role = schema::ActorRole::dnp;
  schema::MdmScoreComputedT p;
  p.entity = "05001";
  p.vigencia = 2020;
  p.methodology = "mdm-2020";
  p.group = "C";
  p.gestion = 80.513885498046875;
  p.resultados = 72.923652648925781;
  p.ajuste = 1.0223864316940308;
  p.mdm = mdm;
  p.national_position = position;
  p.group_position = 2;
  std::array<uint8_t, 32> digest{};
  digest.fill(0xab);
  p.inputs_digest = std::make_unique<schema::Sha256>(flatbuffers::span<const uint8_t, 32>(digest));
  ev.payload.Set(std::move(p));
  flatbuffers::FlatBufferBuilder fbb;
  schema::FinishEventBuffer(fbb, schema::CreateEvent(fbb, &ev));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

void ApplyTo(projections::MemoryRows& rows, const std::string& bytes) {
  const events::Hash hash = events::Sha256(bytes);
  events::LogPosition pos;
  const schema::Event* ev = schema::GetEvent(bytes.data());
  projections::EventRef ref{ev, ev->envelope(), bytes, hash, pos};
  projections::FindProjection("mdm")->Apply(ref, rows.state());
}

TEST(MdmTest, TheLatestScoreIsTheLatestByTimeWhicheverStreamCameFirst) {
  const std::string older = ScoreEvent("05001", 7, "2023-08-03T09:00:00-05:00", 82.316307067871094, 5);
  const std::string newer = ScoreEvent("mdm", 1, "2023-08-04T09:00:00-05:00", 82.4, 4);
  projections::MemoryRows a, b;
  ApplyTo(a, older);
  ApplyTo(a, newer);
  ApplyTo(b, newer);
  ApplyTo(b, older);
  EXPECT_EQ(a.state().entries(), b.state().entries());
  const json latest = a.Record("s/2020/05001");
  ASSERT_FALSE(latest.is_null());
  EXPECT_EQ(latest["mdm"].get<double>(), 82.4);
  EXPECT_EQ(latest["national_position"], 4);
  EXPECT_EQ(latest["group_position"], 2);
  EXPECT_EQ(latest["gestion"].get<double>(), 80.513885498046875);
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(latest["inputs_digest"], hex);
  EXPECT_EQ(latest["event_id"], "score-mdm-1");
  int computations = 0;
  a.Scan("sh/2020/05001/", [&](std::string_view, std::string_view) {
    ++computations;
    return true;
  });
  EXPECT_EQ(computations, 2);
}

TEST(MdmTest, ARebuildGivesTheSameDigests) {
  MdmLedger m;
  m.f.CatchUp(1);
  const auto all = m.f.store().Digests();
  ASSERT_TRUE(m.f.store().Reset("").ok());
  m.f.CatchUp();
  EXPECT_EQ(m.f.store().Digests(), all);
  ASSERT_TRUE(m.f.store().Reset("mdm").ok());
  m.f.CatchUp();
  EXPECT_EQ(m.f.store().Digests(), all);
}

}  // namespace
}  // namespace veeduria
