// The audit projection: the index of events by entity and object, what audit lines are rendered
// from and what as-of views fold.
//
// Rows (for each index key k of an event; see IndexKeysOf):
//   o/<k>/<object>/<time key>   the event itself and its log position (IndexEntry, binary), for
//                               an event that changes an object: an object's audit is one range
//   i/<k>/<time key>            the same IndexEntry, for an event without an object or that a
//                               non-temporal projection uses (Projection::Uses): what an as-of
//                               view folds
//   a/<actor>/<k>/<mark>        empty: the actor wrote events under k about that object, or
//                               about goals of that plan (<mark> = <plan>/), or without an
//                               object (<mark> empty), whatever their number: an actor's trail
//                               reads only the o/ ranges and i/ rows it wrote in
// where <time key> = recorded_at (hex) / stream / stream_seq (hex), so a prefix scan runs in
// time order and an as-of read stops at the first key after T. An entity's whole trail is its
// o/ and i/ rows merged by time key. In a/ rows the actor and k have '%' and '/' escaped.
// Version 5: a/ rows (an actor's trail across entities). Version 4: i/ held every event, so the
// goals' definitions, programming and reports (99% of the events) were stored twice; and an
// actor index (x/<actor>/<time key>, an event's bytes per event) that no query read is gone.

#include <flatbuffers/minireflect.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "projections_internal.h"
#include "veeduria/events/render.h"
#include "veeduria/events/sha256.h"
#include "veeduria/events/time.h"
#include "veeduria/projections/query.h"

