#include "veeduria/events/decide.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "keys.h"
#include "payload_codec.h"
#include "records.h"
#include "veeduria/events/mdm.h"
#include "veeduria/events/msgpack_reader.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::events {
namespace {

namespace s = veeduria::schema;
using nlohmann::json;

struct Reject {
  std::string reason;
  std::string field;
  std::string message;
};
using Check = std::optional<Reject>;

Reject Refuse(std::string reason, std::string field, std::string message) {
  return Reject{std::move(reason), std::move(field), std::move(message)};
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

struct Draft {
  std::string stream;
  s::PayloadUnion payload;
  int vigencia = 0;
  std::string cut;
  std::vector<s::Flag> flags;
  int days_late = 0;
  std::vector<std::unique_ptr<s::WarningT>> warnings;
};

// Whole, non-negative pesos: a JSON integer. "1.234.567,89", 1.5e9 and 12.5 are not.
std::optional<int64_t> AsPesos(const json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<int64_t>();
  return std::nullopt;
}

// A non-zero amount under this is more likely thousands or millions than pesos.
constexpr int64_t kSuspectPesos = 1000;

std::string EventIdFor(const Hash& fingerprint, size_t index) {
  const std::string n = std::to_string(index);
  Hash h = Sha256Parts(
      {"veeduria event ",
       std::string_view(reinterpret_cast<const char*>(fingerprint.data()), fingerprint.size()), n});
  h[6] = static_cast<uint8_t>((h[6] & 0x0f) | 0x80);  // RFC 9562 version 8 (custom)
  h[8] = static_cast<uint8_t>((h[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string id = ToHex(h.data(), 16);               // 8-4-4-4-12, the dashes put in from the back
  for (size_t at : {20, 16, 12, 8}) id.insert(at, 1, '-');
  return id;
}

s::Sha256 ToStruct(const Hash& h) {
  return s::Sha256(flatbuffers::span<const uint8_t, 32>(h.data(), h.size()));
}

bool IsDirectoryCommand(const std::string& name) {
  static const std::set<std::string> kDirectory = {"init",
                                                   "register_entity",
                                                   "load_catalog",
                                                   "open_campaign",
                                                   "extend_deadline",
                                                   "request_leader",
                                                   "activate_leader",
                                                   "request_password_reset",
                                                   "complete_password_reset",
                                                   "grant_role",
                                                   "revoke_role"};
  return kDirectory.count(name) > 0;
}

s::Role ParseRole(const std::string& r) {
  if (r == "reporter") return s::Role::reporter;
  if (r == "department_reviewer") return s::Role::department_reviewer;
  if (r == "dnp") return s::Role::dnp;
  if (r == "auditor") return s::Role::auditor;
  if (r == "control_body") return s::Role::control_body;
  return s::Role::none;
}

// The fields the decider reads of the JSON records of entities, plans and users (which other
// components also read as JSON), taken from their MessagePack bytes: decoding each into a json
// tree (with the entity's and the plan's payload FlatBuffer, the entity's list of plans) was a
// tenth of an append's CPU.
struct EntityFields {
  std::string leader, department, kind;
};
struct PlanFields {
  int64_t start = 0, end = 0, unhomologated = 0;
};

// Calls fn(name, value) for each field of the record at `key`; false when there is none. A record
// that is not a MessagePack map throws, as json::from_msgpack did.
template <typename Fn>
bool ReadFields(const StateStore& state, const std::string& key, Fn&& fn) {
  return state.Read(key, [&](std::string_view bytes) {
    if (!MsgpackReader(bytes).ForEachField(fn)) throw std::runtime_error("malformed state record " + key);
  });
}

std::string_view AsStr(const MsgpackReader::Value& v) {
  return v.kind == MsgpackReader::Value::kStr ? v.s : std::string_view();
}

std::optional<EntityFields> ReadEntity(const StateStore& state, const std::string& entity) {
  EntityFields e;
  if (!ReadFields(state, keys::Entity(entity), [&](std::string_view k, const MsgpackReader::Value& v) {
        if (k == "leader") e.leader = AsStr(v);
        if (k == "department") e.department = AsStr(v);
        if (k == "kind") e.kind = AsStr(v);
      }))
    return std::nullopt;
  return e;
}

class Decider {
 public:
  Decider(const StateStore& state, const Command& cmd, Micros now) : state_(state), cmd_(cmd), now_(now) {}

  Decision Run();

 private:
  json Rec(const std::string& key) const { return ReadRecord(state_, key); }

  Draft& Emit(std::string stream, s::PayloadUnion payload) {
    drafts_.emplace_back();
    drafts_.back().stream = std::move(stream);
    drafts_.back().payload = std::move(payload);
    return drafts_.back();
  }
  template <typename T>
  Draft& Emit(std::string stream, T&& payload) {
    s::PayloadUnion u;
    u.Set(std::forward<T>(payload));
    return Emit(std::move(stream), std::move(u));
  }
  void Warn(Draft& d, s::Flag flag, std::string field, std::string detail) {
    if (std::find(d.flags.begin(), d.flags.end(), flag) == d.flags.end()) d.flags.push_back(flag);
    auto w = std::make_unique<s::WarningT>();
    w->flag = flag;
    w->field = std::move(field);
    w->detail = std::move(detail);
    d.warnings.push_back(std::move(w));
  }

  Check Dispatch();
  std::vector<SealedEvent> Seal();

  // Authorization: sets role_/scope_ on success.
  bool HasRole(const std::string& user, s::Role role, const std::string& scope) const;
  bool IsActive(const std::string& user) const;
  bool IsLeaderOf(const std::string& entity) const;
  bool IsLeaderOf(const EntityFields* entity_record) const;  // null: not registered
  bool IsDnp() const;
  Check RequireDnp();
  Check RequireEntityWriter(const std::string& entity);
  // The same, with the entity's record already read (REQUIRES: the record of `entity`, null if none).
  Check RequireEntityWriter(const std::string& entity, const EntityFields* entity_record);
  Check RequireReviewer(const std::string& entity, bool dnp_allowed);
  Check NeedEntity(const std::string& entity, EntityFields* out);
  Check NeedMethodology(const std::string& name, const mdm::Methodology** out);
  Check NeedCampaign(const std::string& campaign, records::Campaign* out);
  Check NeedMilestone(const records::Campaign& campaign, const std::string& milestone,
                      records::Milestone* out);
  Check NeedPlan(const std::string& entity, const std::string& plan, PlanFields* out);
  // `out` may be null: only the goal's existence is checked (its record is not decoded).
  Check NeedGoal(const std::string& entity, const std::string& plan, const std::string& goal,
                 records::Goal* out);
  // Timeliness of a report on `milestone`: late flags, or window_closed unless it answers an
  // open adjustment request before its due date (then *answers is set).
  Check Timeliness(const std::string& entity, const std::string& campaign_id,
                   const records::Campaign& campaign, const records::Milestone& milestone, Draft* draft,
                   std::string* answers);
  Check CheckPesos(const json& v, const std::string& field, int64_t* out);

  Check Init();
  Check RegisterEntity();
  Check LoadCatalog();
  Check OpenCampaign();
  Check ExtendDeadline();
  Check RequestLeader();
  Check ActivateLeader();
  Check PasswordReset(bool complete);
  Check Role(bool grant);
  Check UploadPlan();
  Check DefineGoal();
  Check HomologateGoal();
  Check ProgramGoal();
  Check ReportProgress();
  Check SubmitReport();
  Check ReportGestion();
  Check ValidateReport();
  Check RequestAdjustment();
  Check AnswerAdjustment();
  Check NotifyNonCompliance();
  Check ReferToControlBody();
  Check RecordMdmInputs();
  Check PublishMdmScore();

  const StateStore& state_;
  const Command& cmd_;
  Micros now_;
  Micros at_ = 0;  // the recorded time of this command's events
  LedgerMeta meta_;
  std::string stream_;  // where this command's events (or its rejection) go
  s::ActorRole role_ = s::ActorRole::none;
  std::string scope_;
  std::vector<Draft> drafts_;
};

Decision Decider::Run() {
  Decision d;
  // 1. Idempotency: the duplicate check comes before any other.
  std::optional<records::Outcome> seen = records::ReadOutcome(state_, keys::CommandOutcome(cmd_.command_id));
  if (seen) {
    if (seen->has_fingerprint && seen->fingerprint == cmd_.fingerprint) {
      d.outcome = Outcome::kDuplicate;
      d.reason = seen->reason;
      d.message = "command_id " + Quote(cmd_.command_id) + " was already applied (" +
                  (seen->rejected ? "rejected" : "accepted") + "); returning the original outcome";
      d.event_ids = std::move(seen->events);
      d.flags = std::move(seen->flags);
      d.days_late = seen->days_late;
      return d;
    }
  }
  meta_ = ReadLedgerMeta(state_);
  const bool simulated = meta_.clock == "simulated" ||
                         (meta_.clock.empty() && cmd_.name == "init" && cmd_.Str("clock") == "simulated");
  stream_ = IsDirectoryCommand(cmd_.name) ? std::string(kDirectoryStream) : cmd_.Str("entity");
  if (cmd_.name == "answer_adjustment") {
    json req = Rec(keys::AdjustmentRequest(cmd_.Str("request_id")));
    stream_ = req.is_null() ? std::string(kDirectoryStream) : req["entity"].get<std::string>();
  }
  Check rejection;
  if (seen) {
    rejection =
        Refuse("command_id_reused", "command_id",
               "command_id " + Quote(cmd_.command_id) +
                   " was already used by a different command (first applied as " + seen->command + ")");
  }
  if (meta_.clock.empty() && cmd_.name != "init") {
    rejection = Refuse("not_initialized", "", "the ledger has not been initialized (veeduria init)");
    at_ = cmd_.at.value_or(now_);
  } else if (simulated) {  // 2. The clock.
    if (!cmd_.at) {
      d.outcome = Outcome::kInvalid;
      d.reason = "missing_field";
      d.field = "at";
      d.message =
          "line " + std::to_string(cmd_.line) + ": field 'at': is required in a simulated-clock ledger";
      return d;
    }
    at_ = std::max(*cmd_.at, meta_.last_at);
    if (!rejection && *cmd_.at < meta_.last_at) {
      rejection = Refuse("clock_went_back", "at",
                         "field 'at': " + FormatRfc3339(*cmd_.at) +
                             " is earlier than the ledger's last event at " + FormatRfc3339(meta_.last_at));
    }
  } else {
    at_ = std::max(now_, meta_.last_at);
    if (!rejection && cmd_.at) {
      rejection = Refuse("at_not_allowed", "at",
                         "field 'at': a system-clock ledger takes its own time; the command's 'at' (" +
                             cmd_.body["at"].get<std::string>() + ") is refused, not backdated");
    }
  }
  // 3. The command's authorization and rules; first, that its actor is who sent it.
  if (!rejection && !cmd_.authenticated_actor.empty() && cmd_.authenticated_actor != cmd_.actor) {
    rejection = Refuse("not_authorized", "actor",
                       "field 'actor': " + Quote(cmd_.actor) + " is not the authenticated sender " +
                           Quote(cmd_.authenticated_actor) + "; a command's actor is the token's user");
  }
  if (!rejection) rejection = Dispatch();
  if (rejection) {
    drafts_.clear();
    s::CommandRejectedT r;
    r.command = cmd_.name;
    r.reason = rejection->reason;
    r.field = rejection->field;
    r.message = rejection->message;
    r.command_json = cmd_.canonical;
    Emit(stream_, std::move(r));
    d.outcome = Outcome::kRejected;
    d.reason = rejection->reason;
    d.field = rejection->field;
    d.message = rejection->message;
  } else {
    d.outcome = Outcome::kAccepted;
  }
  for (const Draft& dr : drafts_) {
    for (s::Flag f : dr.flags) {
      std::string name = s::EnumNameFlag(f);
      if (std::find(d.flags.begin(), d.flags.end(), name) == d.flags.end()) d.flags.push_back(name);
    }
    d.days_late = std::max(d.days_late, dr.days_late);
  }
  d.events = Seal();
  for (const auto& e : d.events) d.event_ids.push_back(e.event_id);
  if (d.outcome == Outcome::kAccepted && d.message.empty()) {
    d.message = cmd_.name + " accepted";
    if (d.days_late > 0) d.message += ", " + std::to_string(d.days_late) + " day(s) late";
  }
  return d;
}

std::vector<SealedEvent> Decider::Seal() {
  std::vector<SealedEvent> out;
  std::map<std::string, std::pair<uint64_t, Hash>> heads;
  for (size_t i = 0; i < drafts_.size(); ++i) {
    Draft& dr = drafts_[i];
    auto it = heads.find(dr.stream);
    if (it == heads.end()) {
      std::pair<uint64_t, Hash> h;
      if (auto head = records::ReadStreamHead(state_, keys::Stream(dr.stream)))
        h = {head->seq, head->hash};
      else
        h = {0, GenesisHash(dr.stream)};  // a SHA-256: only for a stream's first event
      it = heads.emplace(dr.stream, h).first;
    }
    s::EventT ev;
    ev.envelope = std::make_unique<s::EnvelopeT>();
    s::EnvelopeT& env = *ev.envelope;
    env.schema_version = kSchemaVersion;
    env.event_id = EventIdFor(cmd_.fingerprint, i);
    env.command_id = cmd_.command_id;
    env.command_sha256 = std::make_unique<s::Sha256>(ToStruct(cmd_.fingerprint));
    env.correlation_id = cmd_.correlation_id;
    env.causation_id = cmd_.causation_id;
    env.stream = dr.stream;
    env.stream_seq = it->second.first + 1;
    env.recorded_at = at_;
    env.vigencia = dr.vigencia;
    env.cut = dr.cut;
    env.actor = std::make_unique<s::ActorT>();
    env.actor->user = cmd_.actor;
    env.actor->role = role_;
    env.actor->scope = scope_;
    env.prev_hash = std::make_unique<s::Sha256>(ToStruct(it->second.second));
    env.flags = dr.flags;
    env.days_late = dr.days_late;
    env.warnings = std::move(dr.warnings);
    ev.payload = std::move(dr.payload);
    thread_local flatbuffers::FlatBufferBuilder fbb(512);  // its buffer is kept from event to event
    fbb.Clear();
    s::FinishEventBuffer(fbb, s::Event::Pack(fbb, &ev));
    SealedEvent se;
    se.stream = dr.stream;
    se.stream_seq = env.stream_seq;
    se.event_id = env.event_id;
    se.type = s::EnumNamePayload(ev.payload.type);
    se.bytes.assign(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
    if (fbb.GetSize() > (1u << 20)) fbb.Reset();  // an outsized event's buffer is not kept
    se.hash = Sha256(se.bytes);
    it->second = {se.stream_seq, se.hash};
    out.push_back(std::move(se));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Authorization and references.

bool Decider::HasRole(const std::string& user, s::Role role, const std::string& scope) const {
  // The user's record: {"active": bool, "roles": [[role, scope], ...], "reset": id}.
  bool active = true, held = false;
  const std::string_view want = s::EnumNameRole(role);
  using V = MsgpackReader::Value;
  if (!ReadFields(state_, keys::User(user), [&](std::string_view k, const V& v) {
        if (k == "active" && v.kind == V::kBool) active = v.b;
        if (k != "roles" || v.kind != V::kArray) return;
        MsgpackReader(v.raw).ForEachElement([&](const V& pair) {
          std::string_view parts[2];
          int n = 0;
          if (pair.kind == V::kArray)
            MsgpackReader(pair.raw).ForEachElement([&](const V& part) {
              if (n < 2) parts[n] = AsStr(part);
              ++n;
            });
          held = held || (n == 2 && parts[0] == want && parts[1] == scope);
        });
      }))
    return false;
  return active && held;  // a deactivated user holds no role
}

bool Decider::IsActive(const std::string& user) const {
  bool active = true;
  return ReadFields(state_, keys::User(user),
                    [&](std::string_view k, const MsgpackReader::Value& v) {
                      if (k == "active" && v.kind == MsgpackReader::Value::kBool) active = v.b;
                    }) &&
         active;
}

// The leader of an entity is the person whose request was activated last, while active.
bool Decider::IsLeaderOf(const std::string& entity) const {
  const std::optional<EntityFields> e = ReadEntity(state_, entity);
  return IsLeaderOf(e ? &*e : nullptr);
}

bool Decider::IsLeaderOf(const EntityFields* e) const {
  return e && e->leader == cmd_.actor && IsActive(cmd_.actor);
}

bool Decider::IsDnp() const { return HasRole(cmd_.actor, s::Role::dnp, "national"); }

Check Decider::RequireDnp() {
  if (!IsDnp())
    return Refuse("not_authorized", "actor",
                  Quote(cmd_.actor) + " has no national dnp role; " + cmd_.name + " is reserved to DNP");
  role_ = s::ActorRole::dnp;
  scope_ = "national";
  return std::nullopt;
}

Check Decider::NeedEntity(const std::string& entity, EntityFields* out) {
  std::optional<EntityFields> e = ReadEntity(state_, entity);
  if (!e) return Refuse("unknown_entity", "entity", "entity " + Quote(entity) + " is not registered");
  *out = std::move(*e);
  return std::nullopt;
}

Check Decider::RequireEntityWriter(const std::string& entity) {
  const std::optional<EntityFields> e = ReadEntity(state_, entity);
  return RequireEntityWriter(entity, e ? &*e : nullptr);
}

Check Decider::RequireEntityWriter(const std::string& entity, const EntityFields* entity_record) {
  if (IsLeaderOf(entity_record)) {
    role_ = s::ActorRole::leader;
  } else if (HasRole(cmd_.actor, s::Role::reporter, entity)) {
    role_ = s::ActorRole::reporter;
  } else {
    return Refuse("not_authorized", "actor",
                  Quote(cmd_.actor) + " is neither the leader nor a reporter of entity " + Quote(entity));
  }
  scope_ = entity;
  return std::nullopt;
}

Check Decider::RequireReviewer(const std::string& entity, bool dnp_allowed) {
  const std::optional<EntityFields> e = ReadEntity(state_, entity);
  const std::string dept = e ? e->department : "";
  if (!dept.empty() && e->kind != "departamento" && HasRole(cmd_.actor, s::Role::department_reviewer, dept)) {
    role_ = s::ActorRole::department_reviewer;
    scope_ = dept;
    return std::nullopt;
  }
  if (dnp_allowed && IsDnp()) {
    role_ = s::ActorRole::dnp;
    scope_ = "national";
    return std::nullopt;
  }
  return Refuse("not_authorized", "actor",
                Quote(cmd_.actor) + " is not a reviewer of department " + Quote(dept) + " of entity " +
                    Quote(entity) + (dnp_allowed ? " nor DNP" : ""));
}

Check Decider::NeedMethodology(const std::string& name, const mdm::Methodology** out) {
  *out = mdm::FindMethodology(name);
  if (!*out)
    return Refuse("unknown_methodology", "methodology", "methodology " + Quote(name) + " is not known");
  return std::nullopt;
}

Check Decider::NeedCampaign(const std::string& campaign, records::Campaign* out) {
  std::optional<records::Campaign> c = records::ReadCampaign(state_, keys::Campaign(campaign));
  if (!c) return Refuse("unknown_campaign", "campaign", "campaign " + Quote(campaign) + " is not open");
  *out = std::move(*c);
  return std::nullopt;
}

Check Decider::NeedMilestone(const records::Campaign& campaign, const std::string& milestone,
                             records::Milestone* out) {
  for (const auto& m : campaign.milestones) {
    if (m.id == milestone) {
      *out = m;
      return std::nullopt;
    }
  }
  return Refuse("unknown_milestone", "milestone",
                "milestone " + Quote(milestone) + " is not part of campaign " + Quote(campaign.campaign));
}

Check Decider::NeedPlan(const std::string& entity, const std::string& plan, PlanFields* out) {
  *out = PlanFields{};
  if (!ReadFields(state_, keys::Plan(entity, plan), [&](std::string_view k, const MsgpackReader::Value& v) {
        if (k == "start") out->start = v.as_int(0);
        if (k == "end") out->end = v.as_int(0);
        if (k == "unhomologated") out->unhomologated = v.as_int(0);
      }))
    return Refuse("unknown_plan", "plan",
                  "plan " + Quote(plan) + " of entity " + Quote(entity) + " was not uploaded");
  return std::nullopt;
}

Check Decider::NeedGoal(const std::string& entity, const std::string& plan, const std::string& goal,
                        records::Goal* out) {
  const std::string key = keys::Goal(entity, plan, goal);
  std::optional<records::Goal> g;
  if (out && (g = records::ReadGoal(state_, key))) *out = std::move(*g);
  if (out ? !g : !state_.Contains(key))
    return Refuse(
        "unknown_goal", "goal",
        "goal " + Quote(goal) + " is not defined in plan " + Quote(plan) + " of entity " + Quote(entity));
  return std::nullopt;
}

Check Decider::CheckPesos(const json& v, const std::string& field, int64_t* out) {
  auto p = AsPesos(v);
  if (!p)
    return Refuse("not_pesos", field,
                  "field " + Quote(field) + ": " + v.dump() +
                      " is not an amount in whole pesos (a non-negative JSON integer, no thousands "
                      "separators, decimals or exponents)");
  *out = *p;
  return std::nullopt;
}

Check Decider::Timeliness(const std::string& entity, const std::string& campaign_id,
                          const records::Campaign& campaign, const records::Milestone& milestone,
                          Draft* draft, std::string* answers) {
  const Day today = BogotaDay(at_);
  Day last = 0;
  for (const auto& m : campaign.milestones) last = std::max(last, *ParseDate(m.deadline));
  // An open adjustment request on this report, before its due date, allows the change.
  json open = Rec(keys::OpenAdjustments(entity, campaign_id, milestone.id));
  if (open.is_object()) {
    for (auto it = open.begin(); it != open.end(); ++it) {
      if (today <= *ParseDate(it.value().get<std::string>())) {
        *answers = it.key();
        draft->flags.push_back(s::Flag::answers_request);
        return std::nullopt;
      }
    }
  }
  if (today > last)
    return Refuse("window_closed", "campaign",
                  "campaign " + Quote(campaign_id) + " closed on " + FormatDate(last) + " (Bogotá); " +
                      FormatRfc3339(at_) + " is after it and no open adjustment request is due");
  const int late = DaysLate(at_, *ParseDate(milestone.deadline));
  if (late > 0) {
    draft->flags.push_back(s::Flag::late);
    draft->days_late = late;
  }
  return std::nullopt;
}

Check Decider::Dispatch() {
  const std::string& n = cmd_.name;
  if (n == "init") return Init();
  if (n == "register_entity") return RegisterEntity();
  if (n == "load_catalog") return LoadCatalog();
  if (n == "open_campaign") return OpenCampaign();
  if (n == "extend_deadline") return ExtendDeadline();
  if (n == "request_leader") return RequestLeader();
  if (n == "activate_leader") return ActivateLeader();
  if (n == "request_password_reset") return PasswordReset(false);
  if (n == "complete_password_reset") return PasswordReset(true);
  if (n == "grant_role") return Role(true);
  if (n == "revoke_role") return Role(false);
  if (n == "upload_plan") return UploadPlan();
  if (n == "define_goal") return DefineGoal();
  if (n == "homologate_goal") return HomologateGoal();
  if (n == "program_goal") return ProgramGoal();
  if (n == "report_progress") return ReportProgress();
  if (n == "submit_report") return SubmitReport();
  if (n == "report_gestion") return ReportGestion();
  if (n == "validate_report") return ValidateReport();
  if (n == "request_adjustment") return RequestAdjustment();
  if (n == "answer_adjustment") return AnswerAdjustment();
  if (n == "notify_noncompliance") return NotifyNonCompliance();
  if (n == "refer_to_control_body") return ReferToControlBody();
  if (n == "record_mdm_inputs") return RecordMdmInputs();
  if (n == "publish_mdm_score") return PublishMdmScore();
  return Refuse("unknown_command", "command", "unknown command " + Quote(n));
}

// ---------------------------------------------------------------------------------------
// The directory.

Check Decider::Init() {
  if (!meta_.clock.empty())
    return Refuse("already_initialized", "command", "the ledger was already initialized");
  s::LedgerInitializedT p;
  p.clock = cmd_.Str("clock") == "simulated" ? s::ClockMode::simulated : s::ClockMode::system;
  p.admin = cmd_.Str("admin");
  p.role = s::Role::dnp;
  p.scope = "national";
  p.partitions = static_cast<uint32_t>(cmd_.body.value("partitions", 8));
  if (p.partitions < 1 || p.partitions > 4096)
    return Refuse("bad_partitions", "partitions", "partitions must be between 1 and 4096");
  role_ = s::ActorRole::dnp;
  scope_ = "national";
  Emit(stream_, std::move(p));
  return std::nullopt;
}

Check Decider::RegisterEntity() {
  if (auto r = RequireDnp()) return r;
  const std::string entity = cmd_.Str("entity"), kind = cmd_.Str("kind"), dept = cmd_.Str("department");
  const bool is_dept = kind == "departamento";
  if (is_dept != IsDepartmentCode(entity) || entity.substr(0, 2) != dept)
    return Refuse("bad_entity_code", "entity",
                  "entity " + Quote(entity) + " of kind " + kind + " in department " + Quote(dept) +
                      ": a department has its own 2-digit code, a municipality 5 digits starting with "
                      "its department's");
  if (!is_dept && Rec(keys::Entity(dept)).is_null())
    return Refuse("unknown_entity", "department", "department " + Quote(dept) + " is not registered");
  s::EntityRegisteredT p;
  p.entity = entity;
  p.name = cmd_.Str("name");
  p.kind = is_dept              ? s::EntityKind::departamento
           : kind == "distrito" ? s::EntityKind::distrito
                                : s::EntityKind::municipio;
  p.department = dept;
  json prev = Rec(keys::Entity(entity));
  if (!prev.is_null()) {
    if (prev["name"] == p.name && prev["kind"] == kind)
      return Refuse("no_change", "entity", "entity " + Quote(entity) + " is already registered as given");
    p.previous = UnpackPayload<s::EntityRegisteredT>(prev["payload"]);
  }
  Emit(stream_, std::move(p));
  return std::nullopt;
}

Check Decider::LoadCatalog() {
  if (auto r = RequireDnp()) return r;
  const std::string version = cmd_.Str("version");
  if (!Rec(keys::CatalogVersion(version)).is_null())
    return Refuse("version_exists", "version", "catalogue version " + Quote(version) + " was already loaded");
  s::CatalogLoadedT p;
  p.version = version;
  const json& rows = cmd_.body["rows"];
  if (rows.empty()) return Refuse("empty_catalog", "rows", "a catalogue version needs at least one row");
  std::set<std::string> seen;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string code = rows[i]["indicator"].get<std::string>();
    const std::string field = "rows[" + std::to_string(i) + "].indicator";
    if (!IsCpiIndicator(code))
      return Refuse("bad_cpi_code", field,
                    "field " + Quote(field) + ": " + Quote(code) + " is not a 9-digit CPI indicator code");
    if (!seen.insert(code).second)
      return Refuse("duplicate_row", field,
                    "field " + Quote(field) + ": indicator " + Quote(code) + " appears twice");
    auto row = std::make_unique<s::CatalogRowT>();
    row->indicator = code;
    row->name = rows[i]["name"].get<std::string>();
    row->unit = rows[i].value("unit", "");
    row->principal = rows[i].value("principal", code.substr(7) == "00");
    p.rows.push_back(std::move(row));
  }
  Emit(stream_, std::move(p));
  return std::nullopt;
}

Check Decider::OpenCampaign() {
  if (auto r = RequireDnp()) return r;
  const std::string campaign = cmd_.Str("campaign");
  if (state_.Contains(keys::Campaign(campaign)))
    return Refuse("campaign_exists", "campaign", "campaign " + Quote(campaign) + " is already open");
  s::CampaignOpenedT p;
  p.campaign = campaign;
  p.system = cmd_.Str("system") == "gestionweb" ? s::ReportingSystem::gestionweb : s::ReportingSystem::kpt;
  p.vigencia = cmd_.body["vigencia"].get<int>();
  const json& ms = cmd_.body["milestones"];
  if (ms.empty()) return Refuse("no_milestones", "milestones", "a campaign needs at least one milestone");
  std::set<std::string> ids;
  for (size_t i = 0; i < ms.size(); ++i) {
    auto m = std::make_unique<s::MilestoneT>();
    m->id = ms[i]["id"].get<std::string>();
    if (!ids.insert(m->id).second)
      return Refuse("duplicate_milestone", "milestones[" + std::to_string(i) + "].id",
                    "milestone " + Quote(m->id) + " appears twice");
    const std::string act = ms[i]["activity"].get<std::string>();
    for (auto v : s::EnumValuesMilestoneActivity())
      if (act == s::EnumNameMilestoneActivity(v)) m->activity = v;
    m->cut = ms[i].value("cut", "");
    m->deadline = ms[i]["deadline"].get<std::string>();
    p.milestones.push_back(std::move(m));
  }
  if (cmd_.Has("variables")) {
    std::set<std::string> codes;
    const json& vs = cmd_.body["variables"];
    for (size_t i = 0; i < vs.size(); ++i) {
      auto v = std::make_unique<s::VariableT>();
      v->code = vs[i]["code"].get<std::string>();
      if (!codes.insert(v->code).second)
        return Refuse("duplicate_variable", "variables[" + std::to_string(i) + "].code",
                      "variable " + Quote(v->code) + " appears twice");
      v->name = vs[i]["name"].get<std::string>();
      const std::string type = vs[i]["type"].get<std::string>();
      for (auto t : s::EnumValuesVariableType())
        if (type == s::EnumNameVariableType(t)) v->type = t;
      p.variables.push_back(std::move(v));
    }
  }
  Emit(stream_, std::move(p)).vigencia = cmd_.body["vigencia"].get<int>();
  return std::nullopt;
}

Check Decider::ExtendDeadline() {
  if (auto r = RequireDnp()) return r;
  records::Campaign campaign;
  records::Milestone milestone;
  if (auto r = NeedCampaign(cmd_.Str("campaign"), &campaign)) return r;
  if (auto r = NeedMilestone(campaign, cmd_.Str("milestone"), &milestone)) return r;
  s::DeadlineExtendedT p;
  p.campaign = cmd_.Str("campaign");
  p.milestone = cmd_.Str("milestone");
  p.deadline = cmd_.Str("deadline");
  p.previous_deadline = milestone.deadline;
  p.reason = cmd_.Str("reason");
  if (p.deadline == p.previous_deadline)
    return Refuse("no_change", "deadline",
                  "the deadline of " + Quote(p.milestone) + " is already " + p.deadline);
  Draft& d = Emit(stream_, std::move(p));
  d.vigencia = campaign.vigencia;
  d.cut = cmd_.Str("milestone");
  return std::nullopt;
}

Check Decider::RequestLeader() {
  const std::string entity = cmd_.Str("entity"), email = cmd_.Str("email");
  if (cmd_.actor != email)
    return Refuse("not_requester", "actor",
                  "a leader request is made by the person requesting: actor " + Quote(cmd_.actor) +
                      " is not " + Quote(email));
  EntityFields e;
  if (auto r = NeedEntity(entity, &e)) return r;
  if (!Rec(keys::PendingLeader(entity, email)).is_null())
    return Refuse("duplicate_leader", "email",
                  Quote(email) + " already has a pending leader request for entity " + Quote(entity));
  if (e.leader == email)
    return Refuse("duplicate_leader", "email",
                  Quote(email) + " is already the leader of entity " + Quote(entity));
  if (cmd_.body["supports"].empty())
    return Refuse("missing_supports", "supports", "a leader request needs supporting documents");
  role_ = s::ActorRole::user;
  scope_ = entity;
  s::LeaderRequestedT p;
  p.request_id = cmd_.command_id;
  p.entity = entity;
  p.email = email;
  p.name = cmd_.Str("name");
  for (const auto& doc : cmd_.body["supports"]) {
    auto d = std::make_unique<s::DocumentT>();
    d->name = doc.value("kind", doc.value("name", ""));
    d->sha256 = doc["sha256"].get<std::string>();
    p.supports.push_back(std::move(d));
  }
  Emit(stream_, std::move(p));
  return std::nullopt;
}

Check Decider::ActivateLeader() {
  if (cmd_.actor != "system")
    return Refuse("manual_activation_forbidden", "actor",
                  "users are activated only by the platform (circular 0009-4, item 8); " + Quote(cmd_.actor) +
                      " may not activate a leader");
  const std::string id = cmd_.Str("request_id");
  json req = Rec(keys::LeaderRequest(id));
  if (req.is_null()) return Refuse("unknown_request", "request_id", "no leader request " + Quote(id));
  if (req["status"] != "pending")
    return Refuse("request_closed", "request_id", "leader request " + Quote(id) + " was already activated");
  role_ = s::ActorRole::platform;
  scope_ = req["entity"].get<std::string>();
  const std::optional<EntityFields> e = ReadEntity(state_, scope_);
  const std::string previous = e ? e->leader : "";
  s::LeaderActivatedT p;
  p.request_id = id;
  p.entity = scope_;
  p.email = req["email"].get<std::string>();
  p.name = req["name"].get<std::string>();
  p.previous_leader = previous;
  const std::string email = p.email;
  Emit(stream_, std::move(p));
  if (!previous.empty() && previous != email) {
    s::UserDeactivatedT u;
    u.user = previous;
    u.entity = scope_;
    u.replaced_by = email;
    Emit(stream_, std::move(u));
  }
  return std::nullopt;
}

Check Decider::PasswordReset(bool complete) {
  const std::string user = cmd_.Str("user");
  if (cmd_.actor != user)
    return Refuse("manual_activation_forbidden", "actor",
                  "passwords are reset only by the user through the platform (circular 0009-4, item 8); " +
                      Quote(cmd_.actor) + " may not reset the password of " + Quote(user));
  json u = Rec(keys::User(user));
  if (u.is_null()) return Refuse("unknown_user", "user", "no user " + Quote(user));
  role_ = s::ActorRole::user;
  scope_ = "";
  if (!complete) {
    s::PasswordResetRequestedT p;
    p.user = user;
    Emit(stream_, std::move(p));
    return std::nullopt;
  }
  const std::string pending = u.value("reset", "");
  if (pending.empty())
    return Refuse("unknown_request", "user", "no password reset was requested by " + Quote(user));
  s::PasswordResetCompletedT p;
  p.user = user;
  p.request_id = pending;
  Emit(stream_, std::move(p));
  return std::nullopt;
}

Check Decider::Role(bool grant) {
  const std::string user = cmd_.Str("user"), role_name = cmd_.Str("role"), scope = cmd_.Str("scope");
  const s::Role role = ParseRole(role_name);
  const bool national_role =
      role == s::Role::dnp || role == s::Role::auditor || role == s::Role::control_body;
  const bool consistent = national_role                          ? scope == "national"
                          : role == s::Role::department_reviewer ? IsDepartmentCode(scope)
                                                                 : IsEntityCode(scope);
  if (!consistent)
    return Refuse("invalid_scope", "scope",
                  "role " + role_name + " cannot have scope " + Quote(scope) +
                      " (reporter: an entity; department_reviewer: a department; dnp, auditor, "
                      "control_body: national)");
  if (national_role) {
    if (auto r = RequireDnp()) return r;
  } else {
    if (!state_.Contains(keys::Entity(scope)))
      return Refuse("unknown_entity", "scope", "entity " + Quote(scope) + " is not registered");
    if (!IsLeaderOf(scope))
      return Refuse("not_authorized", "actor",
                    Quote(cmd_.actor) + " is not the leader of " + Quote(scope) +
                        "; only its leader grants " + role_name);
    role_ = s::ActorRole::leader;
    scope_ = scope;
  }
  if (HasRole(user, role, scope) == grant)
    return Refuse(
        "no_change", "role",
        Quote(user) + (grant ? " already has " : " does not have ") + role_name + " on " + Quote(scope));
  if (grant) {
    s::RoleGrantedT p;
    p.user = user;
    p.role = role;
    p.scope = scope;
    Emit(stream_, std::move(p));
  } else {
    s::RoleRevokedT p;
    p.user = user;
    p.role = role;
    p.scope = scope;
    Emit(stream_, std::move(p));
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Plans and progress (entity streams).

Check Decider::UploadPlan() {
  EntityFields e;
  const std::string entity = cmd_.Str("entity");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireEntityWriter(entity, &e)) return r;
  s::PlanUploadedT p;
  p.entity = entity;
  p.plan = cmd_.Str("plan");
  p.name = cmd_.Str("name");
  p.period_start = cmd_.body["period"][0].get<int>();
  p.period_end = cmd_.body["period"][1].get<int>();
  p.document_sha256 = cmd_.Str("document_sha256");
  json prev = Rec(keys::Plan(entity, p.plan));
  if (!prev.is_null()) {
    p.previous = UnpackPayload<s::PlanUploadedT>(prev["payload"]);
    if (p.previous->period_start != p.period_start || p.previous->period_end != p.period_end)
      return Refuse("period_changed", "period",
                    "plan " + Quote(p.plan) + " keeps its period; upload a new plan id");
    if (p.previous->document_sha256 == p.document_sha256 && p.previous->name == p.name)
      return Refuse("no_change", "document_sha256",
                    "plan " + Quote(p.plan) + " was already uploaded with this document");
  }
  Emit(entity, std::move(p));
  return std::nullopt;
}

Check Decider::DefineGoal() {
  EntityFields e;
  PlanFields plan;
  const std::string entity = cmd_.Str("entity"), plan_id = cmd_.Str("plan"), goal = cmd_.Str("goal");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireEntityWriter(entity, &e)) return r;
  if (auto r = NeedPlan(entity, plan_id, &plan)) return r;
  s::GoalDefinedT p;
  p.entity = entity;
  p.plan = plan_id;
  p.goal = goal;
  p.cpi_indicator = cmd_.Str("cpi_indicator");
  p.name = cmd_.Str("name");
  p.unit = cmd_.Str("unit");
  p.baseline = cmd_.body.value("baseline", 0.0);
  p.target = cmd_.body["target"].get<double>();
  p.accumulation = cmd_.Str("accumulation") == "acumulativo" ? s::Accumulation::acumulativo
                                                             : s::Accumulation::no_acumulativo;
  p.homologated = IsCpiIndicator(p.cpi_indicator) && !Rec(keys::Indicator(p.cpi_indicator)).is_null();
  if (auto prev = records::ReadGoal(state_, keys::Goal(entity, plan_id, goal)))
    p.previous = UnpackPayloadBytes<s::GoalDefinedT>(prev->payload);
  const bool homologated = p.homologated;
  const std::string code = p.cpi_indicator;
  Draft& d = Emit(entity, std::move(p));
  if (!homologated)
    Warn(d, s::Flag::not_homologated, "cpi_indicator",
         Quote(code) + " is not a 9-digit indicator of a loaded CPI catalogue; progress reports on plan " +
             Quote(plan_id) + " are refused until homologate_goal fixes it");
  return std::nullopt;
}

Check Decider::HomologateGoal() {
  EntityFields e;
  records::Goal goal;
  const std::string entity = cmd_.Str("entity"), plan = cmd_.Str("plan"), goal_id = cmd_.Str("goal");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireEntityWriter(entity, &e)) return r;
  if (auto r = NeedGoal(entity, plan, goal_id, &goal)) return r;
  const std::string code = cmd_.Str("cpi_indicator");
  if (!IsCpiIndicator(code) || Rec(keys::Indicator(code)).is_null())
    return Refuse(
        "not_homologated", "cpi_indicator",
        "field 'cpi_indicator': " + Quote(code) + " is not a 9-digit indicator of a loaded CPI catalogue");
  if (goal.homologated && goal.cpi == code)
    return Refuse("no_change", "cpi_indicator",
                  "goal " + Quote(goal_id) + " is already homologated to " + Quote(code));
  s::GoalHomologatedT p;
  p.entity = entity;
  p.plan = plan;
  p.goal = goal_id;
  p.cpi_indicator = code;
  p.previous_cpi_indicator = goal.cpi;
  Emit(entity, std::move(p));
  return std::nullopt;
}

Check Decider::ProgramGoal() {
  EntityFields e;
  PlanFields plan;
  records::Goal goal;
  const std::string entity = cmd_.Str("entity"), plan_id = cmd_.Str("plan"), goal_id = cmd_.Str("goal");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireEntityWriter(entity, &e)) return r;
  if (auto r = NeedPlan(entity, plan_id, &plan)) return r;
  if (auto r = NeedGoal(entity, plan_id, goal_id, &goal)) return r;
  const int year = cmd_.body["year"].get<int>();
  const int start = static_cast<int>(plan.start), end = static_cast<int>(plan.end);
  if (year < start || year > end)
    return Refuse("year_outside_period", "year",
                  "year " + std::to_string(year) + " is outside the plan's period " + std::to_string(start) +
                      "–" + std::to_string(end));
  s::GoalProgrammedT p;
  p.entity = entity;
  p.plan = plan_id;
  p.goal = goal_id;
  p.year = year;
  p.physical = cmd_.body["physical"].get<double>();
  std::vector<std::pair<std::string, std::string>> suspects;
  if (cmd_.Has("resources")) {
    for (auto it = cmd_.body["resources"].begin(); it != cmd_.body["resources"].end(); ++it) {
      int64_t pesos = 0;
      if (auto r = CheckPesos(it.value(), "resources." + it.key(), &pesos)) return r;
      auto a = std::make_unique<s::AmountT>();
      a->source = it.key();
      a->pesos = pesos;
      if (pesos > 0 && pesos < kSuspectPesos)
        suspects.emplace_back("resources." + it.key(), std::to_string(pesos));
      p.resources.push_back(std::move(a));
    }
  }
  if (auto prev = records::ReadGoalYear(state_, keys::GoalYear(entity, plan_id, goal_id, year)))
    p.previous = UnpackPayloadBytes<s::GoalProgrammedT>(prev->payload);
  // Accumulation consistency, once every year of the period is programmed.
  records::SetYear(&goal, year, p.physical);
  const std::vector<std::pair<int32_t, double>>& years = goal.years;
  std::string mismatch;
  if (static_cast<int>(years.size()) == end - start + 1) {
    double sum = 0, max = 0;
    for (const auto& [_, physical] : years) {
      sum += physical;
      max = std::max(max, physical);
    }
    const double target = goal.target;
    const bool acum = goal.acumulativo;
    const double got = acum ? sum : max;
    if (std::fabs(got - target) > 1e-9 * std::max(1.0, std::fabs(target))) {
      json g;
      g = got;
      json t;
      t = target;
      mismatch = acum ? "acumulativo: yearly targets sum to " + g.dump() + ", four-year target is " + t.dump()
                      : "no_acumulativo: the highest yearly target is " + g.dump() +
                            ", the level to hold is " + t.dump();
    }
  }
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = year;
  if (!mismatch.empty()) Warn(d, s::Flag::accumulation_mismatch, "physical", mismatch);
  for (auto& [field, v] : suspects)
    Warn(d, s::Flag::suspect_scale, field, v + " pesos is suspiciously small (thousands or millions?)");
  return std::nullopt;
}

Check Decider::ReportProgress() {
  EntityFields e;
  PlanFields plan;
  records::Campaign campaign;
  records::Milestone milestone;
  const std::string entity = cmd_.Str("entity"), plan_id = cmd_.Str("plan"), goal_id = cmd_.Str("goal");
  const std::string campaign_id = cmd_.Str("campaign"), ms = cmd_.Str("milestone");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireEntityWriter(entity, &e)) return r;
  if (auto r = NeedPlan(entity, plan_id, &plan)) return r;
  if (auto r = NeedGoal(entity, plan_id, goal_id, nullptr)) return r;  // its programming is read below
  if (auto r = NeedCampaign(campaign_id, &campaign)) return r;
  if (campaign.system != "kpt")
    return Refuse("wrong_system", "campaign", "campaign " + Quote(campaign_id) + " is not a KPT campaign");
  if (auto r = NeedMilestone(campaign, ms, &milestone)) return r;
  if (plan.unhomologated > 0)
    return Refuse("not_homologated", "plan",
                  "plan " + Quote(plan_id) + " has " + std::to_string(plan.unhomologated) +
                      " goal(s) not homologated to the CPI catalogue; progress reports are refused until "
                      "homologate_goal fixes them");
  s::ProgressReportedT p;
  p.entity = entity;
  p.plan = plan_id;
  p.goal = goal_id;
  p.campaign = campaign_id;
  p.milestone = ms;
  p.year = campaign.vigencia;
  p.physical_ytd = cmd_.body["physical_ytd"].get<double>();
  p.note = cmd_.body.value("note", "");
  std::vector<std::pair<std::string, std::string>> suspects, foreign;
  int64_t obligaciones = 0;
  const std::string ykey = std::to_string(p.year);
  const std::optional<records::GoalYear> programmed =
      records::ReadGoalYear(state_, keys::GoalYear(entity, plan_id, goal_id, p.year));
  if (cmd_.Has("financial")) {
    for (auto it = cmd_.body["financial"].begin(); it != cmd_.body["financial"].end(); ++it) {
      auto f = std::make_unique<s::FinancialT>();
      f->source = it.key();
      for (const char* part : {"compromisos", "obligaciones", "pagos"}) {
        int64_t v = 0;
        const std::string field = "financial." + it.key() + "." + part;
        if (it.value().contains(part)) {
          if (auto r = CheckPesos(it.value()[part], field, &v)) return r;
        }
        if (v > 0 && v < kSuspectPesos) suspects.emplace_back(field, std::to_string(v));
        if (std::strcmp(part, "compromisos") == 0) f->compromisos = v;
        if (std::strcmp(part, "obligaciones") == 0) f->obligaciones = v;
        if (std::strcmp(part, "pagos") == 0) f->pagos = v;
      }
      obligaciones += f->obligaciones;
      bool known = false;
      if (programmed)
        for (const auto& src : programmed->sources) known = known || src == it.key();
      if (!known) foreign.emplace_back("financial." + it.key(), it.key());
      p.financial.push_back(std::move(f));
    }
  }
  if (cmd_.Has("evidence")) {
    for (const auto& doc : cmd_.body["evidence"]) {
      auto d = std::make_unique<s::DocumentT>();
      d->name = doc.value("name", doc.value("kind", ""));
      d->sha256 = doc["sha256"].get<std::string>();
      p.evidence.push_back(std::move(d));
    }
  }
  if (auto prev = records::ReadProgress(state_, keys::Progress(entity, plan_id, goal_id, campaign_id, ms)))
    p.previous = UnpackPayloadBytes<s::ProgressReportedT>(prev->payload);
  // ytd_decreased: lower than at an earlier cut of the same year (same campaign).
  std::string decreased;
  for (const auto& m : campaign.milestones) {
    if (m.id == ms) break;
    const auto earlier =
        records::ReadProgress(state_, keys::Progress(entity, plan_id, goal_id, campaign_id, m.id));
    if (earlier && earlier->physical_ytd > p.physical_ytd) {
      json v;
      v = earlier->physical_ytd;
      decreased = "year-to-date value is lower than " + v.dump() + " reported at " + m.id;
    }
  }
  std::string over;
  if (programmed && programmed->physical > 0 && p.physical_ytd > programmed->physical) {
    json a, b;
    a = p.physical_ytd;
    b = programmed->physical;
    over = a.dump() + " is above the " + b.dump() + " programmed for " + ykey;
  }
  std::string over_fin;
  if (programmed && programmed->pesos > 0 && obligaciones > programmed->pesos) {
    over_fin = std::to_string(obligaciones) + " pesos of obligaciones are above the " +
               std::to_string(programmed->pesos) + " programmed for " + ykey;
  }
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = campaign.vigencia;
  d.cut = ms;
  std::string answers;
  if (auto r = Timeliness(entity, campaign_id, campaign, milestone, &d, &answers)) return r;
  d.payload.AsProgressReported()->answers_request = answers;
  if (!over.empty()) Warn(d, s::Flag::over_100, "physical_ytd", over);
  if (!over_fin.empty()) Warn(d, s::Flag::over_100, "financial", over_fin);
  if (!decreased.empty()) Warn(d, s::Flag::ytd_decreased, "physical_ytd", decreased);
  for (auto& [field, src] : foreign)
    Warn(d, s::Flag::sources_mismatch, field, "source " + Quote(src) + " was not programmed for " + ykey);
  for (auto& [field, v] : suspects)
    Warn(d, s::Flag::suspect_scale, field, v + " pesos is suspiciously small (thousands or millions?)");
  return std::nullopt;
}

Check Decider::SubmitReport() {
  EntityFields e;
  records::Campaign campaign;
  records::Milestone milestone;
  const std::string entity = cmd_.Str("entity"), campaign_id = cmd_.Str("campaign"),
                    ms = cmd_.Str("milestone");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireEntityWriter(entity, &e)) return r;
  if (auto r = NeedCampaign(campaign_id, &campaign)) return r;
  if (auto r = NeedMilestone(campaign, ms, &milestone)) return r;
  s::ReportSubmittedT p;
  p.entity = entity;
  p.campaign = campaign_id;
  p.milestone = ms;
  p.deadline = milestone.deadline;
  json prev = Rec(keys::Submission(entity, campaign_id, ms));
  if (!prev.is_null()) p.previous_submitted_at = prev["at"].get<Micros>();
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = campaign.vigencia;
  d.cut = ms;
  std::string answers;
  if (auto r = Timeliness(entity, campaign_id, campaign, milestone, &d, &answers)) return r;
  d.payload.AsReportSubmitted()->answers_request = answers;
  return std::nullopt;
}

Check Decider::ReportGestion() {
  EntityFields e;
  records::Campaign campaign;
  const std::string entity = cmd_.Str("entity"), campaign_id = cmd_.Str("campaign");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireEntityWriter(entity, &e)) return r;
  if (auto r = NeedCampaign(campaign_id, &campaign)) return r;
  if (campaign.system != "gestionweb")
    return Refuse("wrong_system", "campaign",
                  "campaign " + Quote(campaign_id) + " is not a GESTIONWEB campaign");
  const records::Milestone* report = nullptr;
  for (const auto& m : campaign.milestones)
    if (m.activity == "report" && !report) report = &m;
  if (!report)
    return Refuse("unknown_milestone", "campaign",
                  "campaign " + Quote(campaign_id) + " has no report milestone");
  std::map<std::string, std::string> types;
  for (const auto& v : campaign.variables) types[v.code] = v.type;
  json previous = Rec(keys::Gestion(entity, campaign_id));
  s::GestionReportedT p;
  p.entity = entity;
  p.campaign = campaign_id;
  p.milestone = report->id;
  std::vector<std::pair<std::string, std::string>> suspects;
  for (auto it = cmd_.body["variables"].begin(); it != cmd_.body["variables"].end(); ++it) {
    const std::string field = "variables." + it.key();
    auto t = types.find(it.key());
    if (t == types.end())
      return Refuse("unknown_variable", field,
                    "variable " + Quote(it.key()) + " is not in campaign " + Quote(campaign_id));
    auto v = std::make_unique<s::VariableValueT>();
    v->code = it.key();
    const json& x = it.value();
    if (t->second == "pesos") {
      v->type = s::VariableType::pesos;
      if (auto r = CheckPesos(x, field, &v->pesos)) return r;
      if (v->pesos > 0 && v->pesos < kSuspectPesos) suspects.emplace_back(field, std::to_string(v->pesos));
    } else if (t->second == "number") {
      v->type = s::VariableType::number;
      if (!x.is_number())
        return Refuse("wrong_type", field, "field " + Quote(field) + ": expected a number, got " + x.dump());
      v->number = x.get<double>();
    } else if (t->second == "boolean") {
      v->type = s::VariableType::boolean;
      if (!x.is_boolean())
        return Refuse("wrong_type", field,
                      "field " + Quote(field) + ": expected true or false, got " + x.dump());
      v->boolean = x.get<bool>();
    } else {
      v->type = s::VariableType::text;
      if (!x.is_string())
        return Refuse("wrong_type", field, "field " + Quote(field) + ": expected text, got " + x.dump());
      v->text = x.get<std::string>();
    }
    if (previous.is_object() && previous["values"].contains(it.key())) {
      auto pv = std::make_unique<s::VariableValueT>(*v);
      const json& old = previous["values"][it.key()];
      pv->number = 0;
      pv->pesos = 0;
      pv->boolean = false;
      pv->text.clear();
      if (pv->type == s::VariableType::pesos) pv->pesos = old.get<int64_t>();
      if (pv->type == s::VariableType::number) pv->number = old.get<double>();
      if (pv->type == s::VariableType::boolean) pv->boolean = old.get<bool>();
      if (pv->type == s::VariableType::text) pv->text = old.get<std::string>();
      p.previous_values.push_back(std::move(pv));
    }
    p.values.push_back(std::move(v));
  }
  if (cmd_.Has("evidence")) {
    for (const auto& doc : cmd_.body["evidence"]) {
      auto d = std::make_unique<s::DocumentT>();
      d->name = doc.value("name", doc.value("kind", ""));
      d->sha256 = doc["sha256"].get<std::string>();
      p.evidence.push_back(std::move(d));
    }
  }
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = campaign.vigencia;
  d.cut = report->id;
  std::string answers;
  if (auto r = Timeliness(entity, campaign_id, campaign, *report, &d, &answers)) return r;
  d.payload.AsGestionReported()->answers_request = answers;
  for (auto& [field, v] : suspects)
    Warn(d, s::Flag::suspect_scale, field, v + " pesos is suspiciously small (thousands or millions?)");
  return std::nullopt;
}

Check Decider::ValidateReport() {
  EntityFields e;
  records::Campaign campaign;
  records::Milestone milestone;
  const std::string entity = cmd_.Str("entity"), campaign_id = cmd_.Str("campaign"),
                    ms = cmd_.Str("milestone");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireReviewer(entity, true)) return r;
  if (auto r = NeedCampaign(campaign_id, &campaign)) return r;
  if (auto r = NeedMilestone(campaign, ms, &milestone)) return r;
  const bool reported =
      !Rec(keys::Submission(entity, campaign_id, ms)).is_null() ||
      (campaign.system == "gestionweb" && !Rec(keys::Gestion(entity, campaign_id)).is_null());
  if (!reported)
    return Refuse("not_submitted", "milestone",
                  "entity " + Quote(entity) + " has not submitted " + Quote(campaign_id) + " " + Quote(ms));
  json open = Rec(keys::OpenAdjustments(entity, campaign_id, ms));
  if (open.is_object() && !open.empty())
    return Refuse(
        "open_adjustment", "milestone",
        "adjustment request " + Quote(open.begin().key()) + " is still open; it must be answered first");
  s::ReportValidatedT p;
  p.entity = entity;
  p.campaign = campaign_id;
  p.milestone = ms;
  p.note = cmd_.body.value("note", "");
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = campaign.vigencia;
  d.cut = ms;
  return std::nullopt;
}

Check Decider::RequestAdjustment() {
  EntityFields e;
  records::Campaign campaign;
  records::Milestone milestone;
  const std::string entity = cmd_.Str("entity"), campaign_id = cmd_.Str("campaign"),
                    ms = cmd_.Str("milestone");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireReviewer(entity, true)) return r;
  if (auto r = NeedCampaign(campaign_id, &campaign)) return r;
  if (auto r = NeedMilestone(campaign, ms, &milestone)) return r;
  if (BogotaDay(at_) > *ParseDate(cmd_.Str("due")))
    return Refuse("due_in_past", "due", "field 'due': " + cmd_.Str("due") + " is already past");
  s::AdjustmentRequestedT p;
  p.request_id = cmd_.command_id;
  p.entity = entity;
  p.campaign = campaign_id;
  p.milestone = ms;
  p.kind =
      cmd_.Str("kind") == "clarification" ? s::AdjustmentKind::clarification : s::AdjustmentKind::adjustment;
  p.due = cmd_.Str("due");
  p.department = e.department;
  const json& items = cmd_.body["items"];
  if (items.empty()) return Refuse("no_items", "items", "an adjustment request names at least one item");
  std::set<std::string> variables;
  for (const auto& v : campaign.variables) variables.insert(v.code);
  for (size_t i = 0; i < items.size(); ++i) {
    auto it = std::make_unique<s::AdjustmentItemT>();
    it->goal = items[i].value("goal", "");
    it->variable = items[i].value("variable", "");
    it->observation = items[i]["observation"].get<std::string>();
    const std::string field = "items[" + std::to_string(i) + "]";
    if (it->goal.empty() == it->variable.empty())
      return Refuse("bad_item", field,
                    "field " + Quote(field) + ": an item names either a goal or a variable");
    if (!it->goal.empty()) {
      bool found = false;
      // The goal may be in any plan of the entity; the plans are few, so look each up.
      json plans = Rec(keys::Entity(entity))["plans"];
      if (plans.is_array())
        for (const auto& pl : plans)
          found = found || state_.Contains(keys::Goal(entity, pl.get<std::string>(), it->goal));
      if (!found)
        return Refuse("unknown_goal", field + ".goal",
                      "goal " + Quote(it->goal) + " is not defined for entity " + Quote(entity));
    }
    if (!it->variable.empty() && !variables.count(it->variable))
      return Refuse("unknown_variable", field + ".variable",
                    "variable " + Quote(it->variable) + " is not in campaign " + Quote(campaign_id));
    p.items.push_back(std::move(it));
  }
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = campaign.vigencia;
  d.cut = ms;
  if (role_ == s::ActorRole::dnp) d.flags.push_back(s::Flag::through_department);
  return std::nullopt;
}

