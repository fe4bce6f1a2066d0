#include "veeduria/producers/generator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "veeduria/events/command.h"
#include "veeduria/producers/csv.h"
#include "veeduria/producers/embedded_ledger.h"

namespace veeduria::producers {
namespace {

using nlohmann::json;

GeneratorOptions Options(const std::string& scale, uint64_t seed) {
  GeneratorOptions o;
  o.data_dir = std::string(VEEDURIA_SOURCE_DIR) + "/../shared/data";
  o.campaigns_file = std::string(VEEDURIA_SOURCE_DIR) + "/ops/campaigns/2023.jsonl";
  o.scale = scale;
  o.seed = seed;
  return o;
}

std::string Generated(const std::string& scale, uint64_t seed) {
  std::ostringstream out;
  auto stats = Generate(Options(scale, seed), out);
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  return out.str();
}

TEST(GeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  const std::string a = Generated("tiny", 7), b = Generated("tiny", 7), c = Generated("tiny", 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(GeneratorTest, UnknownScaleIsAnError) {
  std::ostringstream out;
  EXPECT_EQ(Generate(Options("galactic", 1), out).status().code(), StatusCode::kInvalidArgument);
}

// Every generated command is well formed and, in time order, accepted by the rules, except the
// refusals the generator writes on purpose (amounts not in pesos, DNP resetting a password).
TEST(GeneratorTest, TheRulesAcceptWhatItGenerates) {
  const std::string text = Generated("tiny", 2023);
  const auto dir = std::filesystem::temp_directory_path() / ("veeduria-gen-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto ledger = EmbeddedLedger::Open(dir.string());
  ASSERT_TRUE(ledger.ok());
  std::vector<events::Command> commands;
  auto init = events::ParseCommand(
      R"({"command":"init","command_id":"init","actor":"admin@dnp.gov.co","clock":"simulated","admin":"admin@dnp.gov.co","at":"2023-01-02T08:00:00-05:00"})",
      0);
  commands.push_back(*init.command);
  for (const auto& line : events::SplitLines(text)) {
    auto p = events::ParseCommand(line.text, line.line_no);
    ASSERT_TRUE(p.command) << p.error->message;
    commands.push_back(std::move(*p.command));
  }
  auto decided = (*ledger)->Append(commands);
  ASSERT_TRUE(decided.ok());
  std::map<std::string, int> refused;
  for (size_t i = 0; i < decided->size(); ++i) {
    const auto& d = (*decided)[i];
    if (d.outcome != events::Outcome::kAccepted) ++refused[d.reason];
  }
  EXPECT_EQ(refused, (std::map<std::string, int>{{"not_pesos", 3}, {"manual_activation_forbidden", 3}}));
  ledger->reset();
  std::filesystem::remove_all(dir);
}

// The shape of the demo scale against the real exports: plans of 30–60 goals, every DIVIPOLA
// municipality registered, the real mix of accumulation types within a stated band.
TEST(GeneratorTest, DemoScaleHasTheShapeOfTheRealData) {
  const std::string text = Generated("demo", 2023);
  std::map<std::string, int> goals_per_entity, by_command;
  int acumulativo = 0, goals = 0;
  for (const auto& line : events::SplitLines(text)) {
    json j = json::parse(line.text);
    ++by_command[j["command"].get<std::string>()];
    if (j["command"] == "define_goal") {
      ++goals_per_entity[j["entity"].get<std::string>()];
      ++goals;
      acumulativo += j["accumulation"] == "acumulativo";
    }
  }
  EXPECT_EQ(by_command["register_entity"], 33 + 1102);  // departments and Bogotá; municipalities
  EXPECT_EQ(goals_per_entity.size(), 117u);
  for (const auto& [entity, n] : goals_per_entity) {
    EXPECT_GE(n, 30) << entity;
    EXPECT_LE(n, 60) << entity;
  }
  // The sample's goals are about 70% acumulativo (weighted by the entities that use each code).
  const double share = static_cast<double>(acumulativo) / goals;
  EXPECT_GT(share, 0.55);
  EXPECT_LT(share, 0.85);
  EXPECT_EQ(by_command["program_goal"], goals * 4 + 3);
  EXPECT_GT(by_command["request_adjustment"], 5);
  EXPECT_GT(by_command["notify_noncompliance"], 2);
  EXPECT_EQ(by_command["refer_to_control_body"], 2);
}

std::string GeneratedTerm(const std::string& scale, uint64_t seed, size_t max_entities) {
  GeneratorOptions o = Options(scale, seed);
  o.max_entities = max_entities;
  std::ostringstream out;
  auto stats = Generate(o, out);
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  return out.str();
}

TEST(GeneratorTest, TermSameSeedSameBytesOtherSeedOtherBytes) {
  const std::string a = GeneratedTerm("department", 7, 3), b = GeneratedTerm("department", 7, 3),
                    c = GeneratedTerm("department", 8, 3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(GeneratorInitAt("national"), "2020-01-02T08:00:00-05:00");
  EXPECT_EQ(GeneratorInitAt("demo"), "2023-01-02T08:00:00-05:00");
}

// The four-year term through the rules: the gobernación and three municipalities, in time order
// (a simulated clock refuses any line earlier than the last), everything accepted except the
// refusals written on purpose.
TEST(GeneratorTest, TheRulesAcceptTheFourYearTerm) {
  const std::string text = GeneratedTerm("department", 2023, 4);
  const auto dir = std::filesystem::temp_directory_path() / ("veeduria-genterm-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto ledger = EmbeddedLedger::Open(dir.string());
  ASSERT_TRUE(ledger.ok());
  std::vector<events::Command> commands;
  commands.push_back(
      *events::ParseCommand(
           R"({"command":"init","command_id":"init","actor":"admin@dnp.gov.co","clock":"simulated","admin":"admin@dnp.gov.co","at":")" +
               GeneratorInitAt("department") + "\"}",
           0)
           .command);
  std::map<std::string, int> refused, flags;
  std::string refusals;  // for the failure message
  auto append = [&] {
    auto decided = (*ledger)->Append(commands);
    ASSERT_TRUE(decided.ok());
    for (size_t i = 0; i < decided->size(); ++i) {
      const auto& d = (*decided)[i];
      if (d.outcome != events::Outcome::kAccepted) {
        ++refused[d.reason];
        refusals += commands[i].command_id + ": " + d.message + "\n";
      }
      for (const auto& f : d.flags) ++flags[f];
    }
    commands.clear();
  };
  for (const auto& line : events::SplitLines(text)) {
    auto p = events::ParseCommand(line.text, line.line_no);
    ASSERT_TRUE(p.command) << p.error->message;
    commands.push_back(std::move(*p.command));
    if (commands.size() == 4096) append();
  }
  append();
  EXPECT_EQ(refused, (std::map<std::string, int>{{"not_pesos", 3}, {"manual_activation_forbidden", 3}}))
      << refusals;
  EXPECT_GT(flags["late"], 0);
  (*ledger).reset();
  std::filesystem::remove_all(dir);
}

std::string_view CommandOf(std::string_view line) {
  const std::string_view key = "{\"command\":\"";
  if (line.substr(0, key.size()) != key) return {};
  line.remove_prefix(key.size());
  return line.substr(0, line.find('"'));
}

// The department scale against the real exports: every plan within DESIGN §1's 90–420 goals and
// their mean within 200–320 (the twelve real SisPT 2024–2027 plans of ../shared/data/cpi average
// 288 goals); the sample's accumulation mix; sixteen cuts of progress with a few percent missing;
// about 25 commands per goal over the term (national: ~280k goals, ~7M commands).
TEST(GeneratorTest, DepartmentScaleHasTheShapeOfTheRealData) {
  const std::string text = GeneratedTerm("department", 2023, 0);
  std::map<std::string, int> goals_per_entity, by_command, mdm_per_vigencia;
  int acumulativo = 0, goals = 0, lines = 0;
  double gestion_sum = 0;      // of the MDM inputs' gestión (the mean of its four sub-scores)
  std::vector<json> mdm_2020;  // the inputs of vigencia 2020: rows of the published sample
  for (const auto& line : events::SplitLines(text)) {
    ++lines;
    std::string_view command = CommandOf(line.text);
    std::string parsed;  // the campaign lines come from the 2023 file, re-dumped with sorted keys
    if (command.empty()) command = parsed = json::parse(line.text).value("command", "");
    ASSERT_FALSE(command.empty()) << line.text;
    ++by_command[std::string(command)];
    if (command == "define_goal") {
      json j = json::parse(line.text);
      ++goals_per_entity[j["entity"].get<std::string>()];
      ++goals;
      acumulativo += j["accumulation"] == "acumulativo";
    }
    if (command == "record_mdm_inputs") {
      json j = json::parse(line.text);
      ++mdm_per_vigencia[std::to_string(j["vigencia"].get<int>())];
      const json& in = j["inputs"];
      gestion_sum += (in["movilizacion_recursos"].get<double>() + in["ejecucion_recursos"].get<double>() +
                      in["gobierno_abierto_transparencia"].get<double>() +
                      in["ordenamiento_territorial"].get<double>()) /
                     4;
      if (j["vigencia"] == 2020) mdm_2020.push_back(in);
    }
  }
  EXPECT_EQ(by_command["register_entity"], 33 + 1102);
  EXPECT_EQ(goals_per_entity.size(), 117u);
  for (const auto& [entity, n] : goals_per_entity) {
    EXPECT_GE(n, 90) << entity;
    EXPECT_LE(n, 420) << entity;
  }
  const double mean = static_cast<double>(goals) / goals_per_entity.size();
  EXPECT_GT(mean, 200);
  EXPECT_LT(mean, 320);
  const double share = static_cast<double>(acumulativo) / goals;
  EXPECT_GT(share, 0.55);
  EXPECT_LT(share, 0.85);
  EXPECT_EQ(by_command["open_campaign"], 8);  // KPT and GESTIONWEB, four years each
  // Progress: 16 cuts per goal, ~3% of entity-cuts and ~2% of goal reports missing, ~10% corrected.
  const double reports_per_goal_cut = static_cast<double>(by_command["report_progress"]) / (goals * 16.0);
  EXPECT_GT(reports_per_goal_cut, 0.95);
  EXPECT_LT(reports_per_goal_cut, 1.15);
  EXPECT_EQ(by_command["program_goal"], goals * 7 + 3);  // four years, three budget updates, 3 refused
  const double per_goal = static_cast<double>(lines) / goals;
  EXPECT_GT(per_goal, 22);
  EXPECT_LT(per_goal, 32);
  EXPECT_GT(by_command["homologate_goal"], 0);
  EXPECT_GT(by_command["request_adjustment"], 20);
  EXPECT_GT(by_command["answer_adjustment"], 10);
  EXPECT_GT(by_command["notify_noncompliance"], 10);
  EXPECT_GT(by_command["refer_to_control_body"], 0);
  EXPECT_GT(by_command["request_leader"], 117);  // leader changes
  EXPECT_GT(by_command["grant_role"], 118);
  // MDM inputs for every municipality of Cundinamarca (116), vigencias 2019–2022, drawn from the
  // published 2020 results of Antioquia: their gestión within 3 points of the sample's mean.
  EXPECT_EQ(mdm_per_vigencia,
            (std::map<std::string, int>{{"2019", 116}, {"2020", 116}, {"2021", 116}, {"2022", 116}}));
  std::ifstream csv(std::string(VEEDURIA_SOURCE_DIR) + "/../shared/data/mdm/mdm_2020_antioquia.csv");
  const auto sample = ParseCsv(std::string(std::istreambuf_iterator<char>(csv), {}));
  ASSERT_GT(sample.size(), 100u);
  double published = 0;
  for (size_t i = 1; i < sample.size(); ++i) published += std::stod(sample[i].fields.at(8));  // gestion
  published /= static_cast<double>(sample.size() - 1);
  EXPECT_NEAR(gestion_sum / by_command["record_mdm_inputs"], published, 3.0);
  // Vigencia 2020's inputs are rows of the sample, each value in its column.
  const std::vector<std::pair<const char*, int>> columns = {{"movilizacion_recursos", 4},
                                                            {"ejecucion_recursos", 5},
                                                            {"gobierno_abierto_transparencia", 6},
                                                            {"ordenamiento_territorial", 7},
                                                            {"educacion", 9},
                                                            {"salud", 10},
                                                            {"servicios_publicos", 11},
                                                            {"seguridad_convivencia", 12},
                                                            {"ajuste_por_resultados", 14}};
  ASSERT_EQ(mdm_2020.size(), 116u);
  for (const json& in : mdm_2020) {
    const bool in_sample = std::any_of(sample.begin() + 1, sample.end(), [&](const auto& row) {
      return std::all_of(columns.begin(), columns.end(), [&](const std::pair<const char*, int>& c) {
        return std::abs(in[c.first].get<double>() - std::stod(row.fields.at(c.second))) < 1e-6;
      });
    });
    EXPECT_TRUE(in_sample) << in.dump();
  }
}

TEST(CsvTest, QuotesCommasBomCrlfAndLineBreaks) {
  auto rows = ParseCsv(
      "\xEF\xBB\xBF"
      "a,b,c\r\n5,\"BOGOTÁ, D.C.\",\"di\"\"jo\"\r\n\"line\nbreak\",,x\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"5", "BOGOTÁ, D.C.", "di\"jo"}));
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"line\nbreak", "", "x"}));
  EXPECT_EQ(rows[2].line, 3);
}

}  // namespace
}  // namespace veeduria::producers
