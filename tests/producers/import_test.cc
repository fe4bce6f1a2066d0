// veeduria import: every real file of ../shared/data, and broken inputs.

#include <gtest/gtest.h>
#include <minizip/unzip.h>
#include <minizip/zip.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "veeduria/events/command.h"
#include "veeduria/events/state.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/producers/importers.h"

namespace veeduria::producers {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kData = std::string(VEEDURIA_SOURCE_DIR) + "/../shared/data";
const std::string kPlans = kData + "/cpi/sispt_sabana_centro_2024_2027/plan_indicativo";
const char* kSheet = "Plan indicativo - Productos";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Leader(const std::string& code) { return "planeacion@" + code + ".gov.co"; }

// A system-clock ledger with DIVIPOLA, the CPI sample, and a leader for each entity of the plans.
class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("veeduria-import-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto l = EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(*l);
    Submit({{"command", "init"},
            {"command_id", "init"},
            {"actor", "admin@dnp.gov.co"},
            {"clock", "system"},
            {"admin", "admin@dnp.gov.co"},
            {"partitions", 4}});
  }
  void TearDown() override {
    ledger_.reset();
    fs::remove_all(dir_);
  }
  void Submit(const json& cmd) {
    auto p = events::ParseCommand(cmd.dump(), 0);
    ASSERT_FALSE(p.error) << p.error->message;
    auto d = ledger_->Append({*p.command});
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d->front().outcome, events::Outcome::kAccepted) << cmd.dump() << " " << d->front().message;
  }
  // Runs an import; returns the summary and keeps the rows.
  ImportSummary Import(const std::string& kind, const std::string& bytes, const std::string& file,
                       ImportOptions o = {}, bool dry_run = false) {
    auto batch = ReadImport(kind, bytes, file, o);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok()) return {};
    rows_.clear();
    auto s = RunImport(*ledger_, *batch, dry_run, [&](const RowReport& r) { rows_.push_back(r); });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : ImportSummary{};
  }
  void Directory() {
    Import("divipola", Slurp(kData + "/divipola/divipola_municipios.csv"), "divipola_municipios.csv");
    Import("catalog", Slurp(kData + "/cpi/cpi_indicadores_muestra_sispt_sabana_centro.csv"), "cpi.csv",
           {.version = "CPI-muestra"});
    for (const std::string code : {"25", "25126", "25175", "25200", "25214", "25295", "25486", "25758",
                                   "25785", "25799", "25817", "25899"}) {
      Submit({{"command", "request_leader"},
              {"command_id", code + "-leader"},
              {"actor", Leader(code)},
              {"entity", code},
              {"email", Leader(code)},
              {"name", "Jefe de planeación"},
              {"supports", {{{"kind", "acta_de_posesion"}, {"sha256", std::string(64, 'a')}}}}});
      Submit({{"command", "activate_leader"},
              {"command_id", code + "-activate"},
              {"actor", "system"},
              {"request_id", code + "-leader"}});
    }
  }
  const RowReport* Row(const std::string& key) {
    for (const auto& r : rows_)
      if (r.key == key) return &r;
    return nullptr;
  }

  fs::path dir_;
  std::unique_ptr<EmbeddedLedger> ledger_;
  std::vector<RowReport> rows_;
};

TEST_F(ImportTest, TheThreeDivipolaShapesGiveTheSameEntities) {
  std::map<std::string, std::map<std::string, std::string>> seen;  // file -> code -> kind/department
  for (const std::string f :
       {"divipola_municipios.csv", "divipola_raw_Rodato-dashboard-sgr.csv", "divipola_dane_2025.csv"}) {
    auto b = ReadImport("divipola", Slurp(kData + "/divipola/" + f), f, {});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    size_t skipped = 0, islands = 0;
    for (const auto& r : b->rows) {
      if (r.status == "skipped") {
        ++skipped;
        islands += r.reason == "island";
        EXPECT_TRUE(r.reason == "island" || r.reason == "area_no_municipalizada") << r.reason;
        continue;
      }
      const json& c = b->units[r.unit].front();
      seen[f][c["entity"]] = c["kind"].get<std::string>() + "/" + c["department"].get<std::string>();
    }
    EXPECT_EQ(skipped, 19u) << f;
    EXPECT_EQ(islands, 1u) << f;
  }
  auto& clean = seen["divipola_municipios.csv"];
  EXPECT_EQ(clean.size(), 1135u);  // 33 first-level units + 1,102 municipalities
  EXPECT_EQ(clean["11001"], "distrito/11");
  EXPECT_EQ(clean["05001"], "municipio/05");
  EXPECT_EQ(clean["05"], "departamento/05");
  EXPECT_EQ(seen["divipola_raw_Rodato-dashboard-sgr.csv"], clean);
  auto dane = seen["divipola_dane_2025.csv"];
  EXPECT_EQ(dane.size(), 1136u);
  EXPECT_EQ(dane["27493"], "municipio/27");  // Nuevo Belén de Bajirá, 2025
  dane.erase("27493");
  EXPECT_EQ(dane, clean);
}

