// evolve(state, event): the decider state as a fold over the events (see decide.h).

#include <algorithm>
#include <cstring>

#include "keys.h"
#include "payload_codec.h"
#include "records.h"
#include "veeduria/events/decide.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::events {
namespace {

namespace s = veeduria::schema;
using nlohmann::json;

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

json User(const StateStore& st, const std::string& user) {
  json u = ReadRecord(st, keys::User(user));
  if (u.is_null()) u = json{{"roles", json::array()}, {"active", true}, {"reset", ""}};
  return u;
}

void RecordOutcome(StateStore& st, const s::Event* ev, const SealedEvent& se) {
  const s::Envelope* env = ev->envelope();
  if (ev->payload_type() == s::Payload::CommandRejected &&
      Str(ev->payload_as_CommandRejected()->reason()) == "command_id_reused")
    return;  // the command_id keeps the outcome of its first command
  const std::string key = keys::CommandOutcome(Str(env->command_id()));
  records::Outcome rec;
  if (auto stored = records::ReadOutcome(st, key)) {
    rec = std::move(*stored);
  } else if (env->command_sha256()) {
    rec.has_fingerprint = true;
    std::memcpy(rec.fingerprint.data(), env->command_sha256()->b()->data(), 32);
  }
  rec.events.push_back(se.event_id);
  if (env->flags()) {
    for (auto f : *env->flags()) {
      const std::string name = s::EnumNameFlag(static_cast<s::Flag>(f));
      if (std::find(rec.flags.begin(), rec.flags.end(), name) == rec.flags.end()) rec.flags.push_back(name);
    }
  }
  rec.days_late = std::max(rec.days_late, env->days_late());
  if (ev->payload_type() == s::Payload::CommandRejected) {
    const auto* r = ev->payload_as_CommandRejected();
    rec.rejected = true;
    rec.reason = Str(r->reason());
    rec.command = Str(r->command());
  } else {
    rec.command = s::EnumNamePayload(ev->payload_type());
  }
  st.Put(key, records::Encode(rec));
}

void Submitted(StateStore& st, const std::string& key, Micros at, bool late) {
  json prev = ReadRecord(st, key);
  const bool was_on_time = !prev.is_null() && !prev.value("late", true);
  WriteRecord(st, key, json{{"at", at}, {"late", late && !was_on_time}});
}

}  // namespace

