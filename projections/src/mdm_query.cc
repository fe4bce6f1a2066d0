// The MDM recompute, explain, publish, import and compare (see veeduria/projections/mdm.h).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "veeduria/events/time.h"
#include "veeduria/projections/mdm.h"

namespace veeduria::projections {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
namespace mdm = events::mdm;

std::string Vigencia(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d", v);
  return buf;
}

std::string Time(const json& micros) {
  return micros.is_number() ? events::FormatRfc3339(micros.get<events::Micros>()) : "";
}

mdm::Inputs InputsOfRow(const json& row) {
  mdm::Inputs in;
  in.entity = row.value("entity", "");
  in.vigencia = row.value("vigencia", 0);
  in.methodology = row.value("methodology", "");
  in.group = row.value("group", "");
  for (auto it = row["inputs"].begin(); it != row["inputs"].end(); ++it) in.values[it.key()] = it.value();
  return in;
}

// One version of a municipality's inputs: what an event recorded.
struct Version {
  json inputs;
  std::string event_id, source, group;
  json recorded_at, actor;
};

// The versions of a v/ row, oldest first: the first recording, then each correction.
std::vector<Version> VersionsOf(const json& row) {
  std::vector<Version> out;
  const json& corrections = row["corrections"];
  if (corrections.empty()) {
    out.push_back({row["inputs"], row.value("event_id", ""), row.value("source", ""), row.value("group", ""),
                   row["recorded_at"], row["actor"]});
    return out;
  }
  const json& first = corrections[0]["replaced"];
  out.push_back({first["inputs"], first.value("event_id", ""), first.value("source", ""),
                 first.value("group", ""), first["recorded_at"], first["actor"]});
  for (size_t i = 0; i < corrections.size(); ++i) {
    const json& c = corrections[i];
    const bool last = i + 1 == corrections.size();
    const json& values = last ? row : corrections[i + 1]["replaced"];
    out.push_back({values["inputs"], c.value("event_id", ""), c.value("source", ""),
                   values.value("group", ""), c["recorded_at"], c["actor"]});
  }
  return out;
}

std::string Shown(const json& v) {
  return v.is_null() ? "(none)" : v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

std::vector<mdm::Inputs> MdmInputsOf(const View& view, int vigencia) {
  std::vector<mdm::Inputs> out;
  view.rows("mdm").ScanRecords("v/" + Vigencia(vigencia) + "/", [&](std::string_view, const json& row) {
    out.push_back(InputsOfRow(row));
    return true;
  });
  return out;
}

Result<std::vector<mdm::Score>> MdmRecompute(const View& view, int vigencia, mdm::MethodologyLookup find) {
  const auto current = MdmInputsOf(view, vigencia);
  bool needs_previous = false;
  for (const auto& in : current)
    if (const auto* m = find(in.methodology); m && m->needs_previous_resultados) needs_previous = true;
  return mdm::Recompute(current,
                        needs_previous ? MdmInputsOf(view, vigencia - 1) : std::vector<mdm::Inputs>{}, find);
}

std::vector<std::string> AsOfKeysForMdm(const ProjectionStore& store, int vigencia) {
  std::set<std::string> entities;
  for (int v : {vigencia - 1, vigencia})
    store.rows("mdm").Scan("v/" + Vigencia(v) + "/", [&](std::string_view k, std::string_view) {
      entities.emplace(k.substr(7));  // "v/YYYY/"
      return true;
    });
  return {entities.begin(), entities.end()};
}

Result<Table> MdmQuery(const View& view, const MdmParams& p) {
  auto scores = MdmRecompute(view, p.vigencia);
  if (!scores.ok()) return scores.status();
  Table t;
  t.title = "MDM " + std::to_string(p.vigencia) + " recomputed from the recorded inputs";
  if (!p.department.empty()) t.title += ", department " + p.department;
  if (!p.group.empty()) t.title += ", group " + p.group;
  if (!p.entity.empty()) t.title += ", entity " + p.entity;
  t.columns = {"entity",
               "name",
               "group",
               "methodology",
               "gestion",
               "resultados",
               "ajuste",
               "mdm",
               "national_position",
               "group_position",
               "gestion_position",
               "resultados_position",
               "inputs_digest",
               "published_event",
               "published_matches"};
  const Rows& comp = view.rows("compliance");
  const Rows& rows = view.rows("mdm");
  const std::string vig = Vigencia(p.vigencia);
  for (const auto& s : *scores) {
    if (!p.entity.empty() && s.entity != p.entity) continue;
    if (!p.department.empty() && s.entity.rfind(p.department, 0) != 0) continue;
    if (!p.group.empty() && s.group != p.group) continue;
    const json published = rows.Record("s/" + vig + "/" + s.entity);
    const std::string digest = events::ToHex(s.inputs_digest);
    ordered_json r;
    r["entity"] = s.entity;
    r["name"] = comp.Record("e/" + s.entity).value("name", "");
    r["group"] = s.group;
    r["methodology"] = s.methodology;
    r["gestion"] = s.gestion;
    r["resultados"] = s.resultados;
    r["ajuste"] = s.ajuste;
    r["mdm"] = s.mdm;
    r["national_position"] = s.national_position;
    r["group_position"] = s.group_position ? json(s.group_position) : json(nullptr);
    r["gestion_position"] = s.gestion_position;
    r["resultados_position"] = s.resultados_position;
    r["inputs_digest"] = digest;
    r["published_event"] = published.is_null() ? json(nullptr) : published["event_id"];
    r["published_matches"] = published.is_null() ? json(nullptr) : json(published["inputs_digest"] == digest);
    t.rows.push_back(std::move(r));
  }
  if (!p.entity.empty() && t.rows.empty())
    return Status::NotFound("no MDM inputs recorded for " + p.entity + " vigencia " +
                            std::to_string(p.vigencia) +
                            (view.as_of() ? " as of " + events::FormatRfc3339(view.now()) : ""));
  t.notes.push_back(
      std::to_string(scores->size()) +
      " municipalities with inputs; gestion and resultados = mean of their four sub-scores, mdm = "
      "gestion × ajuste; positions = 1 + municipalities with a strictly higher unrounded score, "
      "among those present (group: within the recorded group)");
  t.notes.push_back(
      "published_matches: the latest MdmScoreComputed was computed from these very inputs (digest)");
  if (view.as_of()) t.notes.push_back("as of " + events::FormatRfc3339(view.now()));
  return t;
}

Result<Table> MdmExplain(const View& view, int vigencia, const std::string& entity) {
  const json row = view.rows("mdm").Record("v/" + Vigencia(vigencia) + "/" + entity);
  if (row.is_null())
    return Status::NotFound("no MDM inputs recorded for " + entity + " vigencia " + std::to_string(vigencia) +
                            (view.as_of() ? " as of " + events::FormatRfc3339(view.now()) : ""));
  auto scores = MdmRecompute(view, vigencia);
  if (!scores.ok()) return scores.status();
  const auto it =
      std::find_if(scores->begin(), scores->end(), [&](const auto& s) { return s.entity == entity; });
  const mdm::Score& s = *it;
  const mdm::Methodology* m = mdm::FindMethodology(s.methodology);
  const std::vector<Version> versions = VersionsOf(row);

  Table t;
  t.title = "Where the MDM " + std::to_string(vigencia) + " of " + entity + " comes from";
  t.columns = {"number", "value", "computed_from", "event_id", "recorded_at", "actor", "source", "replaced"};
  // An input's value was set by the latest version that changed it; the values before are what
  // it replaced, each with the event that had recorded it.
  auto origin = [&](const std::function<json(const Version&)>& value_of, ordered_json& r) {
    size_t set_by = 0;
    for (size_t i = 1; i < versions.size(); ++i)
      if (value_of(versions[i]) != value_of(versions[i - 1])) set_by = i;
    const Version& v = versions[set_by];
    r["event_id"] = v.event_id;
    r["recorded_at"] = Time(v.recorded_at);
    r["actor"] = v.actor.is_object() ? v.actor.value("user", "") : "";
    r["source"] = v.source;
    std::string replaced;
    for (size_t i = 0; i < set_by; ++i) {
      if (i > 0 && value_of(versions[i]) == value_of(versions[i - 1])) continue;
      if (!replaced.empty()) replaced += "; ";
      replaced += Shown(value_of(versions[i])) + " (event " + versions[i].event_id + ", " +
                  Time(versions[i].recorded_at) + ", " + versions[i].source + ")";
    }
    r["replaced"] = replaced;
  };
  for (const auto& spec : m->inputs) {
    ordered_json r;
    r["number"] = spec.name;
    r["value"] = row["inputs"].value(spec.name, json(nullptr));
    r["computed_from"] = "";
    origin([&](const Version& v) { return v.inputs.value(spec.name, json(nullptr)); }, r);
    t.rows.push_back(std::move(r));
  }
  {
    ordered_json r;
    r["number"] = "group";
    r["value"] = s.group;
    r["computed_from"] = "";
    origin([&](const Version& v) { return json(v.group); }, r);
    t.rows.push_back(std::move(r));
  }
  auto join = [](const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
    return out;
  };
  std::vector<std::string> ajuste_from;
  for (const auto& spec : m->inputs)
    if (std::find(m->gestion_parts.begin(), m->gestion_parts.end(), spec.name) == m->gestion_parts.end() &&
        std::find(m->resultados_parts.begin(), m->resultados_parts.end(), spec.name) ==
            m->resultados_parts.end())
      ajuste_from.push_back(spec.name);
  if (m->needs_previous_resultados)
    ajuste_from = {"resultados", "resultados(" + std::to_string(vigencia - 1) + ")"};
  const std::vector<std::pair<std::string, std::pair<json, std::string>>> derived = {
      {"gestion", {s.gestion, "mean(" + join(m->gestion_parts) + ")"}},
      {"resultados", {s.resultados, "mean(" + join(m->resultados_parts) + ")"}},
      {"ajuste", {s.ajuste, join(ajuste_from)}},
      {"mdm", {s.mdm, "gestion × ajuste"}},
      {"national_position",
       {s.national_position,
        "1 + municipalities with a higher mdm (" + std::to_string(scores->size()) + " present)"}},
      {"group_position",
       {s.group_position ? json(s.group_position) : json(nullptr), "the same within group " + s.group}},
      {"inputs_digest",
       {events::ToHex(s.inputs_digest), "SHA-256 of the canonical inputs (events/README.md)"}}};
  for (const auto& [name, vf] : derived) {
    ordered_json r;
    r["number"] = name;
    r["value"] = vf.first;
    r["computed_from"] = vf.second;
    r["event_id"] = "";
    r["recorded_at"] = "";
    r["actor"] = "";
    r["source"] = "";
    r["replaced"] = "";
    t.rows.push_back(std::move(r));
  }
  // The published scores of this municipality, each with whether it came from these inputs.
  view.rows("mdm").ScanRecords("sh/" + Vigencia(vigencia) + "/" + entity + "/", [&](std::string_view,
                                                                                    const json& p) {
    ordered_json r;
    r["number"] = "published mdm";
    r["value"] = p["mdm"];
    r["computed_from"] = "MdmScoreComputed, inputs_digest " + p.value("inputs_digest", "") +
                         (p.value("inputs_digest", "") == events::ToHex(s.inputs_digest) ? " (these inputs)"
                                                                                         : " (other inputs)");
    r["event_id"] = p["event_id"];
    r["recorded_at"] = Time(p["recorded_at"]);
    r["actor"] = p["actor"].is_object() ? p["actor"].value("user", "") : "";
    r["source"] = p.value("methodology", "");
    r["replaced"] = "";
    t.rows.push_back(std::move(r));
    return true;
  });
  t.notes.push_back(
      "each input names the event that recorded its current value; 'replaced' lists the earlier "
      "values, oldest first, with the events that had recorded them");
  if (view.as_of()) t.notes.push_back("as of " + events::FormatRfc3339(view.now()));
  return t;
}

std::vector<json> MdmPublishCommands(const std::vector<mdm::Score>& scores, const std::string& actor,
                                     const std::string& at) {
  std::vector<json> out;
  out.reserve(scores.size());
  for (const auto& s : scores) {
    const std::string digest = events::ToHex(s.inputs_digest);
    // The id names the inputs and the positions: publishing again what is already published is a
    // duplicate, not a second event.
    const std::string id_seed =
        digest + "/" + std::to_string(s.national_position) + "/" + std::to_string(s.group_position);
    json c = {{"command", "publish_mdm_score"},
              {"command_id", "mdm-publish-" + std::to_string(s.vigencia) + "-" + s.entity + "-" +
                                 events::ToHex(events::Sha256(id_seed)).substr(0, 16)},
              {"actor", actor},
              {"entity", s.entity},
              {"vigencia", s.vigencia},
              {"methodology", s.methodology},
              {"gestion", s.gestion},
              {"resultados", s.resultados},
              {"ajuste", s.ajuste},
              {"mdm", s.mdm},
              {"national_position", s.national_position},
              {"inputs_digest", digest}};
    if (s.group_position) c["group_position"] = s.group_position;
    if (!at.empty()) c["at"] = at;
    out.push_back(std::move(c));
  }
  return out;
}

Table MdmCompare(const std::vector<mdm::Score>& scores, const std::vector<mdm::Published>& published,
                 double tolerance) {
  Table t;
  t.title = "Recompute against the published table (tolerance " + json(tolerance).dump() + ")";
  t.columns = {"entity", "name", "line", "what", "published", "recomputed", "difference"};
  std::map<std::string, const mdm::Score*> by_entity;
  for (const auto& s : scores) by_entity[s.entity] = &s;
  // The published order among the municipalities present in both: by the published national
  // position when the table has it, else by the published MDM.
  std::vector<const mdm::Published*> present;
  for (const auto& p : published)
    if (by_entity.count(p.entity)) present.push_back(&p);
  auto better = [](const mdm::Published* a, const mdm::Published* b) {
    if (a->national_position && b->national_position) return a->national_position < b->national_position;
    return a->mdm > b->mdm;
  };
  std::set<std::string> seen;
  size_t compared = 0;
  for (const auto& p : published) {
    seen.insert(p.entity);
    auto it = by_entity.find(p.entity);
    auto add = [&](const std::string& what, json pub, json rec, json diff) {
      ordered_json r;
      r["entity"] = p.entity;
      r["name"] = p.name;
      r["line"] = p.line;
      r["what"] = what;
      r["published"] = std::move(pub);
      r["recomputed"] = std::move(rec);
      r["difference"] = std::move(diff);
      t.rows.push_back(std::move(r));
    };
    if (it == by_entity.end()) {
      add("missing from the recompute", p.mdm, nullptr, nullptr);
      continue;
    }
    ++compared;
    const mdm::Score& s = *it->second;
    for (auto [what, pv, rv] :
         {std::tuple{"gestion", p.gestion, s.gestion}, std::tuple{"resultados", p.resultados, s.resultados},
          std::tuple{"mdm", p.mdm, s.mdm}})
      if (!(std::fabs(pv - rv) <= tolerance)) add(what, pv, rv, rv - pv);
    int expected = 1;
    for (const auto* q : present)
      if (better(q, &p)) ++expected;
    if (expected != s.national_position)
      add("national_position (among those present)", expected, s.national_position,
          s.national_position - expected);
  }
  for (const auto& s : scores)
    if (!seen.count(s.entity)) {
      ordered_json r;
      r["entity"] = s.entity;
      r["name"] = "";
      r["line"] = nullptr;
      r["what"] = "not in the published table";
      r["published"] = nullptr;
      r["recomputed"] = s.mdm;
      r["difference"] = nullptr;
      t.rows.push_back(std::move(r));
    }
  t.notes.push_back(std::to_string(compared) + " municipalities compared, " + std::to_string(t.rows.size()) +
                    " difference(s)");
  t.notes.push_back(
      "positions: the published order among the municipalities present (published national "
      "positions are among every municipality measured)");
  return t;
}

}  // namespace veeduria::projections
