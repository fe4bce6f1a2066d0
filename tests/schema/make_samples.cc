// Writes sample event buffers of the current schema version, one per representative event type,
// as <dir>/<Type>.vdev. Run it once when a schema version is released, into
// tests/schema/samples/v<N>/, and commit the files: samples_test.cc then proves every later
// build still reads them (the backward half of schema evolution; `check-conform` is the other).
//
// Not part of ctest. Build and run on demand:
//   make_samples tests/schema/samples/v1
//
// Every value is fixed, so a rerun with the same schema and flatbuffers version reproduces the
// files byte for byte. Never regenerate an existing version's samples: they stand for buffers
// already stored in ledgers.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "veeduria/events/render.h"
#include "veeduria/events/sha256.h"
#include "veeduria/schema/veeduria_generated.h"

namespace {

namespace fbs = veeduria::schema;
using veeduria::events::Hash;

constexpr uint16_t kSchemaVersion = 1;
constexpr int64_t kDay = 86'400'000'000LL;
constexpr int64_t k20230101 = 1'672'531'200'000'000LL;  // 2023-01-01T00:00:00Z

std::unique_ptr<fbs::Sha256> Sha(const Hash& h) {
  return std::make_unique<fbs::Sha256>(flatbuffers::span<const uint8_t, 32>(h));
}

// An envelope with every field set; `n` distinguishes the samples.
std::unique_ptr<fbs::EnvelopeT> Envelope(int n, const std::string& stream, const char* user,
                                         fbs::ActorRole role, const std::string& scope) {
  auto env = std::make_unique<fbs::EnvelopeT>();
  env->schema_version = kSchemaVersion;
  env->event_id = "00000000-0000-4000-8000-00000000000" + std::to_string(n);
  env->command_id = "cmd-" + std::to_string(n);
  env->command_sha256 = Sha(veeduria::events::Sha256("command " + std::to_string(n)));
  env->correlation_id = "corr-" + std::to_string(n);
  env->causation_id = n > 1 ? "cmd-" + std::to_string(n - 1) : "";
  env->stream = stream;
  env->stream_seq = static_cast<uint64_t>(n);
  env->recorded_at = k20230101 + n * kDay + 123'456;
  env->vigencia = 2023;
  env->actor = std::make_unique<fbs::ActorT>();
  env->actor->user = user;
  env->actor->role = role;
  env->actor->scope = scope;
  env->prev_hash = Sha(veeduria::events::GenesisHash(stream));
  return env;
}

std::unique_ptr<fbs::DocumentT> Document(const char* name, const char* content) {
  auto doc = std::make_unique<fbs::DocumentT>();
  doc->name = name;
  doc->sha256 = veeduria::events::ToHex(veeduria::events::Sha256(content));
  return doc;
}

std::vector<fbs::EventT> Samples() {
  std::vector<fbs::EventT> out;

  {
    fbs::EventT e;
    e.envelope = Envelope(1, "directory", "system", fbs::ActorRole::platform, "national");
    fbs::LedgerInitializedT p;
    p.clock = fbs::ClockMode::simulated;
    p.admin = "admin@dnp.gov.co";
    p.role = fbs::Role::dnp;
    p.scope = "national";
    p.partitions = 4;
    e.payload.Set(std::move(p));
    out.push_back(std::move(e));
  }
  {
    fbs::EventT e;
    e.envelope = Envelope(2, "directory", "admin@dnp.gov.co", fbs::ActorRole::dnp, "national");
    fbs::EntityRegisteredT p;
    p.entity = "05001";
    p.name = "Medellín";
    p.kind = fbs::EntityKind::distrito;
    p.department = "05";
    p.previous = std::make_unique<fbs::EntityRegisteredT>();
    p.previous->entity = "05001";
    p.previous->name = "Medellin";
    p.previous->kind = fbs::EntityKind::municipio;
    p.previous->department = "05";
    e.payload.Set(std::move(p));
    out.push_back(std::move(e));
  }
  {
    fbs::EventT e;
    e.envelope = Envelope(3, "05001", "ana@medellin.gov.co", fbs::ActorRole::reporter, "05001");
    e.envelope->flags = {fbs::Flag::not_homologated};
    fbs::GoalDefinedT p;
    p.entity = "05001";
    p.plan = "PDM-2020";
    p.goal = "IP-155";
    p.cpi_indicator = "4003018";
    p.name = "Kilómetros de vías terciarias mejoradas";
    p.unit = "km";
    p.baseline = 0.5;
    p.target = 14.0;
    p.accumulation = fbs::Accumulation::acumulativo;
    p.homologated = false;
    p.previous = std::make_unique<fbs::GoalDefinedT>();
    p.previous->entity = "05001";
    p.previous->plan = "PDM-2020";
    p.previous->goal = "IP-155";
    p.previous->cpi_indicator = "240301800";
    p.previous->name = "Vías terciarias mejoradas";
    p.previous->unit = "km";
    p.previous->baseline = 0.5;
    p.previous->target = 12.0;
    p.previous->accumulation = fbs::Accumulation::no_acumulativo;
    p.previous->homologated = true;
    e.payload.Set(std::move(p));
    out.push_back(std::move(e));
  }
  {
    fbs::EventT e;
    e.envelope = Envelope(4, "05001", "ana@medellin.gov.co", fbs::ActorRole::reporter, "05001");
    fbs::GoalProgrammedT p;
    p.entity = "05001";
    p.plan = "PDM-2020";
    p.goal = "IP-155";
    p.year = 2023;
    p.physical = 3.5;
    for (auto [source, pesos] :
         {std::pair<const char*, int64_t>{"SGP", 1'500'000'000}, {"Propios", 250'000'000}}) {
      auto amount = std::make_unique<fbs::AmountT>();
      amount->source = source;
      amount->pesos = pesos;
      p.resources.push_back(std::move(amount));
    }
    e.payload.Set(std::move(p));
    out.push_back(std::move(e));
  }
  {
    fbs::EventT e;
    e.envelope = Envelope(5, "05001", "ana@medellin.gov.co", fbs::ActorRole::reporter, "05001");
    e.envelope->cut = "Q2";
    e.envelope->flags = {fbs::Flag::late, fbs::Flag::ytd_decreased};
    e.envelope->days_late = 2;
    auto warning = std::make_unique<fbs::WarningT>();
    warning->flag = fbs::Flag::ytd_decreased;
    warning->field = "physical_ytd";
    warning->detail = "1.25 < 1.5 at Q1";
    e.envelope->warnings.push_back(std::move(warning));
    fbs::ProgressReportedT p;
    p.entity = "05001";
    p.plan = "PDM-2020";
    p.goal = "IP-155";
    p.campaign = "KPT-2023";
    p.milestone = "Q2";
    p.year = 2023;
    p.physical_ytd = 1.25;
    auto financial = std::make_unique<fbs::FinancialT>();
    financial->source = "SGP";
    financial->compromisos = 900'000'000;
    financial->obligaciones = 600'000'000;
    financial->pagos = 450'000'000;
    p.financial.push_back(std::move(financial));
    p.evidence.push_back(Document("acta-obra.pdf", "acta"));
    p.note = "Tramo 2 en ejecución";
    p.previous = std::make_unique<fbs::ProgressReportedT>();
    p.previous->entity = "05001";
    p.previous->milestone = "Q2";
    p.previous->year = 2023;
    p.previous->physical_ytd = 1.0;
    e.payload.Set(std::move(p));
    out.push_back(std::move(e));
  }
  {
    fbs::EventT e;
    e.envelope = Envelope(6, "05001", "intruso@example.org", fbs::ActorRole::none, "05001");
    fbs::CommandRejectedT p;
    p.command = "grant_role";
    p.reason = "not_authorized";
    p.field = "scope";
    p.message = "intruso@example.org may not grant roles for 05001";
    p.command_json = R"({"actor":"intruso@example.org","command":"grant_role","command_id":"cmd-6",)"
                     R"("role":"reporter","scope":"05001","user":"x@example.org"})";
    e.payload.Set(std::move(p));
    out.push_back(std::move(e));
  }
  {
    fbs::EventT e;
    e.envelope = Envelope(7, "05001", "system", fbs::ActorRole::platform, "national");
    fbs::CheckpointT p;
    p.tree_size = 6;
    p.root_hash = Sha(veeduria::events::Sha256("root"));
    p.key_id = "veeduria-2023-01";
    for (int i = 0; i < 64; ++i) p.signature.push_back(static_cast<uint8_t>(i * 7 + 1));
    e.payload.Set(std::move(p));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "%s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  for (const fbs::EventT& event : Samples()) {
    flatbuffers::FlatBufferBuilder fbb;
    fbs::FinishEventBuffer(fbb, fbs::Event::Pack(fbb, &event));
    const std::string_view bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
    if (!veeduria::events::VerifyEventBytes(bytes)) {
      std::fprintf(stderr, "sample %s does not verify\n", fbs::EnumNamePayload(event.payload.type));
      return 1;
    }
    const auto path = dir / (veeduria::events::EventTypeName(bytes) + ".vdev");
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    file.close();
    if (!file) {
      std::fprintf(stderr, "%s: write failed\n", path.c_str());
      return 1;
    }
    std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
  }
  return 0;
}