TEST_F(ImportTest, DivipolaImportsOnceAndAgainAsDuplicates) {
  const std::string bytes = Slurp(kData + "/divipola/divipola_dane_2025.csv");
  auto dry = Import("divipola", bytes, "divipola_dane_2025.csv", {}, /*dry_run=*/true);
  EXPECT_EQ(dry.imported, 1136u);
  EXPECT_EQ(dry.events, 0u);
  auto first = Import("divipola", bytes, "divipola_dane_2025.csv");
  EXPECT_EQ(first.imported, 1136u);
  EXPECT_EQ(first.skipped, 19u);
  EXPECT_EQ(first.events, 1136u);
  const RowReport* r = Row("05001");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->row, 2);
  EXPECT_EQ(r->file, "divipola_dane_2025.csv");
  EXPECT_EQ(r->sha256.size(), 64u);
  EXPECT_EQ(r->command_ids.front().rfind("import:" + r->sha256.substr(0, 16) + ":2:", 0), 0u);
  auto again = Import("divipola", bytes, "divipola_dane_2025.csv");
  EXPECT_EQ(again.duplicate, 1136u);
  EXPECT_EQ(again.events, 0u);
  // The same entities from another export: nothing changes, nothing is written.
  auto other =
      Import("divipola", Slurp(kData + "/divipola/divipola_municipios.csv"), "divipola_municipios.csv");
  EXPECT_EQ(other.rejected, 0u);
  EXPECT_GE(other.skipped, 19u + 1100u);
}

TEST_F(ImportTest, CatalogChecksTheCodeHierarchy) {
  auto s = Import("catalog", Slurp(kData + "/cpi/cpi_indicadores_muestra_sispt_sabana_centro.csv"),
                  "cpi_indicadores_muestra_sispt_sabana_centro.csv");
  EXPECT_EQ(s.imported, 1253u);
  EXPECT_EQ(s.commands, 1u);
  const std::string bad =
      "codigo_sector,sector,codigo_programa,programa,codigo_producto,producto,codigo_indicador,indicador,"
      "unidad_medida,indicador_principal\n"
      "04,S,0401,P,0401001,Pr,040100100,I,Número,Sí\n"
      "04,S,0501,P,0501001,Pr,050100100,I,Número,Sí\n"
      "04,S,0401,P,0401005,Pr,04010050,I,Número,No\n";
  auto b = ReadImport("catalog", bad, "cat.csv", {.version = "v-test"});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->rows.size(), 3u);
  EXPECT_EQ(b->rows[1].status, "rejected");
  EXPECT_EQ(b->rows[1].reason, "bad_cpi_hierarchy");
  EXPECT_EQ(b->rows[1].column, "codigo_programa");
  EXPECT_EQ(b->rows[1].row, 3);
  EXPECT_EQ(b->rows[2].column, "codigo_indicador");
  EXPECT_EQ(b->units[0][0]["rows"].size(), 1u);
  EXPECT_EQ(b->units[0][0]["version"], "v-test");
}

