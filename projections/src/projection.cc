#include "veeduria/projections/projection.h"

#include <cstdio>
#include <cstring>

#include "projections_internal.h"
#include "veeduria/events/render.h"

namespace veeduria::projections {

namespace s = veeduria::schema;

const std::vector<const Projection*>& AllProjections() {
  static const std::vector<const Projection*> kAll = {&ProgressProjection(), &AuditProjection(),
                                                      &ReviewsProjection(),  &ComplianceProjection(),
                                                      &UsersProjection(),    &MdmProjection()};
  return kAll;
}

const std::vector<const Projection*>& FoldedAsOf() {
  static const std::vector<const Projection*> kFolded = [] {
    std::vector<const Projection*> v;
    for (const Projection* p : AllProjections())
      if (!p->temporal() && !p->time_indexed()) v.push_back(p);
    return v;
  }();
  return kFolded;
}

const Projection* FindProjection(std::string_view name) {
  for (const Projection* p : AllProjections())
    if (p->name() == name) return p;
  return nullptr;
}

std::string Hex16(uint64_t v) {
  std::string out;
  AppendHex16(out, v);
  return out;
}

namespace {

template <typename T>
void PutLe(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i, v >>= 8) out += static_cast<char>(v & 0xff);
}
template <typename T>
T GetLe(std::string_view in) {
  T v = 0;
  for (size_t i = sizeof(T); i-- > 0;) v = static_cast<T>((v << 8) | static_cast<uint8_t>(in[i]));
  return v;
}

}  // namespace

std::string EncodeIndexEntry(const EventRef& e) {
  std::string out;
  out.reserve(8 + 4 + 8 + 1 + e.position.topic.size() + 32 + e.bytes.size());
  PutLe<uint64_t>(out, e.position.lsn);
  PutLe<uint32_t>(out, e.position.partition);
  PutLe<uint64_t>(out, e.position.offset);
  out += static_cast<char>(e.position.topic.size());
  out += e.position.topic;
  out.append(reinterpret_cast<const char*>(e.hash.data()), e.hash.size());
  out += e.bytes;
  return out;
}

bool DecodeIndexEntry(std::string_view row, IndexEntry* out) {
  if (row.size() < 21) return false;
  out->position.lsn = GetLe<uint64_t>(row);
  out->position.partition = GetLe<uint32_t>(row.substr(8));
  out->position.offset = GetLe<uint64_t>(row.substr(12));
  const size_t topic = static_cast<uint8_t>(row[20]);
  if (row.size() < 21 + topic + 32) return false;
  out->position.topic.assign(row.substr(21, topic));
  std::memcpy(out->hash.data(), row.data() + 21 + topic, 32);
  out->bytes = row.substr(21 + topic + 32);
  return true;
}

bool DecodeIndexEvent(std::string_view row, IndexEntry* out) {
  if (!DecodeIndexEntry(row, out)) return false;
  if (reinterpret_cast<uintptr_t>(out->bytes.data()) % alignof(uint64_t) != 0) {
    out->aligned.reset(new uint64_t[(out->bytes.size() + 7) / 8]);
    std::memcpy(out->aligned.get(), out->bytes.data(), out->bytes.size());
    out->bytes = std::string_view(reinterpret_cast<const char*>(out->aligned.get()), out->bytes.size());
  }
  return events::VerifyEventBytes(out->bytes);
}

namespace {

// The entity or scope a refused directory command named, from its canonical JSON.
std::string RefusedEntity(const s::CommandRejected* r) {
  auto j = nlohmann::json::parse(Str(r->command_json()), nullptr, false);
  if (!j.is_object()) return "*";
  for (const char* f : {"entity", "scope"})
    if (j.contains(f) && j[f].is_string() && events::IsEntityCode(j[f].get<std::string>()))
      return j[f].get<std::string>();
  if (j.contains("user") && j["user"].is_string()) return "@" + j["user"].get<std::string>();
  return "*";
}

}  // namespace

std::vector<std::string> IndexKeysOf(const EventRef& e) {
  const std::string stream = Str(e.env->stream());
  if (stream != events::kDirectoryStream) return {stream};
  switch (e.event->payload_type()) {
    case s::Payload::EntityRegistered:
      return {Str(e.event->payload_as_EntityRegistered()->entity())};
    case s::Payload::LeaderRequested: {
      const auto* p = e.event->payload_as_LeaderRequested();
      return {Str(p->entity()), "@" + Str(p->email())};
    }
    case s::Payload::LeaderActivated: {
      const auto* p = e.event->payload_as_LeaderActivated();
      return {Str(p->entity()), "@" + Str(p->email())};
    }
    case s::Payload::UserDeactivated: {
      const auto* p = e.event->payload_as_UserDeactivated();
      return {Str(p->entity()), "@" + Str(p->user())};
    }
    case s::Payload::RoleGranted: {
      const auto* p = e.event->payload_as_RoleGranted();
      const std::string scope = Str(p->scope());
      return {scope == "national" ? "*" : scope, "@" + Str(p->user())};
    }
    case s::Payload::RoleRevoked: {
      const auto* p = e.event->payload_as_RoleRevoked();
      const std::string scope = Str(p->scope());
      return {scope == "national" ? "*" : scope, "@" + Str(p->user())};
    }
    case s::Payload::PasswordResetRequested:
      return {"@" + Str(e.event->payload_as_PasswordResetRequested()->user())};
    case s::Payload::PasswordResetCompleted:
      return {"@" + Str(e.event->payload_as_PasswordResetCompleted()->user())};
    case s::Payload::CommandRejected:
      return {RefusedEntity(e.event->payload_as_CommandRejected())};
    default:
      return {"*"};  // ledger initialization, catalogue, campaigns, deadlines, checkpoints
  }
}

