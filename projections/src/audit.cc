// The audit projection: the per-entity index of events (what as-of views fold, and what audit
// lines are rendered from), an index by object and one by actor.
//
// Rows (for each index key k of an event; see IndexKeysOf):
//   i/<k>/<time key>            the event itself and its log position (IndexEntry, binary)
//   o/<k>/<object>/<time key>   null: the object index
//   x/<actor>/<time key>        <k>: the actor index
// where <time key> = recorded_at (hex) / stream / stream_seq (hex), so a prefix scan runs in
// time order and an as-of read stops at the first key after T.

#include <map>
#include <set>

#include "projections_internal.h"
#include "veeduria/events/render.h"
#include "veeduria/projections/query.h"

namespace veeduria::projections {
namespace {

namespace s = veeduria::schema;
using nlohmann::json;

class Audit : public Projection {
 public:
  std::string_view name() const override { return "audit"; }
  int version() const override { return 2; }
  // An index entry without its log position (lsn, topic, partition, offset), which differs between
  // the embedded log and Kafka: the event's hash and bytes are what the digest compares.
  std::string DigestValue(std::string_view value) const override {
    IndexEntry entry;
    if (!DecodeIndexEntry(value, &entry)) return std::string(value);
    std::string out(reinterpret_cast<const char*>(entry.hash.data()), entry.hash.size());
    out += entry.bytes;
    return out;
  }
  // Every row is written, none read: the store hands it an append-only sink (no overlay map).
  bool writes_only() const override { return true; }
  void Apply(const EventRef& e, events::StateStore& rows) const override {
    const std::string tk = TimeKey(e);
    const std::string object = ObjectOf(e);
    const auto* a = e.env->actor();
    const std::string_view actor = a && a->user() ? a->user()->string_view() : std::string_view();
    std::string entry = EncodeIndexEntry(e);
    const std::vector<std::string> keys = IndexKeysOf(e);
    std::string key;
    key.reserve(48 + object.size() + actor.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string& k = keys[i];
      key.assign("i/").append(k).append("/").append(tk);
      rows.Put(key, i + 1 == keys.size() ? std::move(entry) : entry);
      if (!object.empty()) {
        key.assign("o/").append(k).append("/").append(object).append("/").append(tk);
        rows.Put(key, std::string(kMsgpackNull));
      }
      key.assign("x/").append(actor).append("/").append(tk);
      rows.Put(key, MsgpackString(k));
    }
  }
};

// Flattens a JSON payload into path → value (arrays of objects keyed by their "source",
// "code", "name" or "indicator" member when they have one, else by index).
void Flatten(const json& j, const std::string& path, std::map<std::string, json>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (path.empty() && (it.key() == "previous" || it.key().rfind("previous_", 0) == 0)) continue;
      Flatten(it.value(), path.empty() ? it.key() : path + "." + it.key(), out);
    }
  } else if (j.is_array() && !j.empty() && j[0].is_object()) {
    for (size_t i = 0; i < j.size(); ++i) {
      std::string id = std::to_string(i);
      for (const char* k : {"source", "code", "name", "indicator"})
        if (j[i].contains(k) && j[i][k].is_string()) {
          id = j[i][k].get<std::string>();
          break;
        }
      json rest = j[i];
      Flatten(rest, path + "." + id, out);
    }
  } else {
    (*out)[path] = j;
  }
}

std::string Shown(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// "what changed": before → after for events that carry the value they replace, else the facts.
std::string Change(const json& event) {
  const json& p = event["payload"];
  const std::string type = event["type"].get<std::string>();
  if (type == "CommandRejected")
    return "refused " + p.value("command", "") + ": " + p.value("reason", "") + " (" +
           p.value("message", "") + ")";
  std::map<std::string, json> after, before;
  Flatten(p, "", &after);
  bool has_before = p.contains("previous");
  if (has_before) Flatten(p["previous"], "", &before);
  // previous_<field> ↔ <field>; previous_leader ↔ email; previous_values ↔ values.
  for (auto it = p.begin(); it != p.end(); ++it) {
    if (it.key().rfind("previous_", 0) != 0) continue;
    std::string field = it.key().substr(9);
    if (field == "leader") field = "email";
    std::map<std::string, json> sub;
    Flatten(it.value(), field, &sub);
    for (auto& [k, v] : sub)
      if (!(v.is_string() && v.get<std::string>().empty()) &&
          !(k == "submitted_at" && v == "1970-01-01T00:00:00Z"))
        before[k] = v;
    has_before = has_before || !sub.empty();
  }
  static const std::set<std::string> kIdentity = {"entity", "plan",       "goal", "campaign",  "milestone",
                                                  "year",   "request_id", "user", "department"};
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  if (has_before && !before.empty()) {
    for (const auto& [k, v] : after) {
      auto b = before.find(k);
      if (b == before.end()) {
        if (!kIdentity.count(k)) add(k + ": (none) → " + Shown(v));
      } else if (b->second != v) {
        add(k + ": " + Shown(b->second) + " → " + Shown(v));
      }
    }
    for (const auto& [k, v] : before)
      if (!after.count(k)) add(k + ": " + Shown(v) + " → (none)");
    if (out.empty()) out = "no value changed";
    return out;
  }
  for (const auto& [k, v] : after) {
    if (kIdentity.count(k) || (v.is_string() && v.get<std::string>().empty())) continue;
    if (k.rfind("rows.", 0) == 0) continue;  // a catalogue's rows
    add(k + ": " + Shown(v));
  }
  return out;
}

bool ObjectMatches(const std::string& object, const std::string& wanted) {
  if (object == wanted) return true;
  // A bare goal id matches that goal in any plan.
  return wanted.find(':') == std::string::npos && wanted.find('/') == std::string::npos &&
         object.size() > wanted.size() &&
         object.compare(object.size() - wanted.size() - 1, std::string::npos, "/" + wanted) == 0;
}

}  // namespace

