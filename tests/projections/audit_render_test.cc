// AuditQuery renders its lines from the stored FlatBuffers event; this test keeps the former path
// (the canonical JSON text parsed back into nlohmann::json, then flattened) as the reference and
// checks that the two give the same bytes (table, JSON, CSV) for every index key's whole trail
// (the reference takes it from the log, the query from the audit index's o/ and i/ rows) on
// the generator's tiny and demo datasets and the 2023 cycle scenario, so every event type the
// generator emits is covered.

#include <flatbuffers/minireflect.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "fixture.h"
#include "projections_internal.h"
#include "veeduria/events/render.h"
#include "veeduria/projections/query.h"

namespace veeduria {
namespace {

using nlohmann::json;
using projections::Format;
using projections::Render;
using projections::Table;

// ---- The former rendering, verbatim (projections/src/audit.cc before the typed walk). ----

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
    if (k.rfind("rows.", 0) == 0) continue;
    add(k + ": " + Shown(v));
  }
  return out;
}

// Each index key's events (IndexKeysOf) from the log, by time key.
using Trails = std::map<std::string, std::map<std::string, events::LogEntry>>;
Trails TrailsOf(const events::LogReader& log) {
  Trails trails;
  EXPECT_TRUE(
      log.ScanLog(0,
                  [&](const events::LogEntry& le) {
                    const schema::Event* ev = schema::GetEvent(le.bytes.data());
                    if (ev->envelope() == nullptr) return true;
                    const projections::EventRef ref{ev, ev->envelope(), le.bytes, le.hash, le.position};
                    for (const std::string& k : projections::IndexKeysOf(ref))
                      trails[k].emplace(projections::TimeKey(ref), le);
                    return true;
                  })
          .ok());
  return trails;
}