TEST_F(ImportTest, AllTwelvePlanExportsImport) {
  Directory();
  size_t goals = 0, rejected = 0;
  for (const auto& entry : fs::directory_iterator(kPlans)) {
    const std::string code = entry.path().stem().string();
    auto s = Import("plan", Slurp(entry.path().string()), entry.path().filename().string(),
                    {.actor = Leader(code)});
    EXPECT_GT(s.imported, 100u) << code;
    for (const auto& r : rows_) {
      if (r.status == "rejected") {
        // Only amounts that look typed in millions (fractions under 100 000 pesos) or a missing
        // accumulation type: never an accumulation inconsistency.
        EXPECT_TRUE(r.reason == "not_pesos" || r.reason == "missing_value") << r.message;
        ++rejected;
      }
      EXPECT_EQ(r.sheet, kSheet);
    }
    goals += s.imported - 1;  // the upload_plan row
  }
  EXPECT_GT(goals, 3300u);
  EXPECT_LT(rejected, 40u);
  // Cundinamarca's IP-207: 2024 resources by source, in pesos.
  auto s = Import("plan", Slurp(kPlans + "/25.xlsx"), "25.xlsx", {.actor = Leader("25")}, true);
  EXPECT_EQ(s.duplicate, 386u);  // 385 goals + the plan: a re-import writes nothing
}

TEST_F(ImportTest, CundinamarcaIp207) {
  Directory();
  auto b = ReadImport("plan", Slurp(kPlans + "/25.xlsx"), "25.xlsx", {.actor = Leader("25")});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->rows.size(), 386u);
  const json& up = b->units[0][0];
  EXPECT_EQ(up["command"], "upload_plan");
  EXPECT_EQ(up["document_sha256"], b->sha256);
  EXPECT_EQ(up["period"], json({2024, 2027}));
  EXPECT_EQ(up["name"], "Gobernando: más que un plan");
  const RowReport& r = b->rows[1];
  EXPECT_EQ(r.key, "IP-207");
  EXPECT_EQ(r.row, 3);
  const auto& unit = b->units[r.unit];
  ASSERT_EQ(unit.size(), 5u);
  EXPECT_EQ(unit[0]["cpi_indicator"], "170202100");
  EXPECT_EQ(unit[0]["target"], 1500);
  EXPECT_EQ(unit[0]["accumulation"], "acumulativo");
  EXPECT_EQ(unit[0]["unit"], "Número");
  EXPECT_EQ(unit[1]["year"], 2024);
  EXPECT_EQ(unit[1]["physical"], 115);
  EXPECT_EQ(unit[1]["resources"], json({{"Recursos propios", 1500000000}}));
  EXPECT_EQ(unit[3]["resources"], json({{"Recursos propios", 5130095704LL}, {"Crédito", 1500000000}}));
  EXPECT_EQ(unit[0]["causation_id"], "25.xlsx#Plan indicativo - Productos!3");
  auto s = RunImport(*ledger_, *b, false, nullptr);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->imported, 386u);
  EXPECT_EQ(b->rows[1].status, "imported");
}

TEST_F(ImportTest, AccumulationMismatchIsAWarning) {
  Directory();
  auto s = Import("plan", Slurp(kPlans + "/25126.xlsx"), "25126.xlsx", {.actor = Leader("25126")});
  size_t mismatches = 0;
  for (const auto& r : rows_)
    for (const auto& w : r.warnings) mismatches += w == "accumulation_mismatch" && r.status == "imported";
  EXPECT_GT(mismatches, 0u);
  EXPECT_GT(s.warnings, 0u);
}

// Writes a copy of `xlsx` with some parts edited (minizip both ways).
std::string Rezip(const std::string& xlsx,
                  const std::map<std::string, std::pair<std::string, std::string>>& edits,
                  const fs::path& dir) {
  const fs::path in = dir / "in.xlsx", out = dir / "out.xlsx";
  fs::create_directories(dir);
  std::ofstream(in, std::ios::binary) << xlsx;
  unzFile uz = unzOpen64(in.c_str());
  zipFile z = zipOpen64(out.c_str(), APPEND_STATUS_CREATE);
  for (int rc = unzGoToFirstFile(uz); rc == UNZ_OK; rc = unzGoToNextFile(uz)) {
    char name[512];
    unzGetCurrentFileInfo64(uz, nullptr, name, sizeof name, nullptr, 0, nullptr, 0);
    unzOpenCurrentFile(uz);
    std::string data;
    char buf[1 << 16];
    for (int n; (n = unzReadCurrentFile(uz, buf, sizeof buf)) > 0;) data.append(buf, n);
    unzCloseCurrentFile(uz);
    if (auto it = edits.find(name); it != edits.end()) {
      const size_t at = data.find(it->second.first);
      EXPECT_NE(at, std::string::npos) << it->second.first;
      if (at != std::string::npos) data.replace(at, it->second.first.size(), it->second.second);
    }
    zipOpenNewFileInZip64(z, name, nullptr, nullptr, 0, nullptr, 0, nullptr, Z_DEFLATED, 6, 1);
    zipWriteInFileInZip(z, data.data(), data.size());
    zipCloseFileInZip(z);
  }
  unzClose(uz);
  zipClose(z, nullptr);
  return Slurp(out.string());
}

