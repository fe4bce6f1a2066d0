#include "veeduria/producers/generator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
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