Check Decider::AnswerAdjustment() {
  const std::string id = cmd_.Str("request_id");
  json req = Rec(keys::AdjustmentRequest(id));
  if (req.is_null()) return Refuse("unknown_request", "request_id", "no adjustment request " + Quote(id));
  const std::string entity = req["entity"].get<std::string>();
  if (auto r = RequireEntityWriter(entity)) return r;
  if (!req.value("open", false))
    return Refuse("request_closed", "request_id",
                  "adjustment request " + Quote(id) + " was already answered");
  s::AdjustmentAnsweredT p;
  p.request_id = id;
  p.entity = entity;
  p.campaign = req["campaign"].get<std::string>();
  p.milestone = req["milestone"].get<std::string>();
  p.note = cmd_.Str("note");
  p.due = req["due"].get<std::string>();
  if (cmd_.Has("evidence")) {
    for (const auto& doc : cmd_.body["evidence"]) {
      auto d = std::make_unique<s::DocumentT>();
      d->name = doc.value("name", doc.value("kind", ""));
      d->sha256 = doc["sha256"].get<std::string>();
      p.evidence.push_back(std::move(d));
    }
  }
  const int late = DaysLate(at_, *ParseDate(p.due));
  const std::string cut = p.milestone;
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = req.value("vigencia", 0);
  d.cut = cut;
  if (late > 0) {
    d.flags.push_back(s::Flag::late);
    d.days_late = late;
  }
  return std::nullopt;
}

