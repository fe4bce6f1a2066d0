// DIVIPOLA in the shapes it is published in (producers/README.md, ../shared/data/divipola/):
//   cleaned   cod_dpto,nom_dpto,cod_mpio,nom_mpio,tipo,…           (codes zero-padded)
//   DANE      Código Departamento,Nombre Departamento,Código Municipio,…,Tipo: Municipio / Isla /…
//             (BOM, department code "5", decimal commas in the coordinates)
//   raw       COD_DPTO,NOM_DPTO,COD_MPIO,NOM_MPIO,TIPO,…             (BOM, "5,001")
//   departments only: cod_dpto,nom_dpto
// The shape is told by the header; all give the same entities.

#include <set>

#include "veeduria/events/command.h"
#include "veeduria/producers/csv.h"
#include "veeduria/producers/importers.h"

namespace veeduria::producers {

using nlohmann::json;
using namespace import_internal;

namespace {

// "5" -> "05", "5,001" -> "05001", "05001" -> "05001"; "" when not a code of `width` digits.
std::string Code(const std::string& raw, size_t width) {
  std::string digits;
  for (char c : raw) {
    if (c >= '0' && c <= '9')
      digits += c;
    else if (c != ',' && c != '.' && c != ' ')
      return "";
  }
  if (digits.empty() || digits.size() > width) return "";
  return std::string(width - digits.size(), '0') + digits;
}

}  // namespace

Result<ImportBatch> ImportDivipola(const std::string& bytes, const std::string& path,
                                   const ImportOptions& o) {
  auto csv = OpenCsv(bytes, path, "divipola");
  if (!csv.ok()) return csv.status();
  ImportBatch b = std::move(csv->batch);
  const auto& records = csv->records;
  auto col = [&](std::initializer_list<const char*> names) { return csv->Column(names, true); };
  const int c_dpto = col({"cod_dpto", "codigo_departamento"}),
            c_ndpto = col({"nom_dpto", "nombre_departamento"});
  const int c_mpio = col({"cod_mpio", "codigo_municipio"}), c_nmpio = col({"nom_mpio", "nombre_municipio"});
  const int c_tipo = col({"tipo"});
  if (c_dpto < 0 || c_ndpto < 0)
    return Status::InvalidArgument(b.file +
                                   ", row 1: missing column cod_dpto/Código Departamento or "
                                   "nom_dpto/Nombre Departamento (not a DIVIPOLA file)");
  const bool departments_only = c_mpio < 0;
  if (!departments_only && (c_nmpio < 0 || c_tipo < 0))
    return Status::InvalidArgument(b.file + ", row 1: missing column " +
                                   (c_nmpio < 0 ? "nom_mpio/Nombre Municipio" : "tipo/Tipo"));

  std::set<std::string> departments;
  auto add = [&](int row, const std::string& code, const std::string& name, const std::string& kind,
                 const std::string& dept) {
    json cmd = {{"command", "register_entity"},
                {"entity", code},
                {"name", name},
                {"kind", kind},
                {"department", dept}};
    Stamp(cmd, b, o, row, "entity-" + code);
    RowReport r{.file = b.file, .sha256 = b.sha256, .row = row, .key = code};
    r.unit = static_cast<int>(b.units.size());
    b.units.push_back({cmd});
    b.rows.push_back(std::move(r));
  };
  for (size_t i = 1; i < records.size(); ++i) {
    const CsvRecord& rec = records[i];
    auto field = [&](int c) {
      return c < static_cast<int>(rec.fields.size()) ? rec.fields[c] : std::string();
    };
    auto reject = [&](const std::string& key, const std::string& reason, int c, const std::string& msg) {
      RowReport r{.file = b.file,
                  .sha256 = b.sha256,
                  .row = rec.line,
                  .key = key,
                  .status = "rejected",
                  .reason = reason,
                  .column = records[0].fields[c]};
      r.message = b.file + ", row " + std::to_string(rec.line) + ", column " + r.column + ": " + msg;
      b.rows.push_back(std::move(r));
    };
    const std::string dept = Code(field(c_dpto), 2);
    if (dept.empty()) {
      reject(field(c_dpto), "bad_entity_code", c_dpto, "'" + field(c_dpto) + "' is not a department code");
      continue;
    }
    // Departments (and Bogotá D.C. as a first-level unit) come from the distinct code/name pairs,
    // registered at the first row that names them, before any of their municipalities.
    if (departments.insert(dept).second) add(rec.line, dept, field(c_ndpto), "departamento", dept);
    if (departments_only) continue;
    const std::string mpio = Code(field(c_mpio), 5);
    if (mpio.empty() || !mpio.starts_with(dept)) {
      reject(field(c_mpio), "bad_entity_code", c_mpio,
             "'" + field(c_mpio) + "' is not a municipality code of department " + dept);
      continue;
    }
    const std::string tipo = field(c_tipo);
    if (tipo != "Municipio") {
      // An island (San Andrés) or an área no municipalizada is not an entity that reports.
      RowReport r{.file = b.file, .sha256 = b.sha256, .row = rec.line, .key = mpio, .status = "skipped"};
      r.reason = tipo == "Isla" ? "island" : "area_no_municipalizada";
      r.column = records[0].fields[c_tipo];
      r.message = b.file + ", row " + std::to_string(rec.line) + ": " + mpio + " " + field(c_nmpio) +
                  " is '" + tipo + "', not a municipality: it has no plan of its own to report";
      b.rows.push_back(std::move(r));
      continue;
    }
    add(rec.line, mpio, field(c_nmpio), mpio == "11001" ? "distrito" : "municipio", dept);
  }
  return b;
}

}  // namespace veeduria::producers
