// The users projection: the leader of each entity and the history of its leaders, every
// user's account state, roles and password resets (DESIGN §1 "Users", §2.6).
//
// Rows (times are recorded_at in µs; "by" fields are {user, role} as ActorOf gives them):
//   e/<entity>                   {entity, registered, name, kind, department, leader, leader_name,
//                                 leader_since, leader_key}: the entity and its current leader
//                                 (leader_key is the h/ row of that leadership; "" when none)
//   h/<entity>/<time key>        one leader request and the leadership it became, keyed by the
//                                 time key of LeaderRequested: {entity, request_id, user, name,
//                                 requested_at, request_event, supports: [{name, sha256}],
//                                 status: pending | current | replaced, activated_at,
//                                 activated_by, activation_event, replaced_at, replaced_by,
//                                 replaced_event}
//   q/<request_id>               "<h/ key>": finds a request's row when it is activated
//   u/<email>                    {user, name, active, held: [[role, scope]…],
//                                 leading: {<entity>: "<h/ key>"}, reset: "<p/ key>" of the
//                                 pending reset or "", deactivations: [{at, entity, replaced_by,
//                                 event}]}
//   g/<email>/<scope>/<role>     {user, role, scope, held, periods: [{granted_at, granted_by,
//                                 granted_event, revoked_at, revoked_by, revoked_event,
//                                 ended: revoked | account deactivated}]}: every period the
//                                 user held the role (granted, revoked, granted again…)
//   x/<scope>/<email>/<role>     null: roles by scope ("national" for national roles), so the
//                                 roles on an entity are a prefix scan of x/<entity>/
//   p/<email>/<time key>         {user, request_id, requested_at, requested_event, completed_at,
//                                 completed_event}: one password reset, keyed by its request
// where <time key> = recorded_at (hex) / stream / stream_seq (hex), as in audit.cc.
//
// Every event folded here is on the directory stream, so read-modify-write in log order is
// deterministic. The folds also tolerate a missing earlier row (as-of views fold only the
// events indexed under the entity, "*" and its users), creating what they need.

#include <algorithm>
#include <map>
#include <set>

#include "projections_internal.h"
#include "veeduria/projections/query.h"

namespace veeduria::projections {
namespace {

namespace s = veeduria::schema;
using nlohmann::json;

std::string EventId(const EventRef& e) { return Str(e.env->event_id()); }
events::Micros At(const EventRef& e) { return e.env->recorded_at(); }

std::string UserKey(const std::string& user) { return "u/" + user; }
std::string EntityKey(const std::string& entity) { return "e/" + entity; }
std::string RoleKey(const std::string& user, const std::string& scope, const std::string& role) {
  return "g/" + user + "/" + scope + "/" + role;
}

json ReadUser(const events::StateStore& rows, const std::string& user) {
  json u = events::ReadRecord(rows, UserKey(user));
  if (u.is_null())
    u = json{{"user", user},
             {"name", ""},
             {"active", true},
             {"held", json::array()},
             {"leading", json::object()},
             {"reset", ""},
             {"deactivations", json::array()}};
  return u;
}

json ReadEntity(const events::StateStore& rows, const std::string& entity) {
  json e = events::ReadRecord(rows, EntityKey(entity));
  if (e.is_null())
    e = json{{"entity", entity},  {"registered", false},     {"name", ""},
             {"kind", ""},        {"department", ""},        {"leader", ""},
             {"leader_name", ""}, {"leader_since", nullptr}, {"leader_key", ""}};
  return e;
}

// Opens a period of `role` on `scope` for `user`; `u` is the user's row, written by the caller.
void Grant(events::StateStore& rows, json& u, const std::string& user, const std::string& role,
           const std::string& scope, const EventRef& e) {
  const std::string key = RoleKey(user, scope, role);
  json g = events::ReadRecord(rows, key);
  if (g.is_null())
    g = json{{"user", user}, {"role", role}, {"scope", scope}, {"held", false}, {"periods", json::array()}};
  if (g["held"].get<bool>()) return;  // the decider refuses a second grant; nothing to open
  g["held"] = true;
  g["periods"].push_back(json{{"granted_at", At(e)},
                              {"granted_by", ActorOf(e)},
                              {"granted_event", EventId(e)},
                              {"revoked_at", nullptr},
                              {"revoked_by", nullptr},
                              {"revoked_event", ""},
                              {"ended", ""}});
  events::WriteRecord(rows, key, g);
  events::WriteRecord(rows, "x/" + scope + "/" + user + "/" + role, nullptr);
  const json pair = json::array({role, scope});
  if (std::find(u["held"].begin(), u["held"].end(), pair) == u["held"].end()) u["held"].push_back(pair);
}

// Closes the open period of `role` on `scope`, saying why it ended.
void Revoke(events::StateStore& rows, json& u, const std::string& user, const std::string& role,
            const std::string& scope, const EventRef& e, const std::string& ended) {
  const std::string key = RoleKey(user, scope, role);
  json g = events::ReadRecord(rows, key);
  if (!g.is_null() && g["held"].get<bool>() && !g["periods"].empty()) {
    json& last = g["periods"].back();
    last["revoked_at"] = At(e);
    last["revoked_by"] = ActorOf(e);
    last["revoked_event"] = EventId(e);
    last["ended"] = ended;
    g["held"] = false;
    events::WriteRecord(rows, key, g);
  }
  auto& held = u["held"];
  held.erase(std::remove(held.begin(), held.end(), json::array({role, scope})), held.end());
}

// Marks a leadership (an h/ row) as replaced. Both LeaderActivated (the new leader) and
// UserDeactivated (the old one) call it, so an as-of view that folds only one of them, e.g.
// for another entity the old leader also led, still sees the replacement.
void MarkReplaced(events::StateStore& rows, const std::string& hkey, const std::string& by,
                  const EventRef& e) {
  json h = events::ReadRecord(rows, hkey);
  if (h.is_null() || h["status"] == "replaced") return;
  h["status"] = "replaced";
  h["replaced_at"] = At(e);
  h["replaced_by"] = by;
  h["replaced_event"] = EventId(e);
  events::WriteRecord(rows, hkey, h);
}

json NewLeadership(const std::string& entity, const std::string& request_id, const std::string& user,
                   const std::string& name) {
  return json{{"entity", entity},
              {"request_id", request_id},
              {"user", user},
              {"name", name},
              {"requested_at", nullptr},
              {"request_event", ""},
              {"supports", json::array()},
              {"status", "pending"},
              {"activated_at", nullptr},
              {"activated_by", nullptr},
              {"activation_event", ""},
              {"replaced_at", nullptr},
              {"replaced_by", ""},
              {"replaced_event", ""}};
}

class Users : public Projection {
 public:
  std::string_view name() const override { return "users"; }
  int version() const override { return 1; }