Check Decider::NotifyNonCompliance() {
  EntityFields e;
  records::Campaign campaign;
  records::Milestone milestone;
  const std::string entity = cmd_.Str("entity"), campaign_id = cmd_.Str("campaign"),
                    ms = cmd_.Str("milestone");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireReviewer(entity, false)) return r;
  if (auto r = NeedCampaign(campaign_id, &campaign)) return r;
  if (auto r = NeedMilestone(campaign, ms, &milestone)) return r;
  const Day today = BogotaDay(at_);
  const std::string reason = cmd_.Str("reason");
  if (reason == "not_reported") {
    if (today <= *ParseDate(milestone.deadline))
      return Refuse("not_due", "milestone",
                    "the deadline of " + Quote(ms) + " (" + milestone.deadline + ") has not passed");
    json sub = Rec(keys::Submission(entity, campaign_id, ms));
    if (!sub.is_null() && !sub.value("late", false))
      return Refuse("reported", "reason", "entity " + Quote(entity) + " reported " + Quote(ms) + " on time");
  } else {
    json open = Rec(keys::OpenAdjustments(entity, campaign_id, ms));
    bool overdue = false;
    if (open.is_object())
      for (auto it = open.begin(); it != open.end(); ++it)
        overdue = overdue || today > *ParseDate(it.value().get<std::string>());
    if (!overdue)
      return Refuse(
          "not_due", "reason",
          "entity " + Quote(entity) + " has no adjustment request on " + Quote(ms) + " past its due date");
  }
  s::NonComplianceNotifiedT p;
  p.entity = entity;
  p.campaign = campaign_id;
  p.milestone = ms;
  p.reason = reason == "not_reported" ? s::NonComplianceReason::not_reported
                                      : s::NonComplianceReason::adjustments_not_made;
  p.channel = cmd_.Str("channel") == "email" ? s::Channel::email : s::Channel::certified_mail;
  p.message_sha256 = cmd_.Str("message_sha256");
  p.department = e.department;
  p.copy_to = "DNP";
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = campaign.vigencia;
  d.cut = ms;
  return std::nullopt;
}

