// The plan export of the national platform (SisPT, "Plan de Desarrollo Territorial" workbook),
// sheet "Plan indicativo - Productos": one row per meta de producto with its CPI indicator, unit,
// four-year target, accumulation type, the yearly physical programming ("Programación del
// producto bien o servicio 2024") and the resources by funding source and year ("Recursos
// propios 2024", "SGP educación 2024", … "Total 2024"). Columns are found by their header, since
// the department's export has one column more than the municipalities'.

#include <cmath>
#include <map>
#include <set>

#include "veeduria/producers/importers.h"
#include "xlsx.h"

namespace veeduria::producers {

using nlohmann::json;
using namespace import_internal;

namespace {

constexpr const char* kSheet = "Plan indicativo - Productos";
constexpr const char* kGoalHeader = "Código de indicador de producto (SisPT)";

// A physical value: a number cell, or text with a decimal comma ("12,5", "1.234,5").
std::optional<double> Number(const xlsx::Cell& c) {
  std::string t = c.text;
  if (c.type == xlsx::Cell::Type::kString) {
    if (t.find(',') != std::string::npos) {
      std::erase(t, '.');
      std::replace(t.begin(), t.end(), ',', '.');
    }
  } else if (c.type != xlsx::Cell::Type::kNumber) {
    return std::nullopt;
  }
  while (!t.empty() && t.back() == ' ') t.pop_back();
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

Result<ImportBatch> ImportPlan(const std::string& bytes, const std::string& path, const ImportOptions& o) {
  ImportBatch b;
  b.kind = "plan";
  b.file = BaseName(path);
  b.sheet = kSheet;
  b.sha256 = Sha256Hex(bytes);
  auto sheet = xlsx::ReadSheet(bytes, b.file, kSheet);
  if (!sheet.ok()) return sheet.status();
  const std::string at_sheet = b.file + ", sheet '" + b.sheet + "'";

  // The header row: the first that names the goal id column (row 2 in SisPT's export).
  const xlsx::Row* header = nullptr;
  for (const auto& row : sheet->rows) {
    for (const auto& c : row.cells)
      if (c.text == kGoalHeader) header = &row;
    if (header || row.number > 10) break;
  }
  if (!header) return Status::InvalidArgument(at_sheet + ": no header row with column '" + kGoalHeader + "'");
  std::map<std::string, int> cols;  // header text -> column
  struct Money {
    int col;
    std::string source;
    int year;
  };
  std::vector<Money> money;
  std::map<int, int> programming;  // year -> column
  for (size_t i = 0; i < header->cells.size(); ++i) {
    const std::string& h = header->cells[i].text;
    if (h.empty()) continue;
    cols[h] = static_cast<int>(i);
    const int year = h.size() > 5 && h[h.size() - 5] == ' ' ? std::atoi(h.c_str() + h.size() - 4) : 0;
    if (year < 2000 || year > 2100) continue;
    const std::string base = h.substr(0, h.size() - 5);
    if (base.starts_with("Programación"))
      programming[year] = static_cast<int>(i);
    else if (base != "Total")  // the total is derived; the sources are what is programmed
      money.push_back({static_cast<int>(i), base, year});
  }
  auto need = [&](const char* name) -> Result<int> {
    auto it = cols.find(name);
    if (it == cols.end())
      return Status::InvalidArgument(at_sheet + ", row " + std::to_string(header->number) +
                                     ": missing column '" + name + "'");
    return it->second;
  };
  int c_dane, c_plan_name, c_goal, c_cpi, c_ind_name, c_custom, c_unit, c_target, c_acc;
  for (auto [out, name] : {std::pair{&c_dane, "Código DANE"},
                           {&c_plan_name, "Nombre del plan"},
                           {&c_goal, kGoalHeader},
                           {&c_cpi, "Código de indicador de producto (MGA)"},
                           {&c_ind_name, "Indicador de Producto(MGA)"},
                           {&c_custom, "Personalización de Indicador de Producto"},
                           {&c_unit, "Unidad de medida"},
                           {&c_target, "Meta del cuatrienio"},
                           {&c_acc, "Tipo de acumulación"}}) {
    auto c = need(name);
    if (!c.ok()) return c.status();
    *out = *c;
  }
  if (programming.empty())
    return Status::InvalidArgument(at_sheet + ", row " + std::to_string(header->number) +
                                   ": missing columns 'Programación del producto bien o servicio <year>'");
  const int first_year = programming.begin()->first, last_year = programming.rbegin()->first;
  const std::string plan =
      !o.plan.empty() ? o.plan : "PDT-" + std::to_string(first_year) + "-" + std::to_string(last_year);
  auto cell_name = [&](int col) { return xlsx::ColumnName(col) + " (" + header->cells[col].text + ")"; };

  std::string entity = o.entity;
  std::set<std::string> goals;
  for (const auto& row : sheet->rows) {
    if (row.number <= header->number) continue;
    auto cell = [&](int c) -> const xlsx::Cell& {
      static const xlsx::Cell kEmpty;
      return c < static_cast<int>(row.cells.size()) ? row.cells[c] : kEmpty;
    };
    if (cell(c_goal).type == xlsx::Cell::Type::kEmpty && cell(c_dane).type == xlsx::Cell::Type::kEmpty)
      continue;  // blank rows below the table
    const std::string goal = cell(c_goal).text;
    RowReport r{.file = b.file, .sheet = b.sheet, .sha256 = b.sha256, .row = row.number, .key = goal};
    auto reject = [&](const std::string& reason, int col, const std::string& why) {
      r.status = "rejected";
      r.reason = reason;
      r.column = cell_name(col);
      r.message = at_sheet + ", row " + std::to_string(row.number) + ", column " + r.column + ": " + why;
      b.rows.push_back(std::move(r));
    };
    const std::string code = cell(c_dane).text;
    if (entity.empty()) entity = code;
    if (code != entity) {
      reject("wrong_entity", c_dane,
             "entity '" + code + "' is not " + entity + ", the entity of this import");
      continue;
    }
    if (b.units.empty()) {  // the plan itself, once the entity is known
      json up = {{"command", "upload_plan"},
                 {"entity", entity},
                 {"plan", plan},
                 {"name", cell(c_plan_name).text.empty() ? plan : cell(c_plan_name).text},
                 {"period", {first_year, last_year}},
                 {"document_sha256", b.sha256}};
      Stamp(up, b, o, header->number, "upload_plan");
      RowReport p{.file = b.file,
                  .sheet = b.sheet,
                  .sha256 = b.sha256,
                  .row = header->number,
                  .key = plan,
                  .unit = 0};
      b.units.push_back({std::move(up)});
      b.rows.push_back(std::move(p));
    }
    if (goal.empty()) {
      reject("missing_value", c_goal, "empty goal id");
      continue;
    }
    if (!goals.insert(goal).second) {
      reject("duplicate_goal", c_goal, "goal id '" + goal + "' appears in an earlier row of the sheet");
      continue;
    }
    const auto target = Number(cell(c_target));
    if (!target) {
      reject(cell(c_target).type == xlsx::Cell::Type::kEmpty ? "missing_value" : "not_a_number", c_target,
             "'" + cell(c_target).text + "' is not a number (the four-year target)");
      continue;
    }
    const std::string acc_text = cell(c_acc).text;
    const std::string acc = acc_text == "Acumulativo"      ? "acumulativo"
                            : acc_text == "No acumulativo" ? "no_acumulativo"
                                                           : "";
    if (acc.empty()) {
      reject(acc_text.empty() ? "missing_value" : "bad_value", c_acc,
             "'" + acc_text + "' is not an accumulation type (Acumulativo, No acumulativo)");
      continue;
    }
    const std::string name = !cell(c_custom).text.empty() ? cell(c_custom).text : cell(c_ind_name).text;
    json def = {{"command", "define_goal"},
                {"entity", entity},
                {"plan", plan},
                {"goal", goal},
                {"cpi_indicator", cell(c_cpi).text},
                {"name", name},
                {"unit", cell(c_unit).text},
                {"target", *target},
                {"accumulation", acc}};
    Stamp(def, b, o, row.number, "define_goal");
    std::vector<json> unit = {std::move(def)};
    bool failed = false;
    std::vector<std::string> rounded, empty_years;
    for (auto [year, pcol] : programming) {
      const xlsx::Cell& pc = cell(pcol);
      double physical = 0;
      if (pc.type == xlsx::Cell::Type::kEmpty) {
        empty_years.push_back(std::to_string(year));
      } else if (auto v = Number(pc)) {
        physical = *v;
      } else {
        reject("not_a_number", pcol,
               "'" + pc.text + "' is not a number (the programming of " + std::to_string(year) + ")");
        failed = true;
        break;
      }
      json resources = json::object();
      for (const Money& m : money) {
        if (m.year != year) continue;
        const xlsx::Cell& mc = cell(m.col);
        if (mc.type == xlsx::Cell::Type::kEmpty) continue;
        const auto v = mc.type == xlsx::Cell::Type::kNumber ? Number(mc) : std::nullopt;
        if (!v || *v < 0) {
          reject("not_pesos", m.col,
                 "'" + mc.text + "' is not an amount in whole pesos (a number cell, " +
                     "no thousands separators, no decimals)");
          failed = true;
          break;
        }
        if (*v != std::floor(*v)) {
          // SisPT's own exports carry centavos left by formulas (16666666.6667 = 50 000 000 / 3):
          // those are rounded to the peso and reported; a fraction under 100 000 pesos is rather an
          // amount typed in thousands or millions, which must not be scaled silently.
          if (*v < 100000) {
            reject("not_pesos", m.col,
                   mc.text +
                       " has decimals and is under 100 000: an amount in millions "
                       "or thousands? Money is whole pesos (circular 0009-4, item 10)");
            failed = true;
            break;
          }
          rounded.push_back(xlsx::ColumnName(m.col) + std::to_string(row.number) + "=" + mc.text);
        }
        const int64_t pesos = std::llround(*v);
        if (pesos != 0) resources[m.source] = pesos;
      }
      if (failed) break;
      json prog = {{"command", "program_goal"},
                   {"entity", entity},
                   {"plan", plan},
                   {"goal", goal},
                   {"year", year},
                   {"physical", physical},
                   {"resources", resources}};
      Stamp(prog, b, o, row.number, "program_goal-" + std::to_string(year));
      unit.push_back(std::move(prog));
    }
    if (failed) continue;
    if (!rounded.empty()) {
      std::string list;
      for (const auto& x : rounded) list += (list.empty() ? "" : ", ") + x;
      r.warnings.push_back("centavos_rounded");
      r.message = "amounts with centavos rounded to whole pesos: " + list;
    }
    if (!empty_years.empty()) {
      std::string list;
      for (const auto& y : empty_years) list += (list.empty() ? "" : ", ") + y;
      r.warnings.push_back("empty_programming");
      r.message += std::string(r.message.empty() ? "" : "; ") + "no physical programming for " + list +
                   " (taken as 0)";
    }
    r.unit = static_cast<int>(b.units.size());
    b.units.push_back(std::move(unit));
    b.rows.push_back(std::move(r));
  }
  if (b.units.empty()) return Status::InvalidArgument(at_sheet + ": no goal rows below the header");
  return b;
}

}  // namespace veeduria::producers
