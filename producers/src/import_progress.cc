// Quarterly progress per goal, as a planning office keeps it in a spreadsheet saved as CSV
// (README.md, "veeduria import"): one row per goal, cut and funding source. Consecutive rows of
// the same goal and cut make one report_progress (one financial entry per source), written
// all-or-nothing. Physical values accept a decimal comma; money is passed through as written
// unless it is a plain integer, so "1.234.567,89" reaches the rules and is refused `not_pesos`
// naming the field, exactly as a hand-written command would be.

#include <cmath>
#include <map>

#include "veeduria/producers/csv.h"
#include "veeduria/producers/importers.h"

namespace veeduria::producers {

using nlohmann::json;
using namespace import_internal;

namespace {

std::optional<double> Physical(std::string t) {
  while (!t.empty() && t.back() == ' ') t.pop_back();
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  if (t.find(',') != std::string::npos) {  // "12,5" or "1.234,5": the comma is the decimal mark
    std::erase(t, '.');
    std::replace(t.begin(), t.end(), ',', '.');
  }
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

json Money(const std::string& t) {
  if (!t.empty() && t.size() < 19 && t.find_first_not_of("0123456789") == std::string::npos)
    return std::stoll(t);
  return t;  // not whole pesos: the rules say so, naming the field
}

}  // namespace

Result<ImportBatch> ImportProgress(const std::string& bytes, const std::string& path,
                                   const ImportOptions& o) {
  // Spanish spreadsheets save CSV with ';' when the comma is the decimal mark.
  const size_t eol = bytes.find('\n');
  const std::string first = bytes.substr(0, eol);
  const char sep =
      std::count(first.begin(), first.end(), ';') > std::count(first.begin(), first.end(), ',') ? ';' : ',';
  auto csv = OpenCsv(bytes, path, "progress", sep);
  if (!csv.ok()) return csv.status();
  ImportBatch b = std::move(csv->batch);
  const auto& records = csv->records;
  auto col = [&](std::initializer_list<const char*> names) { return csv->Column(names); };
  const int c_entity = col({"entidad", "entity", "codigo_dane"}), c_plan = col({"plan"}),
            c_goal = col({"meta", "goal", "codigo_meta"}), c_campaign = col({"campana", "campaign"}),
            c_cut = col({"corte", "milestone"}),
            c_phys = col({"avance_fisico_acumulado", "avance_fisico", "physical_ytd"}),
            c_source = col({"fuente", "source"}), c_comp = col({"compromisos"}),
            c_obl = col({"obligaciones"}), c_pagos = col({"pagos"}),
            c_note = col({"nota", "note", "observaciones"});
  for (auto [c, name] : {std::pair{c_plan, "plan"},
                         {c_goal, "meta"},
                         {c_campaign, "campaña"},
                         {c_cut, "corte"},
                         {c_phys, "avance_fisico_acumulado"}})
    if (c < 0) return Status::InvalidArgument(b.file + ", row 1: missing column " + name);
  if (c_entity < 0 && o.entity.empty())
    return Status::InvalidArgument(b.file + ", row 1: missing column entidad (or pass --entity)");

  std::string last_key;
  for (size_t i = 1; i < records.size(); ++i) {
    const CsvRecord& rec = records[i];
    auto field = [&](int c) {
      return c >= 0 && c < static_cast<int>(rec.fields.size()) ? rec.fields[c] : "";
    };
    const std::string entity = c_entity >= 0 && !field(c_entity).empty() ? field(c_entity) : o.entity;
    RowReport r{.file = b.file, .sha256 = b.sha256, .row = rec.line, .key = entity + "/" + field(c_goal)};
    auto reject = [&](const std::string& reason, int c, const std::string& why) {
      r.status = "rejected";
      r.reason = reason;
      r.column = records[0].fields[c];
      r.message = b.file + ", row " + std::to_string(rec.line) + ", column " + r.column + ": " + why;
      b.rows.push_back(std::move(r));
    };
    if (!o.entity.empty() && entity != o.entity) {
      reject("wrong_entity", c_entity, "entity '" + entity + "' is not " + o.entity + " (--entity)");
      continue;
    }
    const auto phys = Physical(field(c_phys));
    if (!phys) {
      reject("not_a_number", c_phys, "'" + field(c_phys) + "' is not a number (decimal comma or point)");
      continue;
    }
    const std::string key = entity + "\x1f" + field(c_plan) + "\x1f" + field(c_goal) + "\x1f" +
                            field(c_campaign) + "\x1f" + field(c_cut);
    const bool same = key == last_key && !b.units.empty();
    if (!same) {
      json cmd = {{"command", "report_progress"},  {"entity", entity},
                  {"plan", field(c_plan)},         {"goal", field(c_goal)},
                  {"campaign", field(c_campaign)}, {"milestone", field(c_cut)},
                  {"physical_ytd", *phys}};
      if (!field(c_note).empty()) cmd["note"] = field(c_note);
      Stamp(cmd, b, o, rec.line, "report_progress");
      b.units.push_back({std::move(cmd)});
      last_key = key;
    }
    json& cmd = b.units.back().front();
    if (same && cmd["physical_ytd"].get<double>() != *phys) {
      // The unit so far stays as it is; this row disagrees with it.
      reject("inconsistent_rows", c_phys,
             "physical " + field(c_phys) +
                 " differs from the earlier row of the "
                 "same goal and cut (" +
                 cmd["physical_ytd"].dump() + ")");
      continue;
    }
    if (c_source >= 0 && !field(c_source).empty()) {
      json f = json::object();
      for (auto [c, name] : {std::pair{c_comp, "compromisos"}, {c_obl, "obligaciones"}, {c_pagos, "pagos"}})
        if (c >= 0 && !field(c).empty()) f[name] = Money(field(c));
      cmd["financial"][field(c_source)] = std::move(f);
    }
    r.unit = static_cast<int>(b.units.size()) - 1;
    b.rows.push_back(std::move(r));
  }
  return b;
}

}  // namespace veeduria::producers
