// The mdm projection: the MDM inputs of each entity and vigencia with their provenance and
// the corrections they went through, and the scores recorded by MdmScoreComputed (MDM.md).
//
// Rows (<vigencia> is 4 digits, so a vigencia's municipalities are a prefix scan of v/<vigencia>/):
//   v/<vigencia>/<entity>          the inputs in force: {entity, vigencia, methodology, group
//                                   ("" when not given), source, inputs: {<name>: value},
//                                   event_id, recorded_at, actor: {user, role}, first_recorded_at,
//                                   corrections: [{event_id, recorded_at, actor, source,
//                                   replaced: {methodology, group, source, inputs, event_id,
//                                   recorded_at, actor}}]}: each correction, oldest first, with
//                                   the values it replaced (from the event's `previous`) and
//                                   where those had come from
//   e/<entity>/<vigencia>          null: the vigencias an entity has inputs for
//   s/<vigencia>/<entity>          the latest recorded score: {entity, vigencia, methodology,
//                                   group, gestion, resultados, ajuste, mdm, national_position,
//                                   group_position, inputs_digest (hex), event_id, recorded_at,
//                                   actor, time_key}
//   sh/<vigencia>/<entity>/<time key>  every recorded score, the same record
// where <time key> = recorded_at (hex) / stream / stream_seq (hex), as in audit.cc.
//
// MdmInputsRecorded is on the entity's stream, so its read-modify-write follows that stream's
// order. Scores are kept apart from inputs and "latest" is the greatest time key, not the last
// applied, so the rows do not depend on which stream MdmScoreComputed arrives on nor on how
// streams interleave.

#include <cstdio>

#include "projections_internal.h"
#include "veeduria/events/sha256.h"

namespace veeduria::projections {
namespace {

namespace s = veeduria::schema;
using nlohmann::json;

std::string Vigencia(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d", v);
  return buf;
}

json InputMap(const flatbuffers::Vector<flatbuffers::Offset<s::NamedValue>>* inputs) {
  json out = json::object();
  if (inputs)
    for (const auto* nv : *inputs) out[Str(nv->name())] = nv->value();
  return out;
}

class Mdm : public Projection {
 public:
  std::string_view name() const override { return "mdm"; }
  int version() const override { return 1; }

  bool Uses(const EventRef& e) const override {
    const s::Payload t = e.event->payload_type();
    return t == s::Payload::MdmInputsRecorded || t == s::Payload::MdmScoreComputed;
  }
  void Apply(const EventRef& e, events::StateStore& rows) const override {
    switch (e.event->payload_type()) {
      case s::Payload::MdmInputsRecorded:
        RecordInputs(e, rows);
        break;
      case s::Payload::MdmScoreComputed:
        RecordScore(e, rows);
        break;
      default:
        break;
    }
  }

 private:
  static void RecordInputs(const EventRef& e, events::StateStore& rows) {
    const auto* p = e.event->payload_as_MdmInputsRecorded();
    const std::string entity = Str(p->entity()), vigencia = Vigencia(p->vigencia());
    const std::string key = "v/" + vigencia + "/" + entity;
    const json before = events::ReadRecord(rows, key);
    json row = {
        {"entity", entity},
        {"vigencia", p->vigencia()},
        {"methodology", Str(p->methodology())},
        {"group", Str(p->group())},
        {"source", Str(p->source())},
        {"inputs", InputMap(p->inputs())},
        {"event_id", Str(e.env->event_id())},
        {"recorded_at", e.env->recorded_at()},
        {"actor", ActorOf(e)},
        {"first_recorded_at", before.is_null() ? json(e.env->recorded_at()) : before["first_recorded_at"]},
        {"corrections", before.is_null() ? json::array() : before["corrections"]}};
    // The event's `previous` is what the decider replaced; the row before it says where
    // those values had come from.
    if (const auto* prev = p->previous()) {
      json replaced = {{"methodology", Str(prev->methodology())},
                       {"group", Str(prev->group())},
                       {"source", Str(prev->source())},
                       {"inputs", InputMap(prev->inputs())},
                       {"event_id", before.is_null() ? json("") : before["event_id"]},
                       {"recorded_at", before.is_null() ? json(nullptr) : before["recorded_at"]},
                       {"actor", before.is_null() ? json(nullptr) : before["actor"]}};
      row["corrections"].push_back({{"event_id", row["event_id"]},
                                    {"recorded_at", row["recorded_at"]},
                                    {"actor", row["actor"]},
                                    {"source", row["source"]},
                                    {"replaced", std::move(replaced)}});
    }
    events::WriteRecord(rows, key, row);
    events::WriteRecord(rows, "e/" + entity + "/" + vigencia, nullptr);
  }

  static void RecordScore(const EventRef& e, events::StateStore& rows) {
    const auto* p = e.event->payload_as_MdmScoreComputed();
    const std::string entity = Str(p->entity()), vigencia = Vigencia(p->vigencia());
    const std::string tk = TimeKey(e);
    const json row = {
        {"entity", entity},
        {"vigencia", p->vigencia()},
        {"methodology", Str(p->methodology())},
        {"group", Str(p->group())},
        {"gestion", p->gestion()},
        {"resultados", p->resultados()},
        {"ajuste", p->ajuste()},
        {"mdm", p->mdm()},
        {"national_position", p->national_position()},
        {"group_position", p->group_position()},
        {"inputs_digest", p->inputs_digest() ? events::ToHex(p->inputs_digest()->b()->data(), 32) : ""},
        {"event_id", Str(e.env->event_id())},
        {"recorded_at", e.env->recorded_at()},
        {"actor", ActorOf(e)},
        {"time_key", tk}};
    events::WriteRecord(rows, "sh/" + vigencia + "/" + entity + "/" + tk, row);
    const std::string key = "s/" + vigencia + "/" + entity;
    const json latest = events::ReadRecord(rows, key);
    if (latest.is_null() || latest["time_key"].get<std::string>() < tk) events::WriteRecord(rows, key, row);
  }
};

}  // namespace

const Projection& MdmProjection() {
  static const Mdm kMdm;
  return kMdm;
}

}  // namespace veeduria::projections