namespace veeduria::projections {
namespace {

namespace s = veeduria::schema;
namespace fbt = flatbuffers;
using nlohmann::json;

// `part` with '%' and '/' escaped, so that it is one '/'-separated part of a key.
void AppendEscaped(std::string& out, std::string_view part) {
  for (const char c : part) {
    if (c == '%')
      out += "%25";
    else if (c == '/')
      out += "%2F";
    else
      out += c;
  }
}
std::string Escaped(std::string_view part) {
  std::string out;
  AppendEscaped(out, part);
  return out;
}

std::string Unescaped(std::string_view part) {
  std::string out;
  out.reserve(part.size());
  for (size_t i = 0; i < part.size(); ++i) {
    if (part[i] == '%' && part.substr(i, 3) == "%2F") {
      out += '/', i += 2;
    } else if (part[i] == '%' && part.substr(i, 3) == "%25") {
      out += '%', i += 2;
    } else {
      out += part[i];
    }
  }
  return out;
}

// Whether an object is a goal, <plan>/<goal> (other objects are <kind>:…).
bool IsGoal(std::string_view object) {
  const size_t slash = object.find('/');
  return slash != std::string_view::npos && object.substr(0, slash).find(':') == std::string_view::npos;
}

// a/<actor>/<k>/<mark>, into `key`: the mark of a goal is its plan, <plan>/ (a plan's goals are
// one range of the object index, and their events come in runs of one actor: a plan uploaded,
// a cut reported), of any other object the object.
void MarkKey(std::string_view actor, std::string_view k, std::string_view object, std::string& key) {
  key.assign("a/");
  AppendEscaped(key, actor);
  key += '/';
  AppendEscaped(key, k);
  key += '/';
  key.append(IsGoal(object) ? object.substr(0, object.find('/') + 1) : object);
}

class Audit : public Projection {
 public:
  std::string_view name() const override { return "audit"; }
  int version() const override { return 5; }
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
  bool time_indexed() const override { return true; }
  void Apply(const EventRef& e, events::StateStore& rows) const override {
    const std::string tk = TimeKey(e);
    const std::string object = ObjectOf(e);
    std::string entry = EncodeIndexEntry(e);
    const std::vector<std::string> keys = IndexKeysOf(e);
    std::string key;
    key.reserve(48 + object.size());
    const bool folded = object.empty() || std::any_of(FoldedAsOf().begin(), FoldedAsOf().end(),
                                                      [&](const Projection* p) { return p->Uses(e); });
    const s::Actor* a = e.env->actor();
    const std::string_view actor = a && a->user() ? a->user()->string_view() : std::string_view();
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string& k = keys[i];
      MarkKey(actor, k, object, key);
      rows.Put(key, std::string());
      if (!object.empty()) {
        key.assign("o/").append(k).append("/").append(object).append("/").append(tk);
        rows.Put(key, i + 1 == keys.size() && !folded ? std::move(entry) : entry);
      }
      if (folded) {
        key.assign("i/").append(k).append("/").append(tk);
        rows.Put(key, i + 1 == keys.size() ? std::move(entry) : entry);
      }
    }
  }
};

// "What changed" is computed from the stored FlatBuffers event, read through the schema's
// mini-reflection tables, with the canonical rendering's value rules (events/render.h): it is what
// flattening that JSON rendering would give, without rendering and parsing it back (the test
// AuditRenderTest keeps that former path and compares both on the generator's datasets).
// Payload shapes handled (all the schema has below the root union): scalars, enums, strings,
// Sha256 structs, [ubyte], tables, vectors of tables and of scalars or strings;
// AuditRenderTest.TheWalkerKnowsEveryShapeOfThePayloads fails when the schema gains another.

// path → value, as in the rendering: the leaves in the order the walk meets them, until Sort.
struct Leaf {
  std::string path;
  json value;
};
using Flat = std::vector<Leaf>;

// In path order; of equal paths (array elements with the same id) the last met stays, as
// assigning into a map would keep it.
void Sort(Flat* flat) {
  const auto by_path = [](const Leaf& a, const Leaf& b) { return a.path < b.path; };
  if (!std::is_sorted(flat->begin(), flat->end(), by_path))  // the walk meets fields in name order
    std::stable_sort(flat->begin(), flat->end(), by_path);
  auto kept = flat->begin();
  for (auto it = flat->begin(); it != flat->end(); ++it) {
    if (std::next(it) != flat->end() && std::next(it)->path == it->path) continue;
    if (kept != it) *kept = std::move(*it);
    ++kept;
  }
  flat->erase(kept, flat->end());
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// A string as the rendering shows it: invalid UTF-8 becomes U+FFFD.
std::string Text(std::string_view s) {
  if (ValidUtf8(s)) return std::string(s);
  return json::parse(json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}
std::string Text(const flatbuffers::String* s) { return s ? Text(s->string_view()) : std::string(); }

const fbt::TypeTable* RefOf(const fbt::TypeTable* tt, const flatbuffers::TypeCode& tc) {
  return tc.sequence_ref >= 0 ? tt->type_refs[tc.sequence_ref]() : nullptr;
}

bool IsTimestamp(fbt::ElementaryType type, std::string_view name) {
  return type == flatbuffers::ET_LONG && name.size() >= 3 && name.substr(name.size() - 3) == "_at";
}

// A scalar at `p` (null: the default) as the rendering shows it; `enum_tt` names enum values.
json ScalarJson(fbt::ElementaryType type, const uint8_t* p, const fbt::TypeTable* enum_tt, bool timestamp) {
  using Kind = events::ReflectedScalar::Kind;
  const events::ReflectedScalar s = events::ReadReflectedScalar(type, p);
  switch (s.kind) {
    case Kind::kBool:
      return s.i != 0;
    case Kind::kReal:
      return std::isfinite(s.real) ? json(s.real) : json();  // rendered null
    case Kind::kOther:
      return json();
    default:
      break;
  }
  if (const char* name = events::ReflectedEnumName(s, enum_tt)) return std::string(name);
  if (timestamp) return events::FormatRfc3339(s.i);
  if (s.kind == Kind::kUnsigned) return s.u;
  return s.i >= 0 ? json(static_cast<uint64_t>(s.i)) : json(s.i);  // as parsing the number gives it
}

// One vector element or field value at `p` (an offset for strings) that renders as a JSON leaf.
json LeafJson(fbt::ElementaryType type, const uint8_t* p, const fbt::TypeTable* ref, bool timestamp) {
  if (type == flatbuffers::ET_STRING)
    return Text(
        reinterpret_cast<const flatbuffers::String*>(p + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p)));
  if (type == flatbuffers::ET_SEQUENCE)  // a Sha256 (the only struct of the payloads)
    return events::ToHex(p, static_cast<size_t>(ref->values[ref->num_elems]));
  return ScalarJson(type, p, ref, timestamp);
}

// The field's fields in name order (the order of a JSON object's members).
const std::vector<size_t>& FieldsByName(const fbt::TypeTable* tt) {
  static std::mutex mu;
  static std::map<const fbt::TypeTable*, std::vector<size_t>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto [it, fresh] = cache.try_emplace(tt);
  if (fresh) {
    for (size_t i = 0; i < tt->num_elems; ++i) it->second.push_back(i);
    std::sort(it->second.begin(), it->second.end(), [&](size_t a, size_t b) {
      return std::string_view(tt->names[a]) < std::string_view(tt->names[b]);
    });
  }
  return it->second;
}

const uint8_t* FieldAddress(const uint8_t* obj, size_t i) {
  return reinterpret_cast<const flatbuffers::Table*>(obj)->GetAddressOf(
      flatbuffers::FieldIndexToOffset(static_cast<flatbuffers::voffset_t>(i)));
}
const uint8_t* Deref(const uint8_t* p) { return p + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p); }
bool IsTable(fbt::ElementaryType type, const fbt::TypeTable* ref) {
  return type == flatbuffers::ET_SEQUENCE && ref->st == flatbuffers::ST_TABLE;
}

// Field `i` of table `obj` when it renders as a string (the ids of array elements).
std::optional<std::string> StringField(const uint8_t* obj, const fbt::TypeTable* tt, size_t i) {
  const flatbuffers::TypeCode& tc = tt->type_codes[i];
  const auto type = static_cast<fbt::ElementaryType>(tc.base_type);
  const fbt::TypeTable* ref = RefOf(tt, tc);
  const uint8_t* val = FieldAddress(obj, i);
  if (tc.is_repeating) {
    if (val == nullptr || type != flatbuffers::ET_UCHAR || ref != nullptr) return std::nullopt;
    auto vec = reinterpret_cast<const flatbuffers::Vector<uint8_t>*>(Deref(val));
    return events::ToHex(vec->Data(), vec->size());
  }
  if (IsTable(type, ref) || ((type == flatbuffers::ET_STRING || type == flatbuffers::ET_SEQUENCE) && !val))
    return std::nullopt;
  json v = LeafJson(type, val, ref, IsTimestamp(type, tt->names[i]));
  if (!v.is_string()) return std::nullopt;
  return v.get<std::string>();
}

void FlattenTable(const uint8_t* obj, const fbt::TypeTable* tt, const std::string& path, Flat* out);

// Field `i` of table `obj` under `path`: its leaf, or its members' (absent: nothing). Arrays of
// tables are keyed by their elements' "source", "code", "name" or "indicator", else by index.
void FlattenField(const uint8_t* obj, const fbt::TypeTable* tt, size_t i, const std::string& path,
                  Flat* out) {
  const flatbuffers::TypeCode& tc = tt->type_codes[i];
  const auto type = static_cast<fbt::ElementaryType>(tc.base_type);
  const fbt::TypeTable* ref = RefOf(tt, tc);
  const uint8_t* val = FieldAddress(obj, i);
  if (tc.is_repeating) {
    if (val == nullptr) return;
    auto vec = reinterpret_cast<const flatbuffers::Vector<uint8_t>*>(Deref(val));
    if (type == flatbuffers::ET_UCHAR && ref == nullptr) {
      out->push_back({path, events::ToHex(vec->Data(), vec->size())});
    } else if (IsTable(type, ref) && vec->size() > 0) {
      for (size_t j = 0; j < vec->size(); ++j) {
        const uint8_t* element = Deref(vec->Data() + j * sizeof(flatbuffers::uoffset_t));
        std::optional<std::string> id;
        for (const char* k : {"source", "code", "name", "indicator"})
          for (size_t f = 0; f < ref->num_elems && !id; ++f)
            if (std::strcmp(ref->names[f], k) == 0) id = StringField(element, ref, f);
        FlattenTable(element, ref, path + "." + (id ? *id : std::to_string(j)), out);
      }
    } else {
      json a = json::array();
      const size_t stride = flatbuffers::InlineSize(type, ref);
      for (size_t j = 0; j < vec->size(); ++j)
        a.push_back(LeafJson(type, vec->Data() + j * stride, ref, IsTimestamp(type, tt->names[i])));
      out->push_back({path, std::move(a)});
    }
    return;
  }
  if ((type == flatbuffers::ET_STRING || type == flatbuffers::ET_SEQUENCE) && val == nullptr) return;
  if (IsTable(type, ref)) return FlattenTable(Deref(val), ref, path, out);
  out->push_back({path, LeafJson(type, val, ref, IsTimestamp(type, tt->names[i]))});
}

bool IsPrevious(std::string_view name) { return name == "previous" || name.starts_with("previous_"); }

// A table's members; at the top (empty path) "previous" and "previous_*" are left out.
void FlattenTable(const uint8_t* obj, const fbt::TypeTable* tt, const std::string& path, Flat* out) {
  for (size_t i : FieldsByName(tt)) {
    const std::string_view name = tt->names[i];
    if (path.empty() && IsPrevious(name)) continue;
    FlattenField(obj, tt, i, path.empty() ? std::string(name) : path + "." + std::string(name), out);
  }
}

// A value as dump() writes it (a string as it is), without a serializer for the usual scalars.
std::string Shown(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return v.get_ref<const std::string&>();
    case json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case json::value_t::number_float: {
      const double d = v.get<double>();
      if (!std::isfinite(d)) return "null";
      char buf[64];
      return std::string(buf, nlohmann::detail::to_chars(buf, buf + sizeof buf, d));  // what dump() calls
    }
    default:
      return v.dump();
  }
}