const Projection& AuditProjection() {
  static const Audit kAudit;
  return kAudit;
}

Result<Table> AuditQuery(const View& view, const AuditParams& q) {
  if (q.entity.empty()) return Status::InvalidArgument("audit needs --entity");
  const Rows& rows = view.rows("audit");
  Table t;
  t.title = "Audit of " + q.entity + (q.object.empty() ? "" : ", object " + q.object);
  t.columns = {"time", "actor", "role", "event", "object", "change", "event_id", "position"};
  std::vector<std::string> keys;  // time keys, in order
  if (q.object.empty()) {
    rows.Scan("i/" + q.entity + "/", [&](std::string_view k, std::string_view) {
      keys.emplace_back(k.substr(q.entity.size() + 3));
      return true;
    });
  } else {
    const std::string prefix = "o/" + q.entity + "/";
    std::vector<std::pair<std::string, std::string>> found;  // time key, object
    // rest = <object>/<time key>; the time key has three '/'-separated parts.
    auto object_of = [](std::string_view rest) {
      size_t cut = rest.size();
      for (int parts = 0; parts < 3; ++parts) cut = rest.rfind('/', cut - 1);
      return cut;
    };
    auto collect = [&](std::string_view k, std::string_view) {
      const std::string_view rest = k.substr(prefix.size());
      const size_t cut = object_of(rest);
      const std::string object(rest.substr(0, cut));
      if (ObjectMatches(object, q.object)) found.emplace_back(std::string(rest.substr(cut + 1)), object);
      return true;
    };
    if (q.object.find('/') != std::string::npos || q.object.find(':') != std::string::npos) {
      rows.Scan(prefix + q.object + "/", collect);  // one object: its own range
    } else {
      // A bare goal id: that goal in every plan. Skip from plan to plan (and past other kinds
      // of object) instead of reading every object row of the entity.
      std::string cursor = prefix;
      for (bool more = true; more;) {
        more = false;
        std::string object;
        rows.ScanFrom(cursor, prefix, [&](std::string_view k, std::string_view) {
          const std::string_view rest = k.substr(prefix.size());
          object = std::string(rest.substr(0, object_of(rest)));
          more = true;
          return false;
        });
        if (!more) break;
        const size_t slash = object.find('/');
        const std::string head = slash == std::string::npos ? object : object.substr(0, slash);
        if (slash != std::string::npos && head.find(':') == std::string::npos)
          rows.Scan(prefix + head + "/" + q.object + "/", collect);  // <plan>/<goal>
        cursor = prefix + head + "0";  // '0' follows '/': past every object of this head
      }
    }
    std::sort(found.begin(), found.end());
    for (auto& f : found) keys.push_back(f.first);
  }
  for (const std::string& tk : keys) {
    const events::Micros at = static_cast<events::Micros>(std::stoull(tk.substr(0, 16), nullptr, 16));
    if (q.from && at < *q.from) continue;
    if (q.to && at > *q.to) continue;
    const auto row = rows.Get("i/" + q.entity + "/" + tk);
    IndexEntry entry;
    if (!row || !DecodeIndexEntry(*row, &entry) || !events::VerifyEventBytes(entry.bytes))
      return Status::Corruption("unreadable event in the audit index at " + q.entity + "/" + tk);
    const std::string_view view_bytes = entry.bytes;
    const events::Hash& h = entry.hash;
    json ev = json::parse(events::RenderEventJson(view_bytes, h));
    const json& env = ev["envelope"];
    const std::string actor = env["actor"].value("user", "");
    if (!q.actor.empty() && actor != q.actor) continue;
    if (!q.type.empty() && ev["type"] != q.type) continue;
    const schema::Event* fb = schema::GetEvent(view_bytes.data());
    events::LogPosition pos;
    EventRef ref{fb, fb->envelope(), view_bytes, h, pos};
    nlohmann::ordered_json line;
    line["time"] = env["recorded_at"];
    line["actor"] = actor;
    line["role"] = env["actor"].value("role", "none");
    line["event"] = ev["type"];
    line["object"] = ObjectOf(ref);
    std::string change = Change(ev);
    if (env.contains("flags") && !env["flags"].empty()) {
      std::string flags;
      for (const auto& f : env["flags"]) flags += (flags.empty() ? "" : ",") + f.get<std::string>();
      change +=
          " [" + flags +
          (env.value("days_late", 0) > 0 ? " " + std::to_string(env["days_late"].get<int>()) + "d" : "") +
          "]";
    }
    line["change"] = change;
    line["event_id"] = env["event_id"];
    line["position"] = entry.position.topic + "/" + std::to_string(entry.position.partition) + "@" +
                       std::to_string(entry.position.offset) + " (lsn " + std::to_string(entry.position.lsn) +
                       ")";
    t.rows.push_back(std::move(line));
  }
  if (view.as_of()) t.notes.push_back("as of " + events::FormatRfc3339(view.now()));
  return t;
}

}  // namespace veeduria::projections
