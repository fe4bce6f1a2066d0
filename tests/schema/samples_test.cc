// Buffers written by released schema versions must stay readable: every sample under
// VEEDURIA_SAMPLES_DIR (written once by make_samples.cc, never regenerated) must verify, name its
// type, render, and read back the values it was written with through today's generated
// accessors. A schema change that moves, retypes or drops a field fails here.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "veeduria/events/render.h"
#include "veeduria/events/sha256.h"
#include "veeduria/schema/veeduria_generated.h"

#ifndef VEEDURIA_SAMPLES_DIR
#error "VEEDURIA_SAMPLES_DIR must name the directory of the sample buffers"
#endif

namespace veeduria::events {
namespace {

namespace fbs = veeduria::schema;
namespace fs = std::filesystem;

constexpr int64_t kDay = 86'400'000'000LL;
constexpr int64_t k20230101 = 1'672'531'200'000'000LL;  // 2023-01-01T00:00:00Z

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Hex(const fbs::Sha256* h) { return h == nullptr ? "" : ToHex(h->b()->data(), h->b()->size()); }

std::string Str(const flatbuffers::String* s) { return s == nullptr ? "<absent>" : s->str(); }

// What make_samples.cc wrote in every envelope, sample `n` of stream `stream`.
void CheckEnvelope(const fbs::Envelope* env, int n, const std::string& stream) {
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->schema_version(), 1);
  EXPECT_EQ(Str(env->event_id()), "00000000-0000-4000-8000-00000000000" + std::to_string(n));
  EXPECT_EQ(Str(env->command_id()), "cmd-" + std::to_string(n));
  EXPECT_EQ(Hex(env->command_sha256()), ToHex(Sha256("command " + std::to_string(n))));
  EXPECT_EQ(Str(env->correlation_id()), "corr-" + std::to_string(n));
  EXPECT_EQ(Str(env->stream()), stream);
  EXPECT_EQ(env->stream_seq(), static_cast<uint64_t>(n));
  EXPECT_EQ(env->recorded_at(), k20230101 + n * kDay + 123'456);
  EXPECT_EQ(env->vigencia(), 2023);
  ASSERT_NE(env->actor(), nullptr);
  EXPECT_EQ(Hex(env->prev_hash()), ToHex(GenesisHash(stream)));
}

void CheckLedgerInitialized(const fbs::Event* e) {
  CheckEnvelope(e->envelope(), 1, "directory");
  EXPECT_EQ(Str(e->envelope()->actor()->user()), "system");
  EXPECT_EQ(e->envelope()->actor()->role(), fbs::ActorRole::platform);
  const auto* p = e->payload_as_LedgerInitialized();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->clock(), fbs::ClockMode::simulated);
  EXPECT_EQ(Str(p->admin()), "admin@dnp.gov.co");
  EXPECT_EQ(p->role(), fbs::Role::dnp);
  EXPECT_EQ(Str(p->scope()), "national");
  EXPECT_EQ(p->partitions(), 4u);
}

void CheckEntityRegistered(const fbs::Event* e) {
  CheckEnvelope(e->envelope(), 2, "directory");
  EXPECT_EQ(e->envelope()->actor()->role(), fbs::ActorRole::dnp);
  const auto* p = e->payload_as_EntityRegistered();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(Str(p->entity()), "05001");
  EXPECT_EQ(Str(p->name()), "Medellín");
  EXPECT_EQ(p->kind(), fbs::EntityKind::distrito);
  EXPECT_EQ(Str(p->department()), "05");
  ASSERT_NE(p->previous(), nullptr);
  EXPECT_EQ(Str(p->previous()->name()), "Medellin");
  EXPECT_EQ(p->previous()->kind(), fbs::EntityKind::municipio);
}

void CheckGoalDefined(const fbs::Event* e) {
  CheckEnvelope(e->envelope(), 3, "05001");
  ASSERT_NE(e->envelope()->flags(), nullptr);
  ASSERT_EQ(e->envelope()->flags()->size(), 1u);
  EXPECT_EQ(e->envelope()->flags()->Get(0), fbs::Flag::not_homologated);
  const auto* p = e->payload_as_GoalDefined();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(Str(p->goal()), "IP-155");
  EXPECT_EQ(Str(p->cpi_indicator()), "4003018");
  EXPECT_EQ(Str(p->name()), "Kilómetros de vías terciarias mejoradas");
  EXPECT_EQ(p->baseline(), 0.5);
  EXPECT_EQ(p->target(), 14.0);
  EXPECT_EQ(p->accumulation(), fbs::Accumulation::acumulativo);
  EXPECT_FALSE(p->homologated());
  ASSERT_NE(p->previous(), nullptr);
  EXPECT_EQ(Str(p->previous()->cpi_indicator()), "240301800");
  EXPECT_EQ(p->previous()->target(), 12.0);
  EXPECT_EQ(p->previous()->accumulation(), fbs::Accumulation::no_acumulativo);
  EXPECT_TRUE(p->previous()->homologated());
  EXPECT_EQ(p->previous()->previous(), nullptr);
}

void CheckGoalProgrammed(const fbs::Event* e) {
  CheckEnvelope(e->envelope(), 4, "05001");
  const auto* p = e->payload_as_GoalProgrammed();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(Str(p->goal()), "IP-155");
  EXPECT_EQ(p->year(), 2023);
  EXPECT_EQ(p->physical(), 3.5);
  ASSERT_NE(p->resources(), nullptr);
  ASSERT_EQ(p->resources()->size(), 2u);
  EXPECT_EQ(Str(p->resources()->Get(0)->source()), "SGP");
  EXPECT_EQ(p->resources()->Get(0)->pesos(), 1'500'000'000);
  EXPECT_EQ(Str(p->resources()->Get(1)->source()), "Propios");
  EXPECT_EQ(p->resources()->Get(1)->pesos(), 250'000'000);
  EXPECT_EQ(p->previous(), nullptr);
}

void CheckProgressReported(const fbs::Event* e) {
  CheckEnvelope(e->envelope(), 5, "05001");
  const fbs::Envelope* env = e->envelope();
  EXPECT_EQ(Str(env->cut()), "Q2");
  EXPECT_EQ(env->days_late(), 2);
  ASSERT_NE(env->flags(), nullptr);
  ASSERT_EQ(env->flags()->size(), 2u);
  EXPECT_EQ(env->flags()->Get(0), fbs::Flag::late);
  EXPECT_EQ(env->flags()->Get(1), fbs::Flag::ytd_decreased);
  ASSERT_NE(env->warnings(), nullptr);
  ASSERT_EQ(env->warnings()->size(), 1u);
  EXPECT_EQ(env->warnings()->Get(0)->flag(), fbs::Flag::ytd_decreased);
  EXPECT_EQ(Str(env->warnings()->Get(0)->field()), "physical_ytd");
  const auto* p = e->payload_as_ProgressReported();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(Str(p->campaign()), "KPT-2023");
  EXPECT_EQ(Str(p->milestone()), "Q2");
  EXPECT_EQ(p->physical_ytd(), 1.25);
  ASSERT_NE(p->financial(), nullptr);
  ASSERT_EQ(p->financial()->size(), 1u);
  const auto* f = p->financial()->Get(0);
  EXPECT_EQ(Str(f->source()), "SGP");
  EXPECT_EQ(f->compromisos(), 900'000'000);
  EXPECT_EQ(f->obligaciones(), 600'000'000);
  EXPECT_EQ(f->pagos(), 450'000'000);
  ASSERT_NE(p->evidence(), nullptr);
  ASSERT_EQ(p->evidence()->size(), 1u);
  EXPECT_EQ(Str(p->evidence()->Get(0)->name()), "acta-obra.pdf");
  EXPECT_EQ(Str(p->evidence()->Get(0)->sha256()), ToHex(Sha256("acta")));
  EXPECT_EQ(Str(p->note()), "Tramo 2 en ejecución");
  ASSERT_NE(p->previous(), nullptr);
  EXPECT_EQ(p->previous()->physical_ytd(), 1.0);
}

void CheckCommandRejected(const fbs::Event* e) {
  CheckEnvelope(e->envelope(), 6, "05001");
  EXPECT_EQ(e->envelope()->actor()->role(), fbs::ActorRole::none);
  const auto* p = e->payload_as_CommandRejected();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(Str(p->command()), "grant_role");
  EXPECT_EQ(Str(p->reason()), "not_authorized");
  EXPECT_EQ(Str(p->field()), "scope");
  const auto command = nlohmann::json::parse(Str(p->command_json()));
  EXPECT_EQ(command["command_id"], "cmd-6");
}

void CheckCheckpoint(const fbs::Event* e) {
  CheckEnvelope(e->envelope(), 7, "05001");
  const auto* p = e->payload_as_Checkpoint();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->tree_size(), 6u);
  EXPECT_EQ(Hex(p->root_hash()), ToHex(Sha256("root")));
  EXPECT_EQ(Str(p->key_id()), "veeduria-2023-01");
  ASSERT_NE(p->signature(), nullptr);
  ASSERT_EQ(p->signature()->size(), 64u);
  for (uint32_t i = 0; i < 64; ++i) {
    EXPECT_EQ(p->signature()->Get(i), static_cast<uint8_t>(i * 7 + 1)) << i;
  }
}

const std::map<std::string, std::function<void(const fbs::Event*)>>& Checks() {
  static const auto* checks = new std::map<std::string, std::function<void(const fbs::Event*)>>{
      {"LedgerInitialized", CheckLedgerInitialized},
      {"EntityRegistered", CheckEntityRegistered},
      {"GoalDefined", CheckGoalDefined},
      {"GoalProgrammed", CheckGoalProgrammed},
      {"ProgressReported", CheckProgressReported},
      {"CommandRejected", CheckCommandRejected},
      {"Checkpoint", CheckCheckpoint},
  };
  return *checks;
}

TEST(SamplesTest, EverySampleReadsBack) {
  const fs::path dir = VEEDURIA_SAMPLES_DIR;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::set<std::string> seen;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string type = entry.path().stem().string();
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(entry.path().extension(), ".vdev");
    const std::string bytes = ReadFile(entry.path());
    ASSERT_TRUE(VerifyEventBytes(bytes));
    EXPECT_EQ(EventTypeName(bytes), type);

    const auto json = nlohmann::json::parse(RenderEventJson(bytes, Sha256(bytes)));
    EXPECT_EQ(json["type"], type);
    EXPECT_EQ(json["envelope"]["schema_version"], 1);

    const auto check = Checks().find(type);
    ASSERT_NE(check, Checks().end()) << "a sample without field checks: add them here";
    check->second(schema::GetEvent(bytes.data()));
    seen.insert(type);
  }
  for (const auto& [type, check] : Checks()) {
    EXPECT_TRUE(seen.count(type)) << "missing sample " << type << ".vdev in " << dir;
  }
}

TEST(SamplesTest, TruncatedSamplesAreRejected) {
  // 8 bytes short of its end, no buffer can lose only its trailing alignment padding (which no
  // object covers, so the Verifier cannot miss it; the stored hash does).
  for (const fs::directory_entry& entry : fs::directory_iterator(VEEDURIA_SAMPLES_DIR)) {
    const std::string bytes = ReadFile(entry.path());
    ASSERT_GT(bytes.size(), 8u);
    for (size_t n : {size_t{0}, size_t{8}, bytes.size() / 2, bytes.size() - 8}) {
      EXPECT_FALSE(VerifyEventBytes(std::string_view(bytes).substr(0, n))) << entry.path() << " cut at " << n;
    }
  }
}

}  // namespace
}  // namespace veeduria::events