// "what changed": before → after for events that carry the value they replace, else the facts.
std::string Change(const s::Event* ev, const std::string& type) {
  if (type == "CommandRejected") {
    const auto* r = ev->payload_as_CommandRejected();
    return "refused " + Text(r->command()) + ": " + Text(r->reason()) + " (" + Text(r->message()) + ")";
  }
  Flat after, before;
  const fbt::TypeTable* tt = nullptr;
  const uint8_t* p = nullptr;
  if (ev->payload() != nullptr && !type.empty()) {
    const fbt::TypeTable* payloads = s::PayloadTypeTable();
    const int64_t idx = flatbuffers::LookupEnum(static_cast<int64_t>(ev->payload_type()), payloads->values,
                                                payloads->num_elems);
    tt = payloads->type_refs[payloads->type_codes[idx].sequence_ref]();
    p = static_cast<const uint8_t*>(ev->payload());
  }
  bool has_before = false;
  if (tt != nullptr) {
    FlattenTable(p, tt, "", &after);
    // previous ↔ the payload; previous_<field> ↔ <field>; previous_leader ↔ email; previous_values ↔ values.
    for (size_t i : FieldsByName(tt)) {
      const std::string_view name = tt->names[i];
      if (name != "previous") continue;
      // Present: as the rendering has it (scalars always are).
      const auto type = static_cast<fbt::ElementaryType>(tt->type_codes[i].base_type);
      has_before = FieldAddress(p, i) != nullptr ||
                   (!tt->type_codes[i].is_repeating && type != flatbuffers::ET_STRING &&
                    type != flatbuffers::ET_SEQUENCE);
      FlattenField(p, tt, i, "", &before);
    }
    for (size_t i : FieldsByName(tt)) {
      const std::string_view name = tt->names[i];
      if (!name.starts_with("previous_")) continue;
      std::string field(name.substr(9));
      if (field == "leader") field = "email";
      Flat sub;
      FlattenField(p, tt, i, field, &sub);
      Sort(&sub);
      for (Leaf& leaf : sub)
        if (!(leaf.value.is_string() && leaf.value.get_ref<const std::string&>().empty()) &&
            !(leaf.path == "submitted_at" && leaf.value == "1970-01-01T00:00:00Z"))
          before.push_back(std::move(leaf));
      has_before = has_before || !sub.empty();
    }
  }
  Sort(&after);
  Sort(&before);
  static constexpr std::string_view kIdentity[] = {"campaign", "department", "entity", "goal", "milestone",
                                                   "plan",     "request_id", "user",   "year"};  // sorted
  const auto identity = [](std::string_view k) {
    return std::binary_search(std::begin(kIdentity), std::end(kIdentity), k);
  };
  std::string out;
  auto add = [](std::string* to, const std::string& s) { *to += (to->empty() ? "" : "; ") + s; };
  if (has_before && !before.empty()) {
    std::string gone;  // the paths only `before` has, after all the others
    auto b = before.begin();
    for (const Leaf& a : after) {
      for (; b != before.end() && b->path < a.path; ++b)
        add(&gone, b->path + ": " + Shown(b->value) + " → (none)");
      if (b != before.end() && b->path == a.path) {
        if (b->value != a.value) add(&out, a.path + ": " + Shown(b->value) + " → " + Shown(a.value));
        ++b;
      } else if (!identity(a.path)) {
        add(&out, a.path + ": (none) → " + Shown(a.value));
      }
    }
    for (; b != before.end(); ++b) add(&gone, b->path + ": " + Shown(b->value) + " → (none)");
    if (!gone.empty()) add(&out, gone);
    if (out.empty()) out = "no value changed";
    return out;
  }
  for (const Leaf& a : after) {
    if (identity(a.path) || (a.value.is_string() && a.value.get_ref<const std::string&>().empty())) continue;
    if (a.path.starts_with("rows.")) continue;  // a catalogue's rows
    add(&out, a.path + ": " + Shown(a.value));
  }
  return out;
}