bool Evolve(StateStore& st, const SealedEvent& se) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(se.bytes.data()), se.bytes.size());
  if (!s::VerifyEventBuffer(verifier)) return false;
  const s::Event* ev = s::GetEvent(se.bytes.data());
  const s::Envelope* env = ev->envelope();
  if (!env) return false;
  const Micros at = env->recorded_at();
  const bool late = env->days_late() > 0;
  st.Put(keys::Stream(Str(env->stream())), records::Encode(records::StreamHead{env->stream_seq(), se.hash}));
  std::optional<records::Meta> meta = records::ReadMeta(st, keys::kMeta);
  if (meta && at > meta->last_at) {
    meta->last_at = at;
    st.Put(keys::kMeta, records::Encode(*meta));
  }
  if (ev->payload_type() == s::Payload::Checkpoint) {  // no command: nothing to deduplicate
    const auto* p = ev->payload_as_Checkpoint();
    WriteRecord(st, keys::kLastCheckpoint,
                json{{"tree_size", p->tree_size()},
                     {"root", p->root_hash() ? ToHex(p->root_hash()->b()->data(), 32) : ""},
                     {"at", at}});
    return true;
  }
  RecordOutcome(st, ev, se);

  switch (ev->payload_type()) {
    case s::Payload::LedgerInitialized: {
      const auto* p = ev->payload_as_LedgerInitialized();
      st.Put(keys::kMeta,
             records::Encode(records::Meta{s::EnumNameClockMode(p->clock()), at, p->partitions()}));
      json u = User(st, Str(p->admin()));
      u["roles"].push_back(json::array({s::EnumNameRole(p->role()), Str(p->scope())}));
      WriteRecord(st, keys::User(Str(p->admin())), u);
      break;
    }
    case s::Payload::EntityRegistered: {
      const auto* p = ev->payload_as_EntityRegistered();
      const std::string key = keys::Entity(Str(p->entity()));
      json e = ReadRecord(st, key);
      if (e.is_null()) e = json{{"leader", ""}, {"plans", json::array()}};
      e["name"] = Str(p->name());
      e["kind"] = s::EnumNameEntityKind(p->kind());
      e["department"] = Str(p->department());
      e["payload"] = PackWithoutPrevious(p);
      WriteRecord(st, key, e);
      break;
    }
    case s::Payload::CatalogLoaded: {
      const auto* p = ev->payload_as_CatalogLoaded();
      WriteRecord(st, keys::CatalogVersion(Str(p->version())),
                  json{{"rows", p->rows() ? p->rows()->size() : 0}});
      if (p->rows())
        for (const auto* row : *p->rows())
          if (!st.Contains(keys::Indicator(Str(row->indicator()))))
            WriteRecord(st, keys::Indicator(Str(row->indicator())), Str(p->version()));
      break;
    }
    case s::Payload::CampaignOpened: {
      const auto* p = ev->payload_as_CampaignOpened();
      records::Campaign c;
      c.campaign = Str(p->campaign());
      c.system = s::EnumNameReportingSystem(p->system());
      c.vigencia = p->vigencia();
      if (p->milestones())
        for (const auto* m : *p->milestones())
          c.milestones.push_back(
              {Str(m->id()), s::EnumNameMilestoneActivity(m->activity()), Str(m->cut()), Str(m->deadline())});
      if (p->variables())
        for (const auto* v : *p->variables())
          c.variables.push_back({Str(v->code()), Str(v->name()), s::EnumNameVariableType(v->type())});
      st.Put(keys::Campaign(c.campaign), records::Encode(c));
      break;
    }
    case s::Payload::DeadlineExtended: {
      const auto* p = ev->payload_as_DeadlineExtended();
      const std::string key = keys::Campaign(Str(p->campaign()));
      std::optional<records::Campaign> c = records::ReadCampaign(st, key);
      if (!c) break;  // decide extends deadlines of open campaigns only
      for (auto& m : c->milestones)
        if (m.id == Str(p->milestone())) m.deadline = Str(p->deadline());
      st.Put(key, records::Encode(*c));
      break;
    }
    case s::Payload::LeaderRequested: {
      const auto* p = ev->payload_as_LeaderRequested();
      WriteRecord(st, keys::LeaderRequest(Str(p->request_id())),
                  json{{"entity", Str(p->entity())},
                       {"email", Str(p->email())},
                       {"name", Str(p->name())},
                       {"status", "pending"}});
      WriteRecord(st, keys::PendingLeader(Str(p->entity()), Str(p->email())), Str(p->request_id()));
      break;
    }
    case s::Payload::LeaderActivated: {
      const auto* p = ev->payload_as_LeaderActivated();
      json req = ReadRecord(st, keys::LeaderRequest(Str(p->request_id())));
      req["status"] = "activated";
      WriteRecord(st, keys::LeaderRequest(Str(p->request_id())), req);
      st.Delete(keys::PendingLeader(Str(p->entity()), Str(p->email())));
      json e = ReadRecord(st, keys::Entity(Str(p->entity())));
      e["leader"] = Str(p->email());
      e["leader_name"] = Str(p->name());
      WriteRecord(st, keys::Entity(Str(p->entity())), e);
      json u = User(st, Str(p->email()));
      u["active"] = true;
      WriteRecord(st, keys::User(Str(p->email())), u);
      break;
    }
    case s::Payload::UserDeactivated: {
      const auto* p = ev->payload_as_UserDeactivated();
      // A deactivated account keeps no role: reactivating it later does not revive them.
      json u = User(st, Str(p->user()));
      u["active"] = false;
      u["roles"] = json::array();
      WriteRecord(st, keys::User(Str(p->user())), u);
      break;
    }
    case s::Payload::PasswordResetRequested: {
      const auto* p = ev->payload_as_PasswordResetRequested();
      json u = User(st, Str(p->user()));
      u["reset"] = Str(env->command_id());
      WriteRecord(st, keys::User(Str(p->user())), u);
      break;
    }
    case s::Payload::PasswordResetCompleted: {
      const auto* p = ev->payload_as_PasswordResetCompleted();
      json u = User(st, Str(p->user()));
      u["reset"] = "";
      WriteRecord(st, keys::User(Str(p->user())), u);
      break;
    }
    case s::Payload::RoleGranted:
    case s::Payload::RoleRevoked: {
      const bool grant = ev->payload_type() == s::Payload::RoleGranted;
      const std::string user =
          grant ? Str(ev->payload_as_RoleGranted()->user()) : Str(ev->payload_as_RoleRevoked()->user());
      const json role = grant ? json::array({s::EnumNameRole(ev->payload_as_RoleGranted()->role()),
                                             Str(ev->payload_as_RoleGranted()->scope())})
                              : json::array({s::EnumNameRole(ev->payload_as_RoleRevoked()->role()),
                                             Str(ev->payload_as_RoleRevoked()->scope())});
      json u = User(st, user);
      auto& roles = u["roles"];
      roles.erase(std::remove(roles.begin(), roles.end(), role), roles.end());
      if (grant) roles.push_back(role);
      WriteRecord(st, keys::User(user), u);
      break;
    }
    case s::Payload::PlanUploaded: {
      const auto* p = ev->payload_as_PlanUploaded();
      const std::string key = keys::Plan(Str(p->entity()), Str(p->plan()));
      json pl = ReadRecord(st, key);
      if (pl.is_null()) {
        pl = json{{"unhomologated", 0}};
        json e = ReadRecord(st, keys::Entity(Str(p->entity())));
        e["plans"].push_back(Str(p->plan()));
        WriteRecord(st, keys::Entity(Str(p->entity())), e);
      }
      pl["start"] = p->period_start();
      pl["end"] = p->period_end();
      pl["payload"] = PackWithoutPrevious(p);
      WriteRecord(st, key, pl);
      break;
    }
    case s::Payload::GoalDefined: {
      const auto* p = ev->payload_as_GoalDefined();
      const std::string key = keys::Goal(Str(p->entity()), Str(p->plan()), Str(p->goal()));
      const std::string plan_key = keys::Plan(Str(p->entity()), Str(p->plan()));
      // A new goal is not yet among the plan's goals not homologated.
      records::Goal g = records::ReadGoal(st, key).value_or(records::Goal{.homologated = true});
      json pl = ReadRecord(st, plan_key);
      int unhomologated = pl.value("unhomologated", 0);
      if (!g.homologated) --unhomologated;
      if (!p->homologated()) ++unhomologated;
      pl["unhomologated"] = unhomologated;
      WriteRecord(st, plan_key, pl);
      g.homologated = p->homologated();
      g.cpi = Str(p->cpi_indicator());
      g.acumulativo = p->accumulation() == s::Accumulation::acumulativo;
      g.target = p->target();
      g.payload = PackWithoutPreviousBytes(p);
      st.Put(key, records::Encode(g));
      break;
    }
    case s::Payload::GoalHomologated: {
      const auto* p = ev->payload_as_GoalHomologated();
      const std::string key = keys::Goal(Str(p->entity()), Str(p->plan()), Str(p->goal()));
      const std::string plan_key = keys::Plan(Str(p->entity()), Str(p->plan()));
      records::Goal g = records::ReadGoal(st, key).value_or(records::Goal{.homologated = true});
      if (!g.homologated) {
        json pl = ReadRecord(st, plan_key);
        pl["unhomologated"] = pl.value("unhomologated", 1) - 1;
        WriteRecord(st, plan_key, pl);
      }
      g.homologated = true;
      g.cpi = Str(p->cpi_indicator());
      st.Put(key, records::Encode(g));
      break;
    }
    case s::Payload::GoalProgrammed: {
      const auto* p = ev->payload_as_GoalProgrammed();
      const std::string key = keys::Goal(Str(p->entity()), Str(p->plan()), Str(p->goal()));
      records::Goal g = records::ReadGoal(st, key).value_or(records::Goal{});
      // The goal keeps every year's physical target (the accumulation check reads them all);
      // the year's record has what a progress report checks, without decoding the goal.
      records::GoalYear year;
      year.physical = p->physical();
      if (p->resources())
        for (const auto* a : *p->resources()) {
          year.sources.push_back(Str(a->source()));
          year.pesos += a->pesos();
        }
      year.payload = PackWithoutPreviousBytes(p);
      records::SetYear(&g, p->year(), p->physical());
      st.Put(keys::GoalYear(Str(p->entity()), Str(p->plan()), Str(p->goal()), p->year()),
             records::Encode(year));
      st.Put(key, records::Encode(g));
      break;
    }
    case s::Payload::ProgressReported: {
      const auto* p = ev->payload_as_ProgressReported();
      st.Put(keys::Progress(Str(p->entity()), Str(p->plan()), Str(p->goal()), Str(p->campaign()),
                            Str(p->milestone())),
             records::Encode(records::Progress{p->physical_ytd(), PackWithoutPreviousBytes(p)}));
      break;
    }
    case s::Payload::ReportSubmitted: {
      const auto* p = ev->payload_as_ReportSubmitted();
      Submitted(st, keys::Submission(Str(p->entity()), Str(p->campaign()), Str(p->milestone())), at, late);
      break;
    }
    case s::Payload::GestionReported: {
      const auto* p = ev->payload_as_GestionReported();
      const std::string key = keys::Gestion(Str(p->entity()), Str(p->campaign()));
      json g = ReadRecord(st, key);
      if (g.is_null()) g = json{{"values", json::object()}};
      if (p->values())
        for (const auto* v : *p->values()) {
          json x;
          switch (v->type()) {
            case s::VariableType::pesos:
              x = v->pesos();
              break;
            case s::VariableType::number:
              x = v->number();
              break;
            case s::VariableType::boolean:
              x = v->boolean();
              break;
            case s::VariableType::text:
              x = Str(v->text());
              break;
          }
          g["values"][Str(v->code())] = x;
        }
      WriteRecord(st, key, g);
      Submitted(st, keys::Submission(Str(p->entity()), Str(p->campaign()), Str(p->milestone())), at, late);
      break;
    }
    case s::Payload::ReportValidated: {
      const auto* p = ev->payload_as_ReportValidated();
      WriteRecord(st, keys::Validation(Str(p->entity()), Str(p->campaign()), Str(p->milestone())),
                  json{{"at", at}});
      break;
    }
    case s::Payload::AdjustmentRequested: {
      const auto* p = ev->payload_as_AdjustmentRequested();
      WriteRecord(st, keys::AdjustmentRequest(Str(p->request_id())),
                  json{{"entity", Str(p->entity())},
                       {"campaign", Str(p->campaign())},
                       {"milestone", Str(p->milestone())},
                       {"due", Str(p->due())},
                       {"open", true},
                       {"vigencia", env->vigencia()}});
      const std::string okey =
          keys::OpenAdjustments(Str(p->entity()), Str(p->campaign()), Str(p->milestone()));
      json open = ReadRecord(st, okey);
      if (open.is_null()) open = json::object();
      open[Str(p->request_id())] = Str(p->due());
      WriteRecord(st, okey, open);
      break;
    }
    case s::Payload::AdjustmentAnswered: {
      const auto* p = ev->payload_as_AdjustmentAnswered();
      json req = ReadRecord(st, keys::AdjustmentRequest(Str(p->request_id())));
      req["open"] = false;
      WriteRecord(st, keys::AdjustmentRequest(Str(p->request_id())), req);
      const std::string okey =
          keys::OpenAdjustments(Str(p->entity()), Str(p->campaign()), Str(p->milestone()));
      json open = ReadRecord(st, okey);
      if (open.is_object()) {
        open.erase(Str(p->request_id()));
        WriteRecord(st, okey, open);
      }
      break;
    }
    case s::Payload::MdmInputsRecorded: {
      const auto* p = ev->payload_as_MdmInputsRecorded();
      WriteRecord(st, keys::Mdm(Str(p->entity()), p->vigencia()), json{{"payload", PackWithoutPrevious(p)}});
      break;
    }
    default:
      break;  // events that change no decider state
  }
  return true;
}

