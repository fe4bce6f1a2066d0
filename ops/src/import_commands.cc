// veeduria import KIND FILE: files that entities and DNP have, turned into commands
// (producers/importers.h), submitted with group commit, one report per file row.

#include <iostream>

#include "cli.h"
#include "veeduria/producers/importers.h"

namespace veeduria::cli {

int RunImport(const std::string& data, const std::string& kind, const std::string& path,
              const producers::ImportOptions& options, bool dry_run, bool as_json) {
  const auto read = ReadFile(path);
  if (!read.ok()) return Fail(read.status().message());
  const std::string& bytes = *read;
  auto ledger = OpenLedger(data, true);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  if ((*ledger)->meta().clock == "simulated" && options.at.empty())
    return Fail("this ledger has a simulated clock: pass --at TIME (RFC 3339) for the imported commands");
  auto batch = producers::ReadImport(kind, bytes, path, options);
  if (!batch.ok()) return Fail(batch.status().message());
  auto summary = producers::RunImport(**ledger, *batch, dry_run, [&](const producers::RowReport& r) {
    if (as_json) {
      std::cout << producers::RowReportJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
      return;
    }
    std::cout << "row " << r.row << ": " << r.status;
    if (!r.reason.empty()) std::cout << " (" << r.reason << ")";
    std::cout << " " << r.key;
    if (!r.warnings.empty()) {
      std::cout << " [";
      for (size_t i = 0; i < r.warnings.size(); ++i) std::cout << (i ? "," : "") << r.warnings[i];
      std::cout << "]";
    }
    if (!r.message.empty()) std::cout << ": " << r.message;
    std::cout << "\n";
  });
  if (!summary.ok()) return Fail(summary.status().ToString());
  std::cout.flush();
  const auto& s = *summary;
  std::fprintf(stderr,
               "import %s %s%s: %zu rows: %zu imported, %zu duplicate, %zu skipped, %zu rejected (%zu with "
               "warnings); %zu commands, %zu events in %.3f s (%.0f rows/s)\n",
               kind.c_str(), batch->file.c_str(), dry_run ? " (dry run: nothing written)" : "", s.rows,
               s.imported, s.duplicate, s.skipped, s.rejected, s.warnings, s.commands, s.events, s.seconds,
               s.seconds > 0 ? s.rows / s.seconds : 0.0);
  if (!dry_run) {
    ledger->reset();  // OpenCaughtUp opens the ledger again to bring the projections up to date
    auto caught = OpenCaughtUp(data);
    if (!caught.ok()) return Fail(caught.status().ToString());
  }
  return 0;
}

}  // namespace veeduria::cli