TEST_F(ImportTest, BrokenWorkbooksNameFileSheetRowAndColumn) {
  Directory();
  const std::string real = Slurp(kPlans + "/25.xlsx");
  const ImportOptions o{.actor = Leader("25")};
  // Truncated.
  auto t = ReadImport("plan", real.substr(0, real.size() * 2 / 3), "25.xlsx", o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("25.xlsx"), std::string::npos);
  EXPECT_NE(t.status().message().find("truncated"), std::string::npos) << t.status().message();
  // Missing sheet.
  auto ms = ReadImport(
      "plan",
      Rezip(real, {{"xl/workbook.xml", {"name=\"Plan indicativo - Productos\"", "name=\"Productos\""}}},
            dir_),
      "25.xlsx", o);
  ASSERT_FALSE(ms.ok());
  EXPECT_NE(ms.status().message().find("no sheet 'Plan indicativo - Productos'"), std::string::npos)
      << ms.status().message();
  // Missing column.
  auto mc = ReadImport(
      "plan", Rezip(real, {{"xl/sharedStrings.xml", {"<t>Meta del cuatrienio</t>", "<t>Meta</t>"}}}, dir_),
      "25.xlsx", o);
  ASSERT_FALSE(mc.ok());
  EXPECT_EQ(mc.status().message(),
            "25.xlsx, sheet 'Plan indicativo - Productos', row 2: missing column 'Meta del cuatrienio'");
  // A non-numeric target, an amount in millions with decimals, a duplicated goal id.
  const std::string edited = Rezip(real,
                                   {{"xl/worksheets/sheet3.xml",
                                     {"<c r=\"Q3\" s=\"0\"><v>1500</v></c>",
                                      "<c r=\"Q3\" t=\"inlineStr\"><is><t>mil quinientos</t></is></c>"}}},
                                   dir_ / "a");
  const std::string edited2 =
      Rezip(edited,
            {{"xl/worksheets/sheet3.xml",
              {"<c r=\"E4\" s=\"0\" t=\"s\"><v>162</v></c>", "<c r=\"E4\" s=\"0\" t=\"s\"><v>147</v></c>"}}},
            dir_ / "b");
  const std::string edited3 =
      Rezip(edited2,
            {{"xl/worksheets/sheet3.xml",
              {"<c r=\"Z5\" s=\"0\"><v>2700000000</v>", "<c r=\"Z5\" s=\"0\"><v>1500.5</v>"}}},
            dir_ / "c");
  auto b = ReadImport("plan", edited3, "25.xlsx", o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::map<int, const RowReport*> by_row;
  for (const auto& r : b->rows) by_row[r.row] = &r;
  ASSERT_TRUE(by_row.count(3) && by_row.count(4) && by_row.count(5));
  EXPECT_EQ(by_row[3]->reason, "not_a_number");
  EXPECT_EQ(
      by_row[3]->message,
      "25.xlsx, sheet 'Plan indicativo - Productos', row 3, column Q (Meta del cuatrienio): 'mil quinientos' "
      "is not a number (the four-year target)");
  EXPECT_EQ(by_row[4]->reason, "duplicate_goal");  // IP-207 again; row 3 was refused, but its id is taken
  EXPECT_EQ(by_row[4]->column, "E (Código de indicador de producto (SisPT))");
  EXPECT_EQ(by_row[5]->reason, "not_pesos");
  EXPECT_NE(by_row[5]->message.find("row 5, column Z (Recursos propios 2024): 1500.5"), std::string::npos)
      << by_row[5]->message;
  // The rest of the file still imports, and the refused rows write nothing.
  auto s = RunImport(*ledger_, *b, false, nullptr);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rejected, 3u);
  EXPECT_EQ(s->imported, 386u - 3u);
}

