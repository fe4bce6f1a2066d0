#include "veeduria/producers/mdm_import.h"

#include <cmath>
#include <cstdlib>
#include <map>

#include "veeduria/producers/csv.h"

namespace veeduria::producers {

using nlohmann::json;
namespace mdm = events::mdm;

Result<MdmImport> ParseMdmTable(std::string_view text, const std::string& file, int vigencia,
                                const std::string& methodology, const std::string& actor,
                                const std::string& at) {
  const mdm::Methodology* m = mdm::FindMethodology(methodology);
  if (!m) return Status::InvalidArgument("methodology '" + methodology + "' is not known");
  const auto records = producers::ParseCsv(text);
  if (records.empty()) return Status::InvalidArgument(file + ": empty file");
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < records[0].fields.size(); ++i) col[records[0].fields[i]] = i;
  std::vector<std::string> required = {"cod_mpio", "gestion", "resultados", "mdm"};
  for (const auto& spec : m->inputs) required.push_back(spec.name);
  for (const auto& c : required)
    if (!col.count(c))
      return Status::InvalidArgument(file + ":" + std::to_string(records[0].line) +
                                     ": the header has no column '" + c + "'");
  const std::string base =
      file.substr(file.find_last_of('/') == std::string::npos ? 0 : file.find_last_of('/') + 1);
  const auto pos_col = col.count("national_position")   ? col["national_position"]
                       : col.count("posicion_nacional") ? col["posicion_nacional"]
                                                        : std::string::npos;
  MdmImport out;
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    MdmImportRow row{rec.line, "", "imported", ""};
    auto field = [&](const std::string& c) -> std::string {
      const size_t i = col[c];
      return i < rec.fields.size() ? rec.fields[i] : "";
    };
    auto reject = [&](const std::string& c, const std::string& value, const std::string& why) {
      row.status = "rejected";
      row.message =
          file + ":" + std::to_string(rec.line) + ": column '" + c + "': value '" + value + "' " + why;
    };
    auto number = [&](const std::string& c, double* v) {
      const std::string s = field(c);
      char* end = nullptr;
      *v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(*v)) {
        reject(c, s, "is not a number");
        return false;
      }
      return true;
    };
    row.entity = field("cod_mpio");
    const bool code_ok = row.entity.size() == 5 && std::all_of(row.entity.begin(), row.entity.end(),
                                                               [](char c) { return c >= '0' && c <= '9'; });
    if (!code_ok) reject("cod_mpio", row.entity, "is not a 5-digit DANE code");
    json inputs = json::object();
    mdm::Published pub;
    pub.line = rec.line;
    pub.entity = row.entity;
    pub.name = col.count("nom_mpio") ? field("nom_mpio") : "";
    if (row.status == "imported")
      for (const auto& spec : m->inputs) {
        double v;
        if (!number(spec.name, &v)) break;
        if (!mdm::InRange(spec, v)) {
          reject(spec.name, field(spec.name), "is out of range for " + methodology);
          break;
        }
        inputs[spec.name] = v;
      }
    if (row.status == "imported" && number("gestion", &pub.gestion) &&
        number("resultados", &pub.resultados) && number("mdm", &pub.mdm)) {
      if (col.count("ajuste_por_resultados")) pub.ajuste = inputs.value("ajuste_por_resultados", 0.0);
      if (pos_col != std::string::npos && pos_col < rec.fields.size() && !rec.fields[pos_col].empty())
        pub.national_position = std::atoi(rec.fields[pos_col].c_str());
    }
    if (row.status == "imported") {
      const std::string source = base + " line " + std::to_string(rec.line);
      json c = {{"command", "record_mdm_inputs"},
                {"actor", actor},
                {"entity", row.entity},
                {"vigencia", vigencia},
                {"methodology", methodology},
                {"inputs", inputs},
                {"source", source}};
      // The same row of the same file gives the same id: importing a file again is a duplicate.
      c["command_id"] = "mdm-import-" + std::to_string(vigencia) + "-" + row.entity + "-" +
                        events::ToHex(events::Sha256(c.dump())).substr(0, 16);
      if (!at.empty()) c["at"] = at;
      out.commands.push_back(std::move(c));
      out.command_lines.push_back(rec.line);
      out.published.push_back(std::move(pub));
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace veeduria::producers
