#include "veeduria/events/render.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "veeduria/events/sha256.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::events {
namespace {

namespace fbs = veeduria::schema;

// 2023-07-16T15:00:00.123456Z
constexpr int64_t kRecordedAt = 1'689'519'600'123'456;

std::array<uint8_t, 32> Bytes(uint8_t first, uint8_t step) {
  std::array<uint8_t, 32> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(first + step * i);
  return b;
}

std::unique_ptr<fbs::Sha256> Sha(const std::array<uint8_t, 32>& b) {
  return std::make_unique<fbs::Sha256>(flatbuffers::span<const uint8_t, 32>(b));
}

std::string Hex(const std::array<uint8_t, 32>& b) { return ToHex(b.data(), b.size()); }

std::string Pack(const fbs::EventT& event) {
  flatbuffers::FlatBufferBuilder fbb;
  fbs::FinishEventBuffer(fbb, fbs::Event::Pack(fbb, &event));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::unique_ptr<fbs::EnvelopeT> FullEnvelope() {
  auto env = std::make_unique<fbs::EnvelopeT>();
  env->schema_version = 1;
  env->event_id = "e1";
  env->command_id = "c1";
  env->command_sha256 = Sha(Bytes(0xab, 0));
  env->correlation_id = "c1";
  env->stream = "05001";
  env->stream_seq = 3;
  env->recorded_at = kRecordedAt;
  env->vigencia = 2023;
  env->actor = std::make_unique<fbs::ActorT>();
  env->actor->user = "ana@example.org";
  env->actor->role = fbs::ActorRole::reporter;
  env->actor->scope = "05001";
  env->prev_hash = Sha(Bytes(1, 1));
  return env;
}

// The rendering of FullEnvelope().
std::string FullEnvelopeJson() {
  return R"({"schema_version":1,"event_id":"e1","command_id":"c1","command_sha256":")" + Hex(Bytes(0xab, 0)) +
         R"(","correlation_id":"c1","stream":"05001","stream_seq":3,)"
         R"("recorded_at":"2023-07-16T15:00:00.123456Z","vigencia":2023,)"
         R"("actor":{"user":"ana@example.org","role":"reporter","scope":"05001"},"prev_hash":")" +
         Hex(Bytes(1, 1)) + R"(","days_late":0})";
}

// The rendering of an envelope with only schema_version set: scalars always, nothing else.
constexpr char kMinimalEnvelopeJson[] =
    R"({"schema_version":1,"stream_seq":0,"recorded_at":"1970-01-01T00:00:00Z","vigencia":0,)"
    R"("days_late":0})";

const Hash kHash = Bytes(0xf0, 1);

TEST(RenderTest, GoalDefinedWithPrevious) {
  fbs::EventT event;
  event.envelope = FullEnvelope();
  fbs::GoalDefinedT goal;
  goal.entity = "05001";
  goal.plan = "PDM-2020";
  goal.goal = "IP-155";
  goal.cpi_indicator = "123456789";
  goal.name = "Vías \"rurales\" mejoradas";
  goal.unit = "km";
  goal.baseline = 0.1;
  goal.target = 12.0;
  goal.accumulation = fbs::Accumulation::no_acumulativo;
  goal.homologated = true;
  goal.previous = std::make_unique<fbs::GoalDefinedT>();
  goal.previous->entity = "05001";
  goal.previous->goal = "IP-155";
  goal.previous->target = 10.5;
  event.payload.Set(std::move(goal));

  const std::string bytes = Pack(event);
  ASSERT_TRUE(VerifyEventBytes(bytes));
  EXPECT_EQ(EventTypeName(bytes), "GoalDefined");
  EXPECT_EQ(RenderEventJson(bytes, kHash),
            R"({"type":"GoalDefined","hash":")" + ToHex(kHash) + R"(","envelope":)" + FullEnvelopeJson() +
                R"(,"payload":{"entity":"05001","plan":"PDM-2020","goal":"IP-155",)"
                R"("cpi_indicator":"123456789","name":"Vías \"rurales\" mejoradas","unit":"km",)"
                R"("baseline":0.1,"target":12.0,"accumulation":"no_acumulativo",)"
                R"("homologated":true,"previous":{"entity":"05001","goal":"IP-155",)"
                R"("baseline":0.0,"target":10.5,"accumulation":"acumulativo",)"
                R"("homologated":false}}})");
}

