#include "veeduria/events/command.h"

#include <gtest/gtest.h>

#include <random>

namespace veeduria::events {
namespace {

const char* kRegister =
    R"({"command":"register_entity","command_id":"c1","actor":"a@dnp.gov.co","entity":"25799","name":"TENJO","kind":"municipio","department":"25"})";

TEST(CommandTest, ParsesAWellFormedCommand) {
  ParsedLine p = ParseCommand(kRegister, 7);
  ASSERT_TRUE(p.command) << p.error->message;
  EXPECT_EQ(p.command->name, "register_entity");
  EXPECT_EQ(p.command->command_id, "c1");
  EXPECT_EQ(p.command->line, 7);
  EXPECT_EQ(p.command->Str("entity"), "25799");
  EXPECT_EQ(p.command->correlation_id, "c1");
}

TEST(CommandTest, FingerprintIgnoresKeyOrderAndWhiteSpace) {
  ParsedLine a = ParseCommand(kRegister, 1);
  ParsedLine b = ParseCommand(
      R"({ "department":"25", "kind":"municipio","name":"TENJO","entity":"25799","actor":"a@dnp.gov.co","command_id":"c1","command":"register_entity" })",
      1);
  ASSERT_TRUE(a.command && b.command);
  EXPECT_EQ(a.command->fingerprint, b.command->fingerprint);
  EXPECT_EQ(a.command->canonical, b.command->canonical);
}

struct BadLine {
  const char* text;
  const char* reason;
  const char* field;
};

class InvalidLineTest : public ::testing::TestWithParam<BadLine> {};

TEST_P(InvalidLineTest, NamesTheLineTheFieldAndTheValue) {
  ParsedLine p = ParseCommand(GetParam().text, 12);
  ASSERT_TRUE(p.error) << GetParam().text;
  EXPECT_EQ(p.error->reason, GetParam().reason);
  EXPECT_EQ(p.error->field, GetParam().field);
  EXPECT_NE(p.error->message.find("line 12"), std::string::npos) << p.error->message;
  if (*GetParam().field) {
    EXPECT_NE(p.error->message.find(GetParam().field), std::string::npos) << p.error->message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Lines, InvalidLineTest,
    ::testing::Values(
        BadLine{R"({"command":"register_entity",)", "bad_json", ""}, BadLine{R"([1,2])", "bad_json", ""},
        BadLine{R"({"command_id":"x","actor":"a@b.co"})", "missing_field", "command"},
        BadLine{R"({"command":"delete_everything","command_id":"x","actor":"a@b.co"})", "unknown_command",
                "command"},
        BadLine{
            R"({"command":"submit_report","actor":"a@b.co","entity":"25799","campaign":"K","milestone":"Q1"})",
            "missing_field", "command_id"},
        BadLine{
            R"({"command":"submit_report","command_id":"x","actor":"a@b.co","entity":25799,"campaign":"K","milestone":"Q1"})",
            "bad_field", "entity"},
        BadLine{
            R"({"command":"submit_report","command_id":"x","actor":"a@b.co","entity":"5001","campaign":"K","milestone":"Q1"})",
            "bad_field", "entity"},
        BadLine{
            R"({"command":"submit_report","command_id":"x","actor":"a@b.co","entity":"25799","campaign":"K"})",
            "missing_field", "milestone"},
        BadLine{
            R"({"command":"submit_report","command_id":"x","actor":"a@b.co","entity":"25799","campaign":"K","milestone":"Q1","colour":"red"})",
            "unknown_field", "colour"},
        BadLine{
            R"({"command":"extend_deadline","command_id":"x","actor":"a@b.co","campaign":"K","milestone":"Q1","deadline":"2023-02-30","reason":"r"})",
            "bad_field", "deadline"},
        BadLine{
            R"({"command":"submit_report","command_id":"x","actor":"a@b.co","at":"yesterday","entity":"25799","campaign":"K","milestone":"Q1"})",
            "bad_field", "at"},
        BadLine{
            R"({"command":"open_campaign","command_id":"x","actor":"a@b.co","campaign":"K","system":"kpt","vigencia":2023,"milestones":[{"id":"Q1","activity":"report","deadline":"15/04/2023"}]})",
            "bad_field", "milestones[0].deadline"},
        BadLine{
            R"({"command":"upload_plan","command_id":"x","actor":"a@b.co","entity":"25799","plan":"P","name":"n","period":[2020,2023],"document_sha256":"abc"})",
            "bad_field", "document_sha256"},
        BadLine{
            R"({"command":"define_goal","command_id":"x","actor":"a@b.co","entity":"25799","plan":"P","goal":"IP-1","cpi_indicator":"1","name":"n","unit":"u","target":"doce","accumulation":"acumulativo"})",
            "bad_field", "target"},
        BadLine{
            R"({"command":"define_goal","command_id":"x","actor":"a@b.co","entity":"25799","plan":"P","goal":"IP-1","cpi_indicator":"1","name":"n","unit":"u","target":12,"accumulation":"sometimes"})",
            "bad_field", "accumulation"}));

// Money fields take any JSON value at parse time: whether it is whole pesos is a rule
// (`not_pesos`), decided and recorded, not an `invalid` line.
TEST(CommandTest, MoneyIsNotCheckedByTheParser) {
  ParsedLine p = ParseCommand(
      R"({"command":"program_goal","command_id":"x","actor":"a@b.co","entity":"25799","plan":"P","goal":"IP-1","year":2023,"physical":1,"resources":{"SGP":"1.234.567,89"}})",
      1);
  EXPECT_TRUE(p.command);
}

TEST(SplitLinesTest, HandlesBomCrlfBlankLinesAndATruncatedLastLine) {
  const std::string input = "\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n{\"b\":2}\n{\"c\":";
  auto lines = SplitLines(input);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].line_no, 1);
  EXPECT_EQ(lines[0].text, "{\"a\":1}");
  EXPECT_EQ(lines[1].line_no, 4);
  EXPECT_EQ(lines[1].text, "{\"b\":2}");
  EXPECT_EQ(lines[2].line_no, 5);
  EXPECT_EQ(lines[2].text, "{\"c\":");
}

TEST(CommandTest, EveryCommandOfTheCatalogueIsKnown) {
  for (const char* name : {"register_entity",
                           "load_catalog",
                           "open_campaign",
                           "extend_deadline",
                           "request_leader",
                           "activate_leader",
                           "request_password_reset",
                           "complete_password_reset",
                           "grant_role",
                           "revoke_role",
                           "upload_plan",
                           "define_goal",
                           "homologate_goal",
                           "program_goal",
                           "report_progress",
                           "submit_report",
                           "report_gestion",
                           "validate_report",
                           "request_adjustment",
                           "answer_adjustment",
                           "notify_noncompliance",
                           "refer_to_control_body",
                           "record_mdm_inputs"}) {
    EXPECT_NE(std::find(CommandNames().begin(), CommandNames().end(), name), CommandNames().end()) << name;
  }
}

// ParseJson must be json::parse: the same values of the same types (a non-negative integer is
// unsigned, "-0" a signed integer, a number beyond 64 bits a double), or the same refusal.
std::string Typed(const nlohmann::json& j) {
  if (j.is_discarded()) return "discarded";
  std::string out =
      std::string(j.type_name()) + (j.is_number_unsigned() ? "u" : "") + (j.is_number_float() ? "f" : "");
  if (j.is_structured()) {
    out += "(";
    for (auto it = j.begin(); it != j.end(); ++it)
      out += (j.is_object() ? it.key() + ":" : std::string()) + Typed(*it) + ",";
    out += ")";
  } else {
    out += "=" + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return out;
}

// ... and CanonicalJson must be json::dump(-1, ' ', false, replace), byte for byte: the fingerprint
// of a command, and a retry told from a reused command_id, depend on it.
void ExpectSameAsJsonParse(const std::string& text) {
  const nlohmann::json j = ParseJson(text);
  EXPECT_EQ(Typed(j), Typed(nlohmann::json::parse(text, nullptr, false))) << text;
  if (!j.is_discarded()) {
    EXPECT_EQ(CanonicalJson(j), j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) << text;
  }
}

TEST(ParseJsonTest, ReadsWhatJsonParseReadsAndRefusesWhatItRefuses) {
  for (const char* text : {R"({"a":-0})",
                           R"({"a":[1,-0]})",
                           R"({"a":-0.0})",
                           R"({"a":-0.5})",
                           R"({"a":0})",
                           R"({"a":"2023-01-01"})",
                           R"({"a":"\ud800"})",
                           R"({"a":"\ud800\udc00"})",
                           "{\"a\":\"x\ty\"}",
                           "{\"a\":\"x\x01y\"}",
                           R"({"a":123456789012345678901234567890})",
                           R"({"a":1e400})",
                           R"({"a":1e-400})",
                           R"({"a":"\u0000"})",
                           R"({"a":1,"a":2})",
                           "{\"a\":\"\xff\"}",
                           R"({} x)",
                           R"([1])",
                           "",
                           "   ",
                           R"({"a":1.0})",
                           R"({"a":1E2})",
                           R"({"a":0.1})",
                           R"({"a":18446744073709551615})",
                           R"({"a":18446744073709551616})",
                           R"({"a":-9223372036854775808})",
                           R"({"a":-9223372036854775809})",
                           R"({"a":01})",
                           R"({"a":1.})",
                           R"({"a":.5})",
                           R"({"a":tru})",
                           " {\"a\":1} ",
                           "\t{\"a\":1}",
                           R"({"a":"\/"})",
                           R"({"a":2.5e-3})",
                           R"({"a":[],"b":{},"c":null,"d":true,"e":false})",
                           R"({"\u00e9":1})",
                           "{\"\xc3\xa9\":1}",
                           R"({"a":"\uDFFF"})",
                           R"({"a":"\x"})",
                           R"("just a string")",
                           "17",
                           "-0",
                           R"({"a":{"b":[{"c":[-1,2.5,"x"]}]}})",
                           R"({"z":1,"a":{"y":[true,false,null,-7,1e21,100.0,0.30000000000000004]}})",
                           "{\"a\":\"\x7f\",\"\\\"\":\"\\\\\",\"b\":\"Bogot\xc3\xa1 D.C.\"}",
                           kRegister})
    ExpectSameAsJsonParse(text);
}

TEST(ParseJsonTest, AgreesWithJsonParseOnMutatedCommands) {
  const std::vector<std::string> seeds = {
      kRegister,
      R"({"command":"report_progress","command_id":"p-1","actor":"r@tenjo.gov.co","at":"2023-04-20T10:00:00-05:00","entity":"25799","plan":"PDT-2020","goal":"IP-7","campaign":"KPT-2023","milestone":"Q1","physical":12.5,"financial":{"SGP":{"compromisos":1000000,"obligaciones":0,"pagos":-0}},"evidence":[{"name":"acta.pdf","sha256":"00ff"}]})",
      R"({"command":"open_campaign","command_id":"k","actor":"a@dnp.gov.co","campaign":"KPT-2023","milestones":[{"id":"Q1","deadline":"2023-04-30","cut":1},{"id":"Q2","deadline":"2023-07-31","cut":2}],"vigencia":2023})"};
  const std::string alphabet = "{}[]\",:-+0123456789.eE\\/u tfnrl\t\x01\x7f\xc3\xa9\xff";
  std::mt19937 rng(20261125);
  for (int i = 0; i < 20000; ++i) {
    std::string text = seeds[i % seeds.size()];
    for (int m = 1 + static_cast<int>(rng() % 4); m > 0 && !text.empty(); --m) {
      const size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text.insert(text.begin() + at, c);
          break;
        case 1:
          text.erase(at, 1);
          break;
        default:
          text[at] = c;
      }
    }
    ExpectSameAsJsonParse(text);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace veeduria::events