// Whether `wanted` (an --object) is a bare goal id: that goal in any plan.
bool IsBareGoal(std::string_view wanted) {
  return !wanted.empty() && wanted.find_first_of(":/") == std::string_view::npos;
}

// Whether `object` is the one asked for: the same object, or for a bare goal id that goal of any
// plan (<plan>/<id>, never another kind of object nor a goal whose id extends it past a '/').
bool ObjectMatches(std::string_view object, std::string_view wanted) {
  if (!IsBareGoal(wanted)) return object == wanted;
  return IsGoal(object) && object.substr(object.find('/') + 1) == wanted;
}

}  // namespace

const Projection& AuditProjection() {
  static const Audit kAudit;
  return kAudit;
}

namespace {

// Where the time key at the end of `rest` starts: its three '/'-separated parts (0 when `rest`
// is one).
size_t TimeKeyAt(std::string_view rest) {
  size_t cut = rest.size();
  for (int parts = 0; parts < 3; ++parts) {
    if (cut == 0) return 0;
    cut = rest.rfind('/', cut - 1);
    if (cut == std::string_view::npos) return 0;
  }
  return cut + 1;
}

// (time key, index entry) of the events a trail reads, in any order.
using Found = std::vector<std::pair<std::string, std::string>>;

// The rows of one entity (index key): all of them, or those of the objects matching `wanted`.
void EntityRows(const Rows& rows, const std::string& entity, const std::string& wanted, Found* found) {
  const std::string prefix = "o/" + entity + "/";
  // rest = <object>/<time key>: the object ends where the time key starts, less its '/'.
  auto object_of = [](std::string_view rest) { return TimeKeyAt(rest) - 1; };
  if (wanted.empty()) {
    // The events with an object, then those in the fold index; an event in both is kept once.
    rows.Scan(prefix, [&](std::string_view k, std::string_view v) {
      const std::string_view rest = k.substr(prefix.size());
      found->emplace_back(rest.substr(TimeKeyAt(rest)), v);
      return true;
    });
    rows.Scan("i/" + entity + "/", [&](std::string_view k, std::string_view v) {
      found->emplace_back(k.substr(entity.size() + 3), v);
      return true;
    });
    return;
  }
  auto collect = [&](std::string_view k, std::string_view v) {
    const std::string_view rest = k.substr(prefix.size());
    const size_t cut = object_of(rest);
    if (ObjectMatches(rest.substr(0, cut), wanted)) found->emplace_back(rest.substr(cut + 1), v);
    return true;
  };
  if (!IsBareGoal(wanted)) {
    rows.Scan(prefix + wanted + "/", collect);  // one object: its own range
    return;
  }
  // A bare goal id: that goal in every plan. One cursor skips from plan to plan, and past each
  // kind of other object ("report:", "user:"…), instead of reading every object row of the entity.
  auto c = rows.NewCursor(PrefixEnd(prefix));
  for (c->Seek(prefix); c->Valid();) {
    const std::string_view rest = c->key().substr(prefix.size());
    const std::string_view object = rest.substr(0, object_of(rest));
    const size_t colon = object.find(':'), slash = object.find('/');
    if (colon < slash) {  // <kind>:…, never a plan: past every object of this kind (';' follows ':')
      c->Seek(prefix + std::string(object.substr(0, colon)) + ";");
      continue;
    }
    const std::string head(object.substr(0, slash));
    if (slash != std::string_view::npos) {  // <plan>/<goal>
      const std::string goal = prefix + head + "/" + wanted + "/";
      for (c->Seek(goal); c->Valid() && c->key().starts_with(goal); c->Next()) collect(c->key(), c->value());
    }
    c->Seek(prefix + head + "0");  // '0' follows '/': past every object of this head
  }
}

// The rows an actor's trail reads: through its a/ marks, the o/ range of each object it changed
// (of each plan whose goals it changed, that plan's goals) and the i/ rows of each index key under
// which it wrote events without an object; under `entity` only, when given, and of the objects
// matching `object`, when given, as EntityRows matches them (a bare goal id is that goal of any
// plan, never another kind of object). The caller keeps the actor's own events of them.
void ActorRows(const Rows& rows, const AuditParams& q, Found* found) {
  const bool bare = IsBareGoal(q.object);
  auto wanted = [&](std::string_view object) { return q.object.empty() || ObjectMatches(object, q.object); };
  struct Range {
    std::string prefix;
    size_t objects_at;  // where the object starts in its keys (npos: i/ rows, no object)
  };
  std::vector<Range> ranges;
  const std::string marks = "a/" + Escaped(q.actor) + "/";
  rows.Scan(q.entity.empty() ? marks : marks + Escaped(q.entity) + "/",
            [&](std::string_view k, std::string_view) {
              const std::string_view rest = k.substr(marks.size());
              const size_t slash = rest.find('/');
              const std::string key = Unescaped(rest.substr(0, slash));
              const std::string mark(rest.substr(slash + 1));
              const std::string o = "o/" + key + "/";
              if (mark.empty()) {
                if (q.object.empty()) ranges.push_back({"i/" + key + "/", std::string::npos});
              } else if (!IsGoal(mark)) {  // one object
                if (wanted(mark)) ranges.push_back({o + mark + "/", o.size()});
              } else if (q.object.empty()) {  // <plan>/: the plan's goals
                ranges.push_back({o + mark, o.size()});
              } else if (bare) {
                ranges.push_back({o + mark + q.object + "/", o.size()});
              } else if (q.object.starts_with(mark)) {
                ranges.push_back({o + q.object + "/", o.size()});
              }
              return true;
            });
  auto c = rows.NewCursor("");
  for (const Range& range : ranges)
    for (c->Seek(range.prefix); c->Valid() && c->key().starts_with(range.prefix); c->Next()) {
      if (range.objects_at == std::string::npos) {
        found->emplace_back(c->key().substr(range.prefix.size()), c->value());
        continue;
      }
      // A range can hold other objects' rows: those whose id extends this one past a '/'.
      const std::string_view rest = c->key().substr(range.objects_at);  // <object>/<time key>
      const size_t at = TimeKeyAt(rest);
      if (at > 0 && wanted(rest.substr(0, at - 1))) found->emplace_back(rest.substr(at), c->value());
    }
}

}  // namespace