TEST(RenderTest, CheckpointSignatureAsHex) {
  fbs::EventT event;
  event.envelope = std::make_unique<fbs::EnvelopeT>();
  event.envelope->schema_version = 1;
  fbs::CheckpointT checkpoint;
  checkpoint.tree_size = 18'446'744'073'709'551'615ULL;  // ulong renders in full
  checkpoint.root_hash = Sha(Bytes(0, 3));
  checkpoint.key_id = "k1";
  checkpoint.signature = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x0a};
  event.payload.Set(std::move(checkpoint));

  const std::string bytes = Pack(event);
  ASSERT_TRUE(VerifyEventBytes(bytes));
  EXPECT_EQ(RenderEventJson(bytes, kHash),
            R"({"type":"Checkpoint","hash":")" + ToHex(kHash) + R"(","envelope":)" + kMinimalEnvelopeJson +
                R"(,"payload":{"tree_size":18446744073709551615,"root_hash":")" + Hex(Bytes(0, 3)) +
                R"(","key_id":"k1","signature":"deadbeef000a"}})");
}

TEST(RenderTest, CommandRejectedEscapesStrings) {
  fbs::EventT event;
  event.envelope = std::make_unique<fbs::EnvelopeT>();
  event.envelope->schema_version = 1;
  fbs::CommandRejectedT rejected;
  rejected.command = "grant_role";
  rejected.reason = "not_authorized";
  rejected.field = "scope";
  rejected.message = "señor\\a\tb\x01/";
  rejected.command_json = R"({"command":"grant_role","note":"a\nb"})";
  event.payload.Set(std::move(rejected));

  const std::string bytes = Pack(event);
  EXPECT_EQ(RenderEventJson(bytes, kHash),
            R"({"type":"CommandRejected","hash":")" + ToHex(kHash) + R"(","envelope":)" +
                kMinimalEnvelopeJson +
                R"(,"payload":{"command":"grant_role","reason":"not_authorized","field":"scope",)"
                R"("message":"señor\\a\tb\u0001/",)"
                R"("command_json":"{\"command\":\"grant_role\",\"note\":\"a\\nb\"}"}})");
}

TEST(RenderTest, FlagsWarningsAndPosition) {
  fbs::EventT event;
  event.envelope = std::make_unique<fbs::EnvelopeT>();
  event.envelope->schema_version = 1;
  event.envelope->recorded_at = -1;  // before the epoch still renders as UTC
  event.envelope->flags = {fbs::Flag::late, fbs::Flag::ytd_decreased};
  event.envelope->days_late = 3;
  auto warning = std::make_unique<fbs::WarningT>();
  warning->flag = fbs::Flag::suspect_scale;
  warning->field = "resources.SGP";
  warning->detail = "1500 pesos";
  event.envelope->warnings.push_back(std::move(warning));
  event.envelope->warnings.push_back(std::make_unique<fbs::WarningT>());  // all defaults
  fbs::ReportSubmittedT submitted;
  submitted.entity = "05001";
  submitted.previous_submitted_at = 1'689'519'600'000'000;
  event.payload.Set(std::move(submitted));

  const std::string bytes = Pack(event);
  const LogPosition position{"events", 3, 17, 42};
  EXPECT_EQ(RenderEventJson(bytes, kHash, &position),
            R"({"position":{"topic":"events","partition":3,"offset":17,"lsn":42},)"
            R"("type":"ReportSubmitted","hash":")" +
                ToHex(kHash) +
                R"(","envelope":{"schema_version":1,"stream_seq":0,)"
                R"("recorded_at":"1969-12-31T23:59:59.999999Z","vigencia":0,)"
                R"("flags":["late","ytd_decreased"],"days_late":3,)"
                R"("warnings":[{"flag":"suspect_scale","field":"resources.SGP",)"
                R"("detail":"1500 pesos"},{"flag":"late"}]},)"
                R"("payload":{"entity":"05001","previous_submitted_at":"2023-07-16T15:00:00Z"}})");
}

TEST(RenderTest, AbsentScalarsRenderDefaults) {
  fbs::EventT event;  // no envelope: omitted
  event.payload.Set(fbs::LedgerInitializedT{});
  const std::string bytes = Pack(event);
  EXPECT_EQ(RenderEventJson(bytes, kHash),
            R"({"type":"LedgerInitialized","hash":")" + ToHex(kHash) +
                R"(","payload":{"clock":"system","role":"none","partitions":0}})");
}