std::string ObjectOf(const EventRef& e) {
  const s::Event* ev = e.event;
  auto report = [](const flatbuffers::String* c, const flatbuffers::String* m) {
    return "report:" + Str(c) + "/" + Str(m);
  };
  switch (ev->payload_type()) {
    case s::Payload::EntityRegistered:
      return "entity:" + Str(ev->payload_as_EntityRegistered()->entity());
    case s::Payload::CampaignOpened:
      return "campaign:" + Str(ev->payload_as_CampaignOpened()->campaign());
    case s::Payload::DeadlineExtended: {
      const auto* p = ev->payload_as_DeadlineExtended();
      return "campaign:" + Str(p->campaign());
    }
    case s::Payload::CatalogLoaded:
      return "catalog:" + Str(ev->payload_as_CatalogLoaded()->version());
    case s::Payload::LeaderRequested:
      return "user:" + Str(ev->payload_as_LeaderRequested()->email());
    case s::Payload::LeaderActivated:
      return "user:" + Str(ev->payload_as_LeaderActivated()->email());
    case s::Payload::UserDeactivated:
      return "user:" + Str(ev->payload_as_UserDeactivated()->user());
    case s::Payload::PasswordResetRequested:
      return "user:" + Str(ev->payload_as_PasswordResetRequested()->user());
    case s::Payload::PasswordResetCompleted:
      return "user:" + Str(ev->payload_as_PasswordResetCompleted()->user());
    case s::Payload::RoleGranted:
      return "user:" + Str(ev->payload_as_RoleGranted()->user());
    case s::Payload::RoleRevoked:
      return "user:" + Str(ev->payload_as_RoleRevoked()->user());
    case s::Payload::PlanUploaded:
      return "plan:" + Str(ev->payload_as_PlanUploaded()->plan());
    case s::Payload::GoalDefined: {
      const auto* p = ev->payload_as_GoalDefined();
      return Str(p->plan()) + "/" + Str(p->goal());
    }
    case s::Payload::GoalHomologated: {
      const auto* p = ev->payload_as_GoalHomologated();
      return Str(p->plan()) + "/" + Str(p->goal());
    }
    case s::Payload::GoalProgrammed: {
      const auto* p = ev->payload_as_GoalProgrammed();
      return Str(p->plan()) + "/" + Str(p->goal());
    }
    case s::Payload::ProgressReported: {
      const auto* p = ev->payload_as_ProgressReported();
      return Str(p->plan()) + "/" + Str(p->goal());
    }
    case s::Payload::ReportSubmitted: {
      const auto* p = ev->payload_as_ReportSubmitted();
      return report(p->campaign(), p->milestone());
    }
    case s::Payload::GestionReported: {
      const auto* p = ev->payload_as_GestionReported();
      return report(p->campaign(), p->milestone());
    }
    case s::Payload::ReportValidated: {
      const auto* p = ev->payload_as_ReportValidated();
      return report(p->campaign(), p->milestone());
    }
    case s::Payload::AdjustmentRequested: {
      const auto* p = ev->payload_as_AdjustmentRequested();
      return report(p->campaign(), p->milestone());
    }
    case s::Payload::AdjustmentAnswered: {
      const auto* p = ev->payload_as_AdjustmentAnswered();
      return report(p->campaign(), p->milestone());
    }
    case s::Payload::NonComplianceNotified: {
      const auto* p = ev->payload_as_NonComplianceNotified();
      return report(p->campaign(), p->milestone());
    }
    case s::Payload::ReferredToControlBody: {
      const auto* p = ev->payload_as_ReferredToControlBody();
      return report(p->campaign(), p->milestone());
    }
    case s::Payload::MdmInputsRecorded:
      return "mdm:" + std::to_string(ev->payload_as_MdmInputsRecorded()->vigencia());
    case s::Payload::MdmScoreComputed:
      return "mdm:" + std::to_string(ev->payload_as_MdmScoreComputed()->vigencia());
    case s::Payload::CommandRejected:
      return "command:" + Str(ev->payload_as_CommandRejected()->command());
    default:
      return "";
  }
}

}  // namespace veeduria::projections