Check Decider::ReferToControlBody() {
  EntityFields e;
  records::Campaign campaign;
  records::Milestone milestone;
  const std::string entity = cmd_.Str("entity"), campaign_id = cmd_.Str("campaign"),
                    ms = cmd_.Str("milestone");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireDnp()) return r;
  if (auto r = NeedCampaign(campaign_id, &campaign)) return r;
  if (auto r = NeedMilestone(campaign, ms, &milestone)) return r;
  s::ReferredToControlBodyT p;
  p.entity = entity;
  p.campaign = campaign_id;
  p.milestone = ms;
  p.control_body = cmd_.Str("control_body");
  p.case_id = cmd_.Str("case");
  p.reason = cmd_.Str("reason");
  Draft& d = Emit(entity, std::move(p));
  d.vigencia = campaign.vigencia;
  d.cut = ms;
  return std::nullopt;
}

Check Decider::RecordMdmInputs() {
  EntityFields e;
  const std::string entity = cmd_.Str("entity");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireDnp()) return r;
  const std::string methodology = cmd_.Str("methodology");
  // The inputs, their ranges and the groups are the methodology module's (one definition).
  const mdm::Methodology* m = nullptr;
  if (auto r = NeedMethodology(methodology, &m)) return r;
  const std::string group = cmd_.Str("group");
  if (cmd_.Has("group") && !mdm::IsGroup(group))  // optional: the published tables do not carry it
    return Refuse("bad_mdm_input", "group", "group " + Quote(group) + " is not one of C, G1…G5");
  const json& inputs = cmd_.body["inputs"];
  s::MdmInputsRecordedT p;
  for (const auto& spec : m->inputs) {
    const std::string& name = spec.name;
    if (!inputs.contains(name))
      return Refuse("bad_mdm_input", "inputs." + name,
                    "input " + Quote(name) + " is required by " + methodology);
    const double v = inputs[name].get<double>();
    if (!mdm::InRange(spec, v)) {
      json shown;
      shown = v;
      return Refuse("bad_mdm_input", "inputs." + name,
                    "input " + Quote(name) + " = " + shown.dump() + " is out of range");
    }
    auto nv = std::make_unique<s::NamedValueT>();
    nv->name = name;
    nv->value = v;
    p.inputs.push_back(std::move(nv));
  }
  for (auto it = inputs.begin(); it != inputs.end(); ++it)
    if (std::none_of(m->inputs.begin(), m->inputs.end(),
                     [&](const mdm::InputSpec& spec) { return spec.name == it.key(); }))
      return Refuse("bad_mdm_input", "inputs." + it.key(),
                    "input " + Quote(it.key()) + " is not part of " + methodology);
  p.entity = entity;
  p.vigencia = cmd_.body["vigencia"].get<int>();
  p.methodology = methodology;
  p.group = group;
  p.source = cmd_.Str("source");
  json prev = Rec(keys::Mdm(entity, p.vigencia));
  if (!prev.is_null()) p.previous = UnpackPayload<s::MdmInputsRecordedT>(prev["payload"]);
  const int vig = p.vigencia;
  Emit(entity, std::move(p)).vigencia = vig;
  return std::nullopt;
}