TEST(RenderTest, DoublesRenderShortestRoundTrip) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0.0, "0.0"},
      {12.0, "12.0"},
      {0.1, "0.1"},
      {-0.5, "-0.5"},
      {1e21, "1e+21"},
      {1234567.891, "1234567.891"},
      {1.0 / 3, "0.3333333333333333"},
  };
  for (const auto& [value, expected] : cases) {
    fbs::EventT event;
    fbs::GoalProgrammedT programmed;
    programmed.physical = value;
    event.payload.Set(std::move(programmed));
    EXPECT_EQ(RenderEventJson(Pack(event), kHash), R"({"type":"GoalProgrammed","hash":")" + ToHex(kHash) +
                                                       R"(","payload":{"year":0,"physical":)" + expected +
                                                       "}}")
        << value;
  }
}

TEST(RenderTest, EveryPayloadMemberRendersItsTypeName) {
  const char* const* names = fbs::EnumNamesPayload();
  for (int i = 1; i <= static_cast<int>(fbs::Payload::MAX); ++i) {
    SCOPED_TRACE(names[i]);
    flatbuffers::FlatBufferBuilder fbb;
    const auto member = fbb.EndTable(fbb.StartTable());  // an empty table of any member
    fbs::EventBuilder builder(fbb);
    builder.add_payload_type(static_cast<fbs::Payload>(i));
    builder.add_payload(flatbuffers::Offset<void>(member));
    fbs::FinishEventBuffer(fbb, builder.Finish());
    const std::string bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());

    ASSERT_TRUE(VerifyEventBytes(bytes));
    EXPECT_EQ(EventTypeName(bytes), names[i]);
    const std::string json = RenderEventJson(bytes, kHash);
    EXPECT_EQ(json.rfind(std::string(R"({"type":")") + names[i] + "\",", 0), 0u) << json;
    EXPECT_NE(json.find(R"("payload":{)"), std::string::npos) << json;
    EXPECT_NO_THROW(nlohmann::json::parse(json)) << json;
  }
}

TEST(RenderTest, PayloadWithoutTypeIsOmitted) {
  // The Verifier accepts a payload whose type field is absent (NONE); flatbuffers'
  // minireflect iterator dereferences a null pointer on it. The renderer must not.
  flatbuffers::FlatBufferBuilder fbb;
  const auto member = fbs::CreateCheckpoint(fbb, 5);
  fbs::EventBuilder builder(fbb);
  builder.add_payload(member.Union());
  fbs::FinishEventBuffer(fbb, builder.Finish());
  const std::string bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());

  ASSERT_TRUE(VerifyEventBytes(bytes));
  EXPECT_EQ(EventTypeName(bytes), "");
  EXPECT_EQ(RenderEventJson(bytes, kHash), R"({"type":"","hash":")" + ToHex(kHash) + "\"}");
}

TEST(RenderTest, UnknownMembersAndEnumValuesFromNewerSchemas) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto member = fbb.EndTable(fbb.StartTable());
  fbs::EventBuilder builder(fbb);
  builder.add_payload_type(static_cast<fbs::Payload>(200));
  builder.add_payload(flatbuffers::Offset<void>(member));
  fbs::FinishEventBuffer(fbb, builder.Finish());
  std::string bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  ASSERT_TRUE(VerifyEventBytes(bytes));
  EXPECT_EQ(EventTypeName(bytes), "");
  EXPECT_EQ(RenderEventJson(bytes, kHash), R"({"type":"","hash":")" + ToHex(kHash) + "\"}");

  fbs::EventT event;
  fbs::RoleGrantedT granted;
  granted.role = static_cast<fbs::Role>(77);
  event.payload.Set(std::move(granted));
  EXPECT_EQ(RenderEventJson(Pack(event), kHash),
            R"({"type":"RoleGranted","hash":")" + ToHex(kHash) + R"(","payload":{"role":77}})");
}

