// The CPI catalogue: one load_catalog per version, from the sample derived from SisPT
// (codigo_sector,…,codigo_indicador,indicador,unidad_medida,indicador_principal,…) or a file
// with DNP's Spanish headers (Código sector, Código programa, …). Rows whose codes do not nest
// (sector 2 → programa 4 → producto 7 → indicador 9 digits, each the prefix of the next) are
// rejected one by one and left out of the command.

#include <filesystem>
#include <set>

#include "veeduria/producers/csv.h"
#include "veeduria/producers/importers.h"

namespace veeduria::producers {

using nlohmann::json;
using namespace import_internal;

Result<ImportBatch> ImportCatalog(const std::string& bytes, const std::string& path, const ImportOptions& o) {
  auto csv = OpenCsv(bytes, path, "catalog");
  if (!csv.ok()) return csv.status();
  ImportBatch b = std::move(csv->batch);
  const auto& records = csv->records;
  auto col = [&](std::initializer_list<const char*> names) { return csv->Column(names); };
  const int c_sector = col({"codigo_sector"}), c_programa = col({"codigo_programa"}),
            c_producto = col({"codigo_producto"}),
            c_ind = col({"codigo_indicador", "codigo_indicador_de_producto", "codigo_del_indicador"}),
            c_name = col({"indicador", "nombre_indicador", "indicador_de_producto"}),
            c_unit = col({"unidad_medida", "unidad_de_medida"}),
            c_principal = col({"indicador_principal", "principal"});
  for (auto [c, name] : {std::pair{c_sector, "codigo_sector"},
                         {c_programa, "codigo_programa"},
                         {c_producto, "codigo_producto"},
                         {c_ind, "codigo_indicador"},
                         {c_name, "indicador"}})
    if (c < 0) return Status::InvalidArgument(b.file + ", row 1: missing column " + name);
  const std::string version = !o.version.empty() ? o.version : std::filesystem::path(b.file).stem().string();
  json rows = json::array();
  std::set<std::string> seen;
  for (size_t i = 1; i < records.size(); ++i) {
    const CsvRecord& rec = records[i];
    auto field = [&](int c) {
      return c >= 0 && c < static_cast<int>(rec.fields.size()) ? rec.fields[c] : "";
    };
    const std::string s = field(c_sector), p = field(c_programa), d = field(c_producto), ind = field(c_ind);
    RowReport r{.file = b.file, .sha256 = b.sha256, .row = rec.line, .key = ind};
    auto digits = [](const std::string& v, size_t n) {
      return v.size() == n && v.find_first_not_of("0123456789") == std::string::npos;
    };
    int bad = -1;
    std::string why;
    if (!digits(s, 2))
      bad = c_sector, why = "'" + s + "' is not a 2-digit sector code";
    else if (!digits(p, 4) || !p.starts_with(s))
      bad = c_programa, why = "'" + p + "' is not a 4-digit programa code of sector " + s;
    else if (!digits(d, 7) || !d.starts_with(p))
      bad = c_producto, why = "'" + d + "' is not a 7-digit producto code of programa " + p;
    else if (!digits(ind, 9) || !ind.starts_with(d))
      bad = c_ind, why = "'" + ind + "' is not a 9-digit indicador code of producto " + d;
    else if (!seen.insert(ind).second)
      bad = c_ind, why = "indicator " + ind + " appears twice";
    if (bad >= 0) {
      r.status = "rejected";
      r.reason = why.find("twice") != std::string::npos ? "duplicate_row" : "bad_cpi_hierarchy";
      r.column = records[0].fields[bad];
      r.message = b.file + ", row " + std::to_string(rec.line) + ", column " + r.column + ": " + why +
                  " (left out of version " + version + ")";
      b.rows.push_back(std::move(r));
      continue;
    }
    json row = {{"indicator", ind}, {"name", field(c_name)}};
    if (c_unit >= 0) row["unit"] = field(c_unit);
    if (c_principal >= 0)
      row["principal"] = field(c_principal) == "Sí" || field(c_principal) == "Si" ||
                         field(c_principal) == "S" || field(c_principal) == "true";
    rows.push_back(std::move(row));
    r.unit = 0;
    b.rows.push_back(std::move(r));
  }
  json cmd = {{"command", "load_catalog"}, {"version", version}, {"rows", std::move(rows)}};
  Stamp(cmd, b, o, 1, "catalog-" + version);
  b.units.push_back({std::move(cmd)});
  return b;
}

}  // namespace veeduria::producers