// The recorded inputs of an entity and vigencia, as the methodology module takes them.
std::optional<mdm::Inputs> RecordedMdmInputs(const json& rec) {
  if (rec.is_null()) return std::nullopt;
  auto p = UnpackPayload<s::MdmInputsRecordedT>(rec["payload"]);
  mdm::Inputs in{p->entity, p->vigencia, p->methodology, p->group, {}};
  for (const auto& nv : p->inputs) in.values[nv->name] = nv->value;
  return in;
}

// publish_mdm_score: a computed score is recorded only for the inputs the ledger holds — the
// digest must be that of the recorded inputs and the levels what the methodology computes from
// them. Positions depend on every other municipality, so they are recorded as computed (the
// recompute that produced them is `veeduria mdm`, replayable as of the event's time).
Check Decider::PublishMdmScore() {
  EntityFields e;
  const std::string entity = cmd_.Str("entity");
  if (auto r = NeedEntity(entity, &e)) return r;
  if (auto r = RequireDnp()) return r;
  const std::string methodology = cmd_.Str("methodology");
  // The inputs, their ranges and the groups are the methodology module's (one definition).
  const mdm::Methodology* m = nullptr;
  if (auto r = NeedMethodology(methodology, &m)) return r;
  const int vigencia = cmd_.body["vigencia"].get<int>();
  auto in = RecordedMdmInputs(Rec(keys::Mdm(entity, vigencia)));
  if (!in)
    return Refuse(
        "no_mdm_inputs", "vigencia",
        "no MDM inputs are recorded for " + Quote(entity) + " vigencia " + std::to_string(vigencia));
  std::optional<double> r_prev;
  if (m->needs_previous_resultados) {
    auto prev = RecordedMdmInputs(Rec(keys::Mdm(entity, vigencia - 1)));
    if (!prev)
      return Refuse("no_mdm_inputs", "vigencia",
                    methodology + " needs the inputs of " + std::to_string(vigencia - 1) + ", not recorded");
    const mdm::Methodology* pm = mdm::FindMethodology(prev->methodology);
    if (pm) {
      double sum = 0;
      for (const auto& n : pm->resultados_parts) sum += prev->values[n];
      r_prev = sum / static_cast<double>(pm->resultados_parts.size());
    }
  }
  std::string digest_hex = cmd_.Str("inputs_digest");
  std::transform(digest_hex.begin(), digest_hex.end(), digest_hex.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // The digest covers the methodology too: publishing under another version than the recorded
  // one is a mismatch.
  mdm::Inputs as_published = *in;
  as_published.methodology = methodology;
  const Hash digest = mdm::InputsDigest(*m, as_published, r_prev);
  if (in->methodology != methodology || ToHex(digest) != digest_hex)
    return Refuse("digest_mismatch", "inputs_digest",
                  "inputs_digest " + Quote(digest_hex) + " is not the digest of the inputs recorded for " +
                      Quote(entity) + " vigencia " + std::to_string(vigencia) + " (" + in->methodology +
                      ": " + ToHex(mdm::InputsDigest(*m, *in, r_prev)) + ")");
  auto score = mdm::Compute(*m, *in, r_prev);
  if (!score.ok()) return Refuse("no_mdm_inputs", "vigencia", score.status().message());
  for (auto [field, value] :
       {std::pair{"gestion", score->gestion}, std::pair{"resultados", score->resultados},
        std::pair{"ajuste", score->ajuste}, std::pair{"mdm", score->mdm}}) {
    const double given = cmd_.body[field].get<double>();
    if (std::fabs(given - value) > 1e-9 * std::max(1.0, std::fabs(value))) {
      json shown = given, expected = value;
      return Refuse("score_mismatch", field,
                    std::string(field) + " " + shown.dump() + " is not what " + methodology +
                        " computes from the recorded inputs (" + expected.dump() + ")");
    }
  }
  const int national = cmd_.body["national_position"].get<int>();
  const int group_position = cmd_.Has("group_position") ? cmd_.body["group_position"].get<int>() : 0;
  if (national < 1) return Refuse("score_mismatch", "national_position", "a position is 1 or more");
  if (group_position < 0 || (group_position > 0) != !in->group.empty())
    return Refuse("score_mismatch", "group_position",
                  "a group position is given exactly when the group is recorded (" +
                      (in->group.empty() ? std::string("none") : in->group) + ")");
  s::MdmScoreComputedT p;
  p.entity = entity;
  p.vigencia = vigencia;
  p.methodology = methodology;
  p.group = in->group;
  p.gestion = score->gestion;
  p.resultados = score->resultados;
  p.ajuste = score->ajuste;
  p.mdm = score->mdm;
  p.national_position = national;
  p.group_position = group_position;
  p.inputs_digest = std::make_unique<s::Sha256>(ToStruct(digest));
  Emit(entity, std::move(p)).vigencia = vigencia;
  return std::nullopt;
}

}  // namespace