// The whole trail of index key `key` as the former AuditQuery rendered it (no filter).
Table FormerAudit(const std::map<std::string, events::LogEntry>& trail, const std::string& key,
                  std::set<std::string>* types) {
  Table t;
  t.title = "Audit of " + key;
  t.columns = {"time", "actor", "role", "event", "object", "change", "event_id", "position"};
  for (const auto& [tk, entry] : trail) {
    json ev = json::parse(events::RenderEventJson(entry.bytes, entry.hash));
    const json& env = ev["envelope"];
    const schema::Event* fb = schema::GetEvent(entry.bytes.data());
    events::LogPosition pos;
    projections::EventRef ref{fb, fb->envelope(), entry.bytes, entry.hash, pos};
    types->insert(ev["type"].get<std::string>());
    nlohmann::ordered_json line;
    line["time"] = env["recorded_at"];
    line["actor"] = env["actor"].value("user", "");
    line["role"] = env["actor"].value("role", "none");
    line["event"] = ev["type"];
    line["object"] = projections::ObjectOf(ref);
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
  return t;
}

// ---- The comparison. ----

// Every index key's trail, rendered both ways; adds the event types seen to `types`.
void ExpectSameAudits(testing::LedgerFixture& f, std::set<std::string>* types) {
  auto view = f.Live();
  const Trails trails = TrailsOf(f.ledger());
  EXPECT_FALSE(trails.empty());
  for (const auto& [key, trail] : trails) {
    auto now = projections::AuditQuery(*view, {.entity = key});
    ASSERT_TRUE(now.ok()) << now.status().ToString();
    Table former = FormerAudit(trail, key, types);
    now->title = former.title;
    ASSERT_EQ(now->rows.size(), former.rows.size()) << key;
    for (size_t i = 0; i < former.rows.size(); ++i)
      ASSERT_EQ(now->rows[i].dump(), former.rows[i].dump()) << key;
    for (Format format : {Format::kTable, Format::kJson, Format::kCsv})
      ASSERT_EQ(Render(*now, format), Render(former, format)) << key;
    // The object index (o/ rows) gives each object's lines of the trail, and a bare goal id the
    // lines of that goal in every plan.
    std::set<std::string> objects;
    for (const auto& r : former.rows) objects.insert(r["object"].get<std::string>());
    for (const std::string& object : objects) {
      const size_t slash = object.find('/');
      if (slash == std::string::npos && object.find(':') == std::string::npos)
        continue;  // reads as a goal id
      std::vector<std::string> goals = {object};
      const bool plan_goal =
          object.find(':') == std::string::npos && object.find('/', slash + 1) == std::string::npos;
      if (plan_goal) goals.push_back(object.substr(slash + 1));
      for (const std::string& wanted : goals) {
        auto one = projections::AuditQuery(*view, {.entity = key, .object = wanted});
        ASSERT_TRUE(one.ok()) << one.status().ToString();
        std::vector<std::string> expected;
        for (const auto& r : former.rows) {
          const std::string o = r["object"].get<std::string>();
          const bool in_a_plan = o.find(':') == std::string::npos && std::count(o.begin(), o.end(), '/') == 1;
          if (wanted == object ? o == object : in_a_plan && o.ends_with("/" + wanted))
            expected.push_back(r.dump());
        }
        std::vector<std::string> got;
        for (const auto& r : one->rows) got.push_back(r.dump());
        ASSERT_EQ(got, expected) << key << " " << wanted;
      }
    }
  }
}

// AuditQuery's walk of the payloads knows scalars, enums, strings, Sha256 structs, [ubyte],
// tables and vectors of these (projections/src/audit.cc); a payload with another shape (a union
// below the root, another struct) needs it taught first.
void ExpectKnownShapes(const flatbuffers::TypeTable* tt, std::set<const flatbuffers::TypeTable*>* seen) {
  if (!seen->insert(tt).second) return;
  for (size_t i = 0; i < tt->num_elems; ++i) {
    const flatbuffers::TypeCode& tc = tt->type_codes[i];
    const auto* ref = tc.sequence_ref >= 0 ? tt->type_refs[tc.sequence_ref]() : nullptr;
    EXPECT_NE(tc.base_type, flatbuffers::ET_UTYPE) << tt->names[i];
    if (tc.base_type != flatbuffers::ET_SEQUENCE) continue;
    if (ref->st == flatbuffers::ST_TABLE) {
      ExpectKnownShapes(ref, seen);
    } else {
      EXPECT_EQ(ref, schema::Sha256TypeTable()) << tt->names[i];
    }
  }
}

TEST(AuditRenderTest, TheWalkerKnowsEveryShapeOfThePayloads) {
  const flatbuffers::TypeTable* payloads = schema::PayloadTypeTable();
  std::set<const flatbuffers::TypeTable*> seen;
  for (size_t i = 0; i < payloads->num_elems; ++i) {
    const flatbuffers::TypeCode& tc = payloads->type_codes[i];
    if (tc.sequence_ref < 0) continue;  // NONE
    ExpectKnownShapes(payloads->type_refs[tc.sequence_ref](), &seen);
  }
  EXPECT_GT(seen.size(), 28u);
}

TEST(AuditRenderTest, SameBytesAsTheFormerRenderingOnTheCycleScenario) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  f.CatchUp();
  std::set<std::string> types;
  ExpectSameAudits(f, &types);
  EXPECT_GE(types.size(), 10u);
}

TEST(AuditRenderTest, SameBytesAsTheFormerRenderingOnTheTinyDataset) {
  testing::LedgerFixture f;
  ASSERT_NO_FATAL_FAILURE(testing::LoadGenerated(f, "tiny"));
  std::set<std::string> types;
  ExpectSameAudits(f, &types);
  EXPECT_GE(types.size(), 10u);
}

TEST(AuditRenderTest, SameBytesAsTheFormerRenderingOnTheDemoDataset) {
  testing::LedgerFixture f;
  ASSERT_NO_FATAL_FAILURE(testing::LoadGenerated(f, "demo"));
  std::set<std::string> types;
  ExpectSameAudits(f, &types);
  EXPECT_GE(types.size(), 10u);
}

}  // namespace
}  // namespace veeduria