TEST_F(ImportTest, Latin1IsRefusedNamingTheRowAndColumn) {
  const std::string latin1 =
      "entidad,plan,meta,campaña,corte,avance_fisico_acumulado\n"
      "25126,PDT-2024-2027,IP-1,KPT-2024,Q1,1\n"
      "25126,PDT-2024-2027,IP-2,KPT-2024,Q1,\xC9\n";
  auto b = ReadImport("progress", latin1, "avance.csv", {});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("avance.csv: not UTF-8 (row 3, column 38"), std::string::npos)
      << b.status().message();
  auto d = ReadImport("divipola",
                      "cod_dpto,nom_dpto\n05,ANTIOQU\xCD"
                      "A\n",
                      "d.csv", {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("d.csv: not UTF-8 (row 2, column 11"), std::string::npos)
      << d.status().message();
}

TEST_F(ImportTest, ProgressRowsBecomeReportsAndMoneyMustBePesos) {
  Directory();
  Import("plan", Slurp(kPlans + "/25126.xlsx"), "25126.xlsx", {.actor = Leader("25126")});
  Submit({{"command", "open_campaign"},
          {"command_id", "kpt-2024"},
          {"actor", "admin@dnp.gov.co"},
          {"campaign", "KPT-2024"},
          {"system", "kpt"},
          {"vigencia", 2024},
          {"milestones",
           {{{"id", "Q1"}, {"activity", "report"}, {"cut", "2024-03-31"}, {"deadline", "2099-04-15"}}}}});
  const std::string csv =
      "Entidad;Plan;Meta;Campaña;Corte;Avance físico acumulado;Fuente;Compromisos;Obligaciones;Pagos;Nota\n"
      "25126;PDT-2024-2027;IP-236;KPT-2024;Q1;12,5;Recursos propios;1000000;900000;800000;primer corte\n"
      "25126;PDT-2024-2027;IP-236;KPT-2024;Q1;12,5;SGP educación;500000;0;0;primer corte\n"
      "25126;PDT-2024-2027;IP-999;KPT-2024;Q1;1;Recursos propios;1;1;1;meta inexistente\n"
      "25126;PDT-2024-2027;IP-236;KPT-2024;Q2;mucho;Recursos propios;1;1;1;\n";
  auto b = ReadImport("progress", csv, "avance.csv", {.actor = Leader("25126")});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->units.size(), 2u);
  const json& cmd = b->units[0][0];
  EXPECT_EQ(cmd["physical_ytd"], 12.5);
  EXPECT_EQ(cmd["financial"]["SGP educación"]["compromisos"], 500000);
  auto s = RunImport(*ledger_, *b, false, [&](const RowReport&) {});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->imported, 2u);  // two rows, one report
  EXPECT_EQ(b->rows[2].status, "rejected");
  EXPECT_EQ(b->rows[2].row, 4);
  EXPECT_EQ(b->rows[3].reason, "not_a_number");
  EXPECT_EQ(b->rows[3].column, "Avance físico acumulado");
  // An amount in millions with decimals reaches the rules and is refused, naming the field.
  const std::string millions =
      "entidad,plan,meta,campana,corte,avance_fisico_acumulado,fuente,compromisos,obligaciones,pagos\n"
      "25126,PDT-2024-2027,IP-236,KPT-2024,Q1,13,Recursos propios,\"1.234.567,89\",0,0\n";
  auto m = ReadImport("progress", millions, "millones.csv", {.actor = Leader("25126")});
  ASSERT_TRUE(m.ok());
  auto ms = RunImport(*ledger_, *m, false, nullptr);
  ASSERT_TRUE(ms.ok());
  EXPECT_EQ(m->rows[0].reason, "not_pesos");
  EXPECT_NE(m->rows[0].message.find("millones.csv, row 2: report_progress: "), std::string::npos);
  EXPECT_NE(m->rows[0].column.find("compromisos"), std::string::npos) << m->rows[0].column;
}

}  // namespace
}  // namespace veeduria::producers