TEST(RenderTest, OutputParsesAsJson) {
  fbs::EventT event;
  event.envelope = FullEnvelope();
  event.envelope->flags = {fbs::Flag::late};
  fbs::ProgressReportedT progress;
  progress.entity = "05001";
  progress.physical_ytd = 7.25;
  auto financial = std::make_unique<fbs::FinancialT>();
  financial->source = "SGP";
  financial->compromisos = 1'500'000'000;
  progress.financial.push_back(std::move(financial));
  progress.note = "línea 1\nlínea 2";
  event.payload.Set(std::move(progress));

  const LogPosition position{"events", 0, 1, 2};
  const auto j = nlohmann::json::parse(RenderEventJson(Pack(event), kHash, &position));
  EXPECT_EQ(j["type"], "ProgressReported");
  EXPECT_EQ(j["hash"], ToHex(kHash));
  EXPECT_EQ(j["position"]["lsn"], 2);
  EXPECT_EQ(j["envelope"]["recorded_at"], "2023-07-16T15:00:00.123456Z");
  EXPECT_EQ(j["envelope"]["flags"], nlohmann::json::array({"late"}));
  EXPECT_EQ(j["envelope"]["actor"]["role"], "reporter");
  EXPECT_EQ(j["payload"]["physical_ytd"], 7.25);
  EXPECT_EQ(j["payload"]["financial"][0]["compromisos"], 1'500'000'000);
  EXPECT_EQ(j["payload"]["financial"][0]["pagos"], 0);
  EXPECT_EQ(j["payload"]["note"], "línea 1\nlínea 2");
}

TEST(RenderTest, RenderingIsDeterministic) {
  fbs::EventT event;
  event.envelope = FullEnvelope();
  event.payload.Set(fbs::CommandRejectedT{});
  const std::string bytes = Pack(event);
  EXPECT_EQ(RenderEventJson(bytes, kHash), RenderEventJson(bytes, kHash));
  EXPECT_EQ(RenderEventJson(bytes, kHash), RenderEventJson(Pack(event), kHash));
}

std::string GoodBuffer() {
  fbs::EventT event;
  event.envelope = FullEnvelope();
  fbs::GoalDefinedT goal;
  goal.entity = "05001";
  goal.name = "Vías";
  goal.previous = std::make_unique<fbs::GoalDefinedT>();
  goal.previous->name = "Vias";
  event.payload.Set(std::move(goal));
  return Pack(event);
}

TEST(RenderTest, VerifyAcceptsGoodBuffers) { EXPECT_TRUE(VerifyEventBytes(GoodBuffer())); }

TEST(RenderTest, VerifyRejectsTruncatedBuffers) {
  // A buffer ends with the alignment padding of the first object the builder wrote (< 8 zero
  // bytes that no offset covers): cutting only those still verifies, and only the stored hash
  // can tell. Cutting any byte an object uses must fail.
  const std::string good = GoodBuffer();
  size_t padding = 0;
  while (padding < good.size() && good[good.size() - 1 - padding] == '\0') ++padding;
  for (size_t n = 0; n < good.size(); ++n) {
    const bool verifies = VerifyEventBytes(std::string_view(good).substr(0, n));
    if (good.size() - n > padding) {
      EXPECT_FALSE(verifies) << "prefix " << n;
    } else {
      EXPECT_LT(good.size() - n, 8u) << "prefix " << n;
    }
  }
}

TEST(RenderTest, VerifyRejectsWrongIdentifier) {
  std::string bytes = GoodBuffer();
  bytes[4] = 'X';  // the identifier follows the root offset
  EXPECT_FALSE(VerifyEventBytes(bytes));
  EXPECT_EQ(EventTypeName(bytes), "");
}

TEST(RenderTest, VerifyRejectsRandomBytes) {
  std::mt19937 rng(20230716);
  for (int i = 0; i < 1000; ++i) {
    std::string bytes(rng() % 256, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    // Half of them carry the identifier, so the offsets themselves are what is checked.
    if (i % 2 == 0 && bytes.size() >= 8) bytes.replace(4, 4, "VDEV");
    EXPECT_FALSE(VerifyEventBytes(bytes)) << "case " << i;
  }
}

TEST(RenderTest, MutatedBuffersAreRejectedOrRenderValidJson) {
  // A flipped byte either fails verification or still renders: never a crash (run under ASan).
  const std::string good = GoodBuffer();
  std::mt19937 rng(42);
  for (size_t pos = 0; pos < good.size(); ++pos) {
    std::string bytes = good;
    bytes[pos] = static_cast<char>(bytes[pos] ^ (1 + rng() % 255));
    if (!VerifyEventBytes(bytes)) continue;
    EventTypeName(bytes);
    const std::string json = RenderEventJson(bytes, kHash);
    EXPECT_NO_THROW(nlohmann::json::parse(json)) << "byte " << pos << ": " << json;
  }
}

}  // namespace
}  // namespace veeduria::events