bool WritesDirectoryStream(std::string_view command_name) {
  return IsDirectoryCommand(std::string(command_name));
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccepted:
      return "accepted";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kDuplicate:
      return "duplicate";
    case Outcome::kInvalid:
      return "invalid";
  }
  return "?";
}

Decision Decide(const StateStore& state, const Command& command, Micros now) {
  return Decider(state, command, now).Run();
}

const std::vector<std::string>& ReasonCodes() {
  static const std::vector<std::string> kCodes = {
      "not_authorized", "manual_activation_forbidden", "not_pesos", "not_homologated", "unknown_entity",
      "unknown_plan", "unknown_goal", "unknown_campaign", "unknown_milestone", "unknown_request",
      "window_closed", "duplicate_leader", "not_requester", "clock_went_back", "at_not_allowed",
      "command_id_reused",
      // Rules DESIGN leaves to the implementation (documented in events/README.md).
      "not_initialized", "already_initialized", "bad_partitions", "bad_entity_code", "no_change",
      "version_exists", "empty_catalog", "bad_cpi_code", "duplicate_row", "campaign_exists", "no_milestones",
      "duplicate_milestone", "duplicate_variable", "missing_supports", "request_closed", "unknown_user",
      "invalid_scope", "period_changed", "year_outside_period", "wrong_system", "unknown_variable",
      "wrong_type", "not_submitted", "open_adjustment", "due_in_past", "no_items", "bad_item", "not_due",
      "reported", "unknown_methodology", "bad_mdm_input", "no_mdm_inputs", "digest_mismatch",
      "score_mismatch"};
  return kCodes;
}