  bool Uses(const EventRef& e) const override {
    switch (e.event->payload_type()) {
      case s::Payload::LedgerInitialized:
      case s::Payload::EntityRegistered:
      case s::Payload::LeaderRequested:
      case s::Payload::LeaderActivated:
      case s::Payload::UserDeactivated:
      case s::Payload::RoleGranted:
      case s::Payload::RoleRevoked:
      case s::Payload::PasswordResetRequested:
      case s::Payload::PasswordResetCompleted:
        return true;
      default:
        return false;
    }
  }
  void Apply(const EventRef& e, events::StateStore& rows) const override {
    switch (e.event->payload_type()) {
      case s::Payload::LedgerInitialized: {
        // The bootstrap administrator's dnp role comes with the ledger, not with a grant.
        const auto* p = e.event->payload_as_LedgerInitialized();
        const std::string admin = Str(p->admin());
        json u = ReadUser(rows, admin);
        Grant(rows, u, admin, s::EnumNameRole(p->role()), Str(p->scope()), e);
        events::WriteRecord(rows, UserKey(admin), u);
        break;
      }
      case s::Payload::EntityRegistered: {
        const auto* p = e.event->payload_as_EntityRegistered();
        json ent = ReadEntity(rows, Str(p->entity()));
        ent["registered"] = true;
        ent["name"] = Str(p->name());
        ent["kind"] = s::EnumNameEntityKind(p->kind());
        ent["department"] = Str(p->department());
        events::WriteRecord(rows, EntityKey(Str(p->entity())), ent);
        break;
      }
      case s::Payload::LeaderRequested: {
        const auto* p = e.event->payload_as_LeaderRequested();
        const std::string hkey = "h/" + Str(p->entity()) + "/" + TimeKey(e);
        json h = NewLeadership(Str(p->entity()), Str(p->request_id()), Str(p->email()), Str(p->name()));
        h["requested_at"] = At(e);
        h["request_event"] = EventId(e);
        if (p->supports())
          for (const auto* d : *p->supports())
            h["supports"].push_back({{"name", Str(d->name())}, {"sha256", Str(d->sha256())}});
        events::WriteRecord(rows, hkey, h);
        events::WriteRecord(rows, "q/" + Str(p->request_id()), hkey);
        json u = ReadUser(rows, Str(p->email()));
        u["name"] = Str(p->name());  // the name the person declares in their latest request
        events::WriteRecord(rows, UserKey(Str(p->email())), u);
        break;
      }
      case s::Payload::LeaderActivated: {
        const auto* p = e.event->payload_as_LeaderActivated();
        const std::string entity = Str(p->entity()), email = Str(p->email());
        json q = events::ReadRecord(rows, "q/" + Str(p->request_id()));
        const std::string hkey = q.is_string() ? q.get<std::string>() : "h/" + entity + "/" + TimeKey(e);
        json h = events::ReadRecord(rows, hkey);
        if (h.is_null()) h = NewLeadership(entity, Str(p->request_id()), email, Str(p->name()));
        h["status"] = "current";
        h["activated_at"] = At(e);
        h["activated_by"] = ActorOf(e);
        h["activation_event"] = EventId(e);
        events::WriteRecord(rows, hkey, h);

        json ent = ReadEntity(rows, entity);
        const std::string previous_key = ent["leader_key"].get<std::string>();
        if (!previous_key.empty() && previous_key != hkey) {
          MarkReplaced(rows, previous_key, email, e);
          const std::string previous = ent["leader"].get<std::string>();
          if (previous != email) {
            json pu = ReadUser(rows, previous);
            pu["leading"].erase(entity);
            events::WriteRecord(rows, UserKey(previous), pu);
          }
        }
        ent["leader"] = email;
        ent["leader_name"] = Str(p->name());
        ent["leader_since"] = At(e);
        ent["leader_key"] = hkey;
        events::WriteRecord(rows, EntityKey(entity), ent);

        // Activation (re)activates the account; roles lost to a deactivation stay lost.
        json u = ReadUser(rows, email);
        u["active"] = true;
        u["name"] = Str(p->name());
        u["leading"][entity] = hkey;
        events::WriteRecord(rows, UserKey(email), u);
        break;
      }
      case s::Payload::UserDeactivated: {
        const auto* p = e.event->payload_as_UserDeactivated();
        const std::string user = Str(p->user()), entity = Str(p->entity()), by = Str(p->replaced_by());
        json u = ReadUser(rows, user);
        u["active"] = false;
        u["deactivations"].push_back(
            {{"at", At(e)}, {"entity", entity}, {"replaced_by", by}, {"event", EventId(e)}});
        // A deactivated account holds no role anywhere (events/README.md).
        const json held = u["held"];
        for (const auto& r : held)
          Revoke(rows, u, user, r[0].get<std::string>(), r[1].get<std::string>(), e, "account deactivated");
        if (u["leading"].contains(entity)) {
          MarkReplaced(rows, u["leading"][entity].get<std::string>(), by, e);
          u["leading"].erase(entity);
        }
        events::WriteRecord(rows, UserKey(user), u);
        json ent = ReadEntity(rows, entity);
        if (ent["leader"] == user) {  // only when the new leader's activation was not folded
          ent["leader"] = by;
          ent["leader_name"] = "";
          ent["leader_since"] = At(e);
          ent["leader_key"] = "";
          events::WriteRecord(rows, EntityKey(entity), ent);
        }
        break;
      }
      case s::Payload::RoleGranted: {
        const auto* p = e.event->payload_as_RoleGranted();
        const std::string user = Str(p->user());
        json u = ReadUser(rows, user);
        Grant(rows, u, user, s::EnumNameRole(p->role()), Str(p->scope()), e);
        events::WriteRecord(rows, UserKey(user), u);
        break;
      }
      case s::Payload::RoleRevoked: {
        const auto* p = e.event->payload_as_RoleRevoked();
        const std::string user = Str(p->user());
        json u = ReadUser(rows, user);
        Revoke(rows, u, user, s::EnumNameRole(p->role()), Str(p->scope()), e, "revoked");
        events::WriteRecord(rows, UserKey(user), u);
        break;
      }
      case s::Payload::PasswordResetRequested: {
        const auto* p = e.event->payload_as_PasswordResetRequested();
        const std::string user = Str(p->user());
        const std::string pkey = "p/" + user + "/" + TimeKey(e);
        // The request id is the requesting command's id: PasswordResetCompleted names it.
        events::WriteRecord(rows, pkey,
                            json{{"user", user},
                                 {"request_id", Str(e.env->command_id())},
                                 {"requested_at", At(e)},
                                 {"requested_event", EventId(e)},
                                 {"completed_at", nullptr},
                                 {"completed_event", ""}});
        json u = ReadUser(rows, user);
        u["reset"] = pkey;
        events::WriteRecord(rows, UserKey(user), u);
        break;
      }
      case s::Payload::PasswordResetCompleted: {
        const auto* p = e.event->payload_as_PasswordResetCompleted();
        const std::string user = Str(p->user());
        json u = ReadUser(rows, user);
        std::string pkey = u["reset"].get<std::string>();
        json r = pkey.empty() ? json() : events::ReadRecord(rows, pkey);
        if (r.is_null()) {  // the request was not folded: keep the completion on its own
          pkey = "p/" + user + "/" + TimeKey(e);
          r = json{{"user", user},
                   {"request_id", Str(p->request_id())},
                   {"requested_at", nullptr},
                   {"requested_event", ""}};
        }
        r["completed_at"] = At(e);
        r["completed_event"] = EventId(e);
        events::WriteRecord(rows, pkey, r);
        u["reset"] = "";
        events::WriteRecord(rows, UserKey(user), u);
        break;
      }
      default:
        break;
    }
  }
};

// ---------------------------------------------------------------------------------------
// The query.

nlohmann::ordered_json Time(const json& micros) {
  if (!micros.is_number()) return nullptr;
  return events::FormatRfc3339(micros.get<events::Micros>());
}

std::string By(const json& actor) {
  if (!actor.is_object()) return "";
  return actor.value("user", "") + " (" + actor.value("role", "none") + ")";
}

nlohmann::ordered_json Line(const std::string& kind) {
  nlohmann::ordered_json l;
  for (const char* c :
       {"kind", "user", "name", "role", "scope", "since", "until", "by", "replaced_by", "status", "detail"})
    l[c] = nullptr;
  l["kind"] = kind;
  return l;
}

std::string Supports(const json& h) {
  std::string out;
  for (const auto& d : h["supports"])
    out += (out.empty() ? "" : ", ") + d.value("name", "") + " sha256 " + d.value("sha256", "");
  return out;
}

// Why an account is inactive, from its last deactivation.
std::string Inactive(const json& u) {
  if (u.is_null() || u.value("active", true)) return "";
  const json& d = u["deactivations"];
  if (d.empty()) return "account inactive";
  const json& last = d.back();
  return "account deactivated " + events::FormatRfc3339(last["at"].get<events::Micros>()) +
         " (replaced as leader of " + last["entity"].get<std::string>() + " by " +
         last["replaced_by"].get<std::string>() + ")";
}

// A line for one leadership (h/ row).
nlohmann::ordered_json LeaderLine(const json& h, const json& u) {
  const std::string status = h["status"].get<std::string>();
  nlohmann::ordered_json l = Line(status == "current"   ? "leader (current)"
                                  : status == "pending" ? "leader request"
                                                        : "leader");
  l["user"] = h["user"];
  l["name"] = h["name"];
  l["role"] = "leader";
  l["scope"] = h["entity"];
  l["since"] = Time(status == "pending" ? h["requested_at"] : h["activated_at"]);
  l["until"] = Time(h["replaced_at"]);
  l["by"] = By(h["activated_by"]);
  if (!h["replaced_by"].get<std::string>().empty()) l["replaced_by"] = h["replaced_by"];
  if (status == "current") {
    const std::string inactive = Inactive(u);
    l["status"] = inactive.empty() ? "active" : inactive;
  } else {
    l["status"] = status;
  }
  std::string detail = "request " + h["request_id"].get<std::string>();
  if (h["requested_at"].is_number()) detail += " of " + Time(h["requested_at"]).get<std::string>();
  const std::string supports = Supports(h);
  if (!supports.empty()) detail += "; supports: " + supports;
  l["detail"] = detail;
  return l;
}

std::string SinceKey(const nlohmann::ordered_json& l) {
  return l["since"].is_string() ? l["since"].get<std::string>() : "";
}

}  // namespace

const Projection& UsersProjection() {
  static const Users kUsers;
  return kUsers;
}

Result<Table> UsersQuery(const View& view, const UsersParams& q) {
  if (q.entity.empty()) return Status::InvalidArgument("users needs --entity");
  const Rows& rows = view.rows("users");
  const json ent = rows.Record(EntityKey(q.entity));
  if (ent.is_null() || !ent.value("registered", false))
    return Status::InvalidArgument(
        "unknown entity " + q.entity +
        (view.as_of() ? " (not registered as of " + events::FormatRfc3339(view.now()) + ")" : ""));
  Table t;
  t.title = "Users of " + q.entity + " " + ent["name"].get<std::string>();
  t.columns = {"kind",  "user", "name",        "role",   "scope", "since",
               "until", "by",   "replaced_by", "status", "detail"};
  std::map<std::string, json> users;  // email → u/ row; whose resets are shown
  auto user = [&](const std::string& email) -> const json& {
    auto it = users.find(email);
    if (it == users.end()) it = users.emplace(email, rows.Record(UserKey(email))).first;
    return it->second;
  };

  // Leaders: the current one first, then past leaders and pending requests, each in time order.
  std::vector<nlohmann::ordered_json> current, past, pending;
  rows.ScanRecords("h/" + q.entity + "/", [&](std::string_view, const json& h) {
    const json& u = user(h["user"].get<std::string>());
    const std::string status = h["status"].get<std::string>();
    (status == "current" ? current : status == "pending" ? pending : past).push_back(LeaderLine(h, u));
    return true;
  });
  std::stable_sort(past.begin(), past.end(),
                   [](const auto& a, const auto& b) { return SinceKey(a) < SinceKey(b); });

  // Roles scoped to the entity (for a department, its department_reviewer roles among them).
  std::vector<nlohmann::ordered_json> roles;
  const std::string xprefix = "x/" + q.entity + "/";
  std::vector<std::string> role_keys;
  rows.Scan(xprefix, [&](std::string_view k, std::string_view) {
    const std::string_view rest = k.substr(xprefix.size());  // <email>/<role>
    const size_t slash = rest.rfind('/');
    role_keys.push_back(
        RoleKey(std::string(rest.substr(0, slash)), q.entity, std::string(rest.substr(slash + 1))));
    return true;
  });
  for (const std::string& key : role_keys) {
    const json g = rows.Record(key);
    if (g.is_null()) continue;
    const json& u = user(g["user"].get<std::string>());
    for (const auto& period : g["periods"]) {
      nlohmann::ordered_json l = Line("role");
      l["user"] = g["user"];
      l["name"] = u.is_null() ? "" : u.value("name", "");
      l["role"] = g["role"];
      l["scope"] = g["scope"];
      l["since"] = Time(period["granted_at"]);
      l["until"] = Time(period["revoked_at"]);
      l["by"] = By(period["granted_by"]);
      std::string detail = "granted by event " + period["granted_event"].get<std::string>();
      const std::string ended = period.value("ended", "");
      if (ended.empty()) {
        const std::string inactive = Inactive(u);
        l["status"] = inactive.empty() ? "held" : "held, but " + inactive;
      } else {
        l["status"] = ended;
        detail += (ended == "revoked" ? "; revoked by " : "; ended by ") + By(period["revoked_by"]) +
                  " in event " + period["revoked_event"].get<std::string>();
      }
      l["detail"] = detail;
      roles.push_back(std::move(l));
    }
  }
  std::stable_sort(roles.begin(), roles.end(),
                   [](const auto& a, const auto& b) { return SinceKey(a) < SinceKey(b); });

  // Password resets of everyone above, in time order. Always by the user (circular item 8).
  std::vector<nlohmann::ordered_json> resets;
  for (const auto& [email, u] : users) {
    rows.ScanRecords("p/" + email + "/", [&](std::string_view, const json& r) {
      nlohmann::ordered_json l = Line("password reset");
      l["user"] = email;
      l["name"] = u.is_null() ? "" : u.value("name", "");
      l["since"] = Time(r["requested_at"]);
      l["until"] = Time(r["completed_at"]);
      l["by"] = email;
      l["status"] = r["completed_at"].is_number() ? "completed" : "pending";
      l["detail"] = "request " + r.value("request_id", "");
      resets.push_back(std::move(l));
      return true;
    });
  }
  std::stable_sort(resets.begin(), resets.end(),
                   [](const auto& a, const auto& b) { return SinceKey(a) < SinceKey(b); });

  if (current.empty()) {
    t.notes.push_back("no leader");
  } else {
    const auto& c = current.front();
    t.notes.push_back("leader since " + c["since"].get<std::string>() + ": " + c["user"].get<std::string>() +
                      " (" + c["name"].get<std::string>() + ")");
    if (c["status"] != "active")
      t.notes.push_back("the leader's " + c["status"].get<std::string>() + ": no active leader");
  }
  if (!past.empty()) t.notes.push_back(std::to_string(past.size()) + " past leader(s)");
  if (!pending.empty()) t.notes.push_back(std::to_string(pending.size()) + " pending leader request(s)");
  if (view.as_of()) t.notes.push_back("as of " + events::FormatRfc3339(view.now()));

  for (auto* group : {&current, &past, &pending, &roles, &resets})
    for (auto& l : *group) t.rows.push_back(std::move(l));
  return t;
}

}  // namespace veeduria::projections
