#pragma once
// The importer of a published MDM results table: rows → record_mdm_inputs commands.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/mdm.h"
#include "veeduria/events/status.h"

namespace veeduria::producers {

// A published results table (layout of ../shared/data/mdm/mdm_2020_antioquia.csv: cod_mpio,
// nom_mpio, the methodology's inputs by name, gestion, resultados, mdm; optional
// national_position) turned into record_mdm_inputs commands, one per good row. `source` of each
// command names the file and the line: "<file> line <n>".
struct MdmImportRow {
  int line = 0;
  std::string entity;
  std::string status;  // "imported" (a command), "rejected" (a bad value: see message)
  std::string message;
};
struct MdmImport {
  std::vector<nlohmann::json> commands;  // in file order
  std::vector<int> command_lines;        // the file line of each command
  std::vector<events::mdm::Published> published;
  std::vector<MdmImportRow> rows;  // every data row, in file order
};
// Fails only when the header lacks a column; bad rows are reported in `rows` with the file, line,
// column and value.
Result<MdmImport> ParseMdmTable(std::string_view text, const std::string& file, int vigencia,
                                const std::string& methodology, const std::string& actor,
                                const std::string& at);

}  // namespace veeduria::producers