Result<Table> AuditQuery(const View& view, const AuditParams& q) {
  if (q.entity.empty() && q.actor.empty()) return Status::InvalidArgument("audit needs --entity or --actor");
  const Rows& rows = view.rows("audit");
  const bool across = q.entity.empty();  // an actor's trail across entities
  Table t;
  t.title = "Audit of " +
            (across ? "actor " + q.actor : q.entity + (q.actor.empty() ? "" : ", actor " + q.actor)) +
            (q.object.empty() ? "" : ", object " + q.object);
  t.columns = {"time", "actor", "role", "event", "object", "change", "event_id", "position"};
  if (across) t.columns.insert(t.columns.begin() + 4, "entity");
  Found found;
  if (q.actor.empty())
    EntityRows(rows, q.entity, q.object, &found);
  else
    ActorRows(rows, q, &found);
  // Time keys are unique to an event: ordering by them alone is the time order, and an event
  // found twice (in o/ and i/, or under two index keys) is kept once.
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  found.erase(std::unique(found.begin(), found.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first; }),
              found.end());
  // As of T, the trail is that of the events recorded up to T: the index is never rewritten.
  const std::optional<events::Micros> to =
      view.as_of() ? std::optional<events::Micros>(std::min(q.to.value_or(view.now()), view.now())) : q.to;
  for (const auto& [tk, row] : found) {
    const events::Micros at = static_cast<events::Micros>(std::stoull(tk.substr(0, 16), nullptr, 16));
    if (q.from && at < *q.from) continue;
    if (to && at > *to) continue;
    IndexEntry entry;
    const auto where = [&] { return (across ? "actor " + q.actor : q.entity) + ", time key " + tk; };
    if (!DecodeIndexEvent(row, &entry))
      return Status::Corruption("unreadable event in the audit index at " + where());
    const s::Event* fb = s::GetEvent(entry.bytes.data());
    const s::Envelope* env = fb->envelope();
    if (env == nullptr) return Status::Corruption("an event without an envelope at " + where());
    const s::Actor* a = env->actor();
    const std::string actor = a ? Text(a->user()) : std::string();
    if (!q.actor.empty() && actor != q.actor) continue;
    const std::string type = events::EventTypeName(entry.bytes);
    if (!q.type.empty() && type != q.type) continue;
    EventRef ref{fb, env, entry.bytes, entry.hash, entry.position};
    nlohmann::ordered_json line;
    line["time"] = events::FormatRfc3339(env->recorded_at());
    line["actor"] = actor;
    line["role"] = a ? s::EnumNameActorRole(a->role()) : "none";
    line["event"] = type;
    if (across) line["entity"] = IndexKeysOf(ref).front();  // the entity it concerns; "*", "@<user>"
    line["object"] = ObjectOf(ref);
    std::string change = Change(fb, type);
    if (env->flags() && env->flags()->size() > 0) {
      std::string flags;
      for (const auto f : *env->flags())
        flags += (flags.empty() ? "" : ",") + std::string(s::EnumNameFlag(f));
      change +=
          " [" + flags + (env->days_late() > 0 ? " " + std::to_string(env->days_late()) + "d" : "") + "]";
    }
    line["change"] = change;
    line["event_id"] = Text(env->event_id());
    line["position"] = entry.position.topic + "/" + std::to_string(entry.position.partition) + "@" +
                       std::to_string(entry.position.offset) + " (lsn " + std::to_string(entry.position.lsn) +
                       ")";
    t.rows.push_back(std::move(line));
  }
  if (view.as_of()) t.notes.push_back("as of " + events::FormatRfc3339(view.now()));
  return t;
}

}  // namespace veeduria::projections
