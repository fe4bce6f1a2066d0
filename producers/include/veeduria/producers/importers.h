#pragma once
// Importers (`veeduria import KIND FILE`): each turns a file that entities and DNP actually have
// into commands of DESIGN §2.4, and RunImport submits them with their provenance.
//
// An importer's output is an ImportBatch: "units" of commands that must be written together (a
// plan row's define_goal and its program_goal per year; the one load_catalog of a catalogue) and
// one RowReport per file row, which either refers to a unit or already says why the row is
// skipped or rejected (a value the importer cannot read, a DIVIPOLA island). A file the importer
// cannot read at all (truncated workbook, missing sheet or column, not UTF-8) is an error Status
// naming the file, sheet, row and column.
//
// Provenance: every command carries
//   command_id     import:<first 16 hex of the file's SHA-256>:<row>:<what>  (so re-importing the
//                  same bytes is a no-op: every command is a `duplicate`)
//   correlation_id import:<kind>:<full SHA-256 of the file>  (every command of one file)
//   causation_id   <file name>#<sheet>!<row>  (where the command came from)
// and each RowReport keeps the file name, sheet, row number and SHA-256.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "veeduria/events/status.h"
#include "veeduria/producers/csv.h"
#include "veeduria/producers/embedded_ledger.h"

namespace veeduria::producers {

struct ImportOptions {
  std::string actor = "admin@dnp.gov.co";  // who issues the commands
  std::string entity;                      // plan/progress: the entity (checked against the file)
  std::string version;                     // catalog: the catalogue version (default: file stem)
  std::string plan;                        // plan: the plan id (default PDT-<first>-<last year>)
  std::string at;                          // simulated ledgers: the `at` of every command
};

struct RowReport {
  std::string file, sheet, sha256;
  int row = 0;          // the row number as the file shows it (CSV line, spreadsheet row)
  std::string key;      // what the row is about: an entity code, a goal id, a CPI code
  std::string status;   // imported | duplicate | skipped | rejected (set by RunImport for units)
  std::string reason;   // skipped/rejected: a reason code
  std::string column;   // the column at fault, as the file names it ("M" + header, or header)
  std::string message;  // names file, sheet, row and column
  std::vector<std::string> warnings;  // importer warnings (e.g. centavos_rounded) and ledger flags
  std::vector<std::string> command_ids;
  int unit = -1;  // index into ImportBatch::units, or -1 when the importer decided
};

struct ImportBatch {
  std::string kind, file, sheet, sha256;
  std::vector<std::vector<nlohmann::json>> units;  // each written all-or-nothing
  std::vector<RowReport> rows;
};

struct ImportSummary {
  size_t rows = 0, imported = 0, duplicate = 0, skipped = 0, rejected = 0, commands = 0, events = 0,
         warnings = 0;
  double seconds = 0;
  bool dry_run = false;
};

// File readers: `bytes` is the whole file, `file` its name for messages and provenance.
Result<ImportBatch> ImportDivipola(const std::string& bytes, const std::string& file, const ImportOptions& o);
Result<ImportBatch> ImportCatalog(const std::string& bytes, const std::string& file, const ImportOptions& o);
Result<ImportBatch> ImportPlan(const std::string& bytes, const std::string& file, const ImportOptions& o);
Result<ImportBatch> ImportProgress(const std::string& bytes, const std::string& file, const ImportOptions& o);
// Dispatches on kind: divipola | catalog | plan | progress.
Result<ImportBatch> ReadImport(const std::string& kind, const std::string& bytes, const std::string& file,
                               const ImportOptions& o);

// Submits the batch's units through `ledger` in group-committed chunks, a unit never split.
// Each unit is first decided against an overlay of the ledger's state: a unit with any refusal
// writes only its first refused command (so the refusal is on the record, as with `submit`) and
// none of its accepted ones. With dry_run nothing is appended: the rules run on the overlay.
// Fills every row's status and calls `on_row` for each, in file order.
Result<ImportSummary> RunImport(EmbeddedLedger& ledger, ImportBatch& batch, bool dry_run,
                                const std::function<void(const RowReport&)>& on_row);

// One JSON object per row report (the `--json` output).
nlohmann::ordered_json RowReportJson(const RowReport& r);

// Helpers shared by the importers (import_common.cc).
namespace import_internal {
std::string Sha256Hex(const std::string& bytes);
std::string BaseName(const std::string& path);
// Empty when `bytes` is UTF-8; else an error naming the file, row (line) and column (byte).
std::string CheckUtf8(const std::string& bytes, const std::string& file);
// Lower case, accents removed, spaces and punctuation as '_': "Avance físico" -> avance_fisico.
std::string NormalizeHeader(const std::string& header);
// A CSV file opened for import: the batch it starts (kind, file name, SHA-256), its records and
// its normalized header. Fails for a file that is not UTF-8 or is empty.
struct CsvFile {
  ImportBatch batch;
  std::vector<CsvRecord> records;
  std::vector<std::string> header;  // NormalizeHeader of each column
  // The first column named one of `names` (or, with `prefix`, starting with "<name>_"); -1 if none.
  int Column(std::initializer_list<const char*> names, bool prefix = false) const;
};
Result<CsvFile> OpenCsv(const std::string& bytes, const std::string& path, const std::string& kind,
                        char separator = ',');
// Provenance fields of one command.
void Stamp(nlohmann::json& cmd, const ImportBatch& b, const ImportOptions& o, int row,
           const std::string& what);
}  // namespace import_internal

}  // namespace veeduria::producers