SealedEvent SealCheckpoint(const StateStore& state, uint64_t tree_size, const Hash& root, std::string key_id,
                           std::string signature, Micros at) {
  uint64_t seq = 0;
  Hash prev = GenesisHash(kDirectoryStream);
  if (auto head = records::ReadStreamHead(state, keys::Stream(kDirectoryStream))) {
    seq = head->seq;
    prev = head->hash;
  }
  const Hash seed = Sha256("veeduria checkpoint " + std::to_string(tree_size) + " " + ToHex(root));
  s::EventT ev;
  ev.envelope = std::make_unique<s::EnvelopeT>();
  s::EnvelopeT& env = *ev.envelope;
  env.schema_version = kSchemaVersion;
  env.event_id = EventIdFor(seed, 0);
  env.command_id = "checkpoint-" + std::to_string(tree_size);
  env.stream = std::string(kDirectoryStream);
  env.stream_seq = seq + 1;
  env.recorded_at = at;
  env.actor = std::make_unique<s::ActorT>();
  env.actor->user = "system";
  env.actor->role = s::ActorRole::platform;
  env.actor->scope = "national";
  env.prev_hash = std::make_unique<s::Sha256>(ToStruct(prev));
  s::CheckpointT cp;
  cp.tree_size = tree_size;
  cp.root_hash = std::make_unique<s::Sha256>(ToStruct(root));
  cp.key_id = std::move(key_id);
  cp.signature.assign(signature.begin(), signature.end());
  ev.payload.Set(std::move(cp));
  flatbuffers::FlatBufferBuilder fbb(256);
  s::FinishEventBuffer(fbb, s::Event::Pack(fbb, &ev));
  SealedEvent se;
  se.stream = env.stream;
  se.stream_seq = env.stream_seq;
  se.event_id = env.event_id;
  se.type = s::EnumNamePayload(ev.payload.type);
  se.bytes.assign(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  se.hash = Sha256(se.bytes);
  return se;
}

}  // namespace veeduria::events