SealedEvent DescribeEvent(std::string_view bytes, const Hash& hash) {
  SealedEvent se;
  se.bytes = std::string(bytes);
  se.hash = hash;
  const s::Event* ev = s::GetEvent(se.bytes.data());
  const s::Envelope* env = ev->envelope();
  se.stream = Str(env->stream());
  se.stream_seq = env->stream_seq();
  se.event_id = Str(env->event_id());
  se.type = s::EnumNamePayload(ev->payload_type());
  return se;
}

LedgerMeta ReadLedgerMeta(const StateStore& state) {
  LedgerMeta m;
  std::optional<records::Meta> meta = records::ReadMeta(state, keys::kMeta);
  if (!meta) return m;
  m.clock = std::move(meta->clock);
  m.last_at = meta->last_at;
  m.partitions = meta->partitions;
  return m;
}

CheckpointInfo ReadLastCheckpoint(const StateStore& state) {
  CheckpointInfo c;
  json rec = ReadRecord(state, keys::kLastCheckpoint);
  if (rec.is_null()) return c;
  c.present = true;
  c.tree_size = rec["tree_size"].get<uint64_t>();
  if (auto h = HashFromHex(rec["root"].get<std::string>())) c.root = *h;
  c.at = rec["at"].get<Micros>();
  return c;
}

}  // namespace veeduria::events
