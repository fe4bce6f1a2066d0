// The import framework: provenance, the all-or-nothing submission of units, row reports.

#include <chrono>
#include <cstdio>
#include <map>

#include "veeduria/events/command.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/sha256.h"
#include "veeduria/events/state.h"
#include "veeduria/producers/importers.h"

namespace veeduria::producers {

using nlohmann::json;

namespace import_internal {

std::string Sha256Hex(const std::string& bytes) { return events::ToHex(events::Sha256(bytes)); }

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string CheckUtf8(const std::string& s, const std::string& file) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!ok) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      // Latin-1 (Windows-1252) is what Excel writes for "CSV" on Spanish Windows: say so.
      return file + ": not UTF-8 (row " + std::to_string(line) + ", column " +
             std::to_string(i - line_start + 1) + " of the line, byte " + hex +
             "; looks like Latin-1/Windows-1252): save the file as \"CSV UTF-8\" and import it again";
    }
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    }
    i += n;
  }
  return "";
}

std::string NormalizeHeader(const std::string& h) {
  static const std::map<std::string, char> kAccents = {
      {"á", 'a'}, {"é", 'e'}, {"í", 'i'}, {"ó", 'o'}, {"ú", 'u'}, {"ü", 'u'}, {"ñ", 'n'},
      {"Á", 'a'}, {"É", 'e'}, {"Í", 'i'}, {"Ó", 'o'}, {"Ú", 'u'}, {"Ü", 'u'}, {"Ñ", 'n'}};
  std::string out;
  std::string_view s = h;
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) >= 0x80 && i + 1 < s.size()) {
      auto it = kAccents.find(std::string(s.substr(i, 2)));
      if (it != kAccents.end()) out += it->second;
      i += 2;
      continue;
    }
    const char c = s[i++];
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != '_')
      out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

void Stamp(json& cmd, const ImportBatch& b, const ImportOptions& o, int row, const std::string& what) {
  cmd["command_id"] = "import:" + b.sha256.substr(0, 16) + ":" + std::to_string(row) + ":" + what;
  cmd["actor"] = o.actor;
  cmd["correlation_id"] = "import:" + b.kind + ":" + b.sha256;
  cmd["causation_id"] = b.file + "#" + (b.sheet.empty() ? "" : b.sheet + "!") + std::to_string(row);
  if (!o.at.empty()) cmd["at"] = o.at;
}

int CsvFile::Column(std::initializer_list<const char*> names, bool prefix) const {
  for (size_t i = 0; i < header.size(); ++i)
    for (const char* n : names)
      if (header[i] == n || (prefix && header[i].starts_with(std::string(n) + "_")))
        return static_cast<int>(i);
  return -1;
}

Result<CsvFile> OpenCsv(const std::string& bytes, const std::string& path, const std::string& kind,
                        char separator) {
  CsvFile f;
  f.batch.kind = kind;
  f.batch.file = BaseName(path);
  f.batch.sha256 = Sha256Hex(bytes);
  if (auto bad = CheckUtf8(bytes, f.batch.file); !bad.empty()) return Status::InvalidArgument(bad);
  f.records = ParseCsv(bytes, separator);
  if (f.records.empty()) return Status::InvalidArgument(f.batch.file + ": empty file");
  for (const auto& h : f.records[0].fields) f.header.push_back(NormalizeHeader(h));
  return f;
}

}  // namespace import_internal

Result<ImportBatch> ReadImport(const std::string& kind, const std::string& bytes, const std::string& file,
                               const ImportOptions& o) {
  if (kind == "divipola") return ImportDivipola(bytes, file, o);
  if (kind == "catalog") return ImportCatalog(bytes, file, o);
  if (kind == "plan") return ImportPlan(bytes, file, o);
  if (kind == "progress") return ImportProgress(bytes, file, o);
  return Status::InvalidArgument("unknown import kind '" + kind + "' (divipola, catalog, plan, progress)");
}

nlohmann::ordered_json RowReportJson(const RowReport& r) {
  nlohmann::ordered_json j = {{"file", r.file},     {"sheet", r.sheet}, {"row", r.row},
                              {"sha256", r.sha256}, {"key", r.key},     {"status", r.status}};
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (!r.column.empty()) j["column"] = r.column;
  if (!r.message.empty()) j["message"] = r.message;
  j["warnings"] = r.warnings;
  j["commands"] = r.command_ids;
  return j;
}

namespace {

struct UnitOutcome {
  std::vector<events::Decision> decisions;  // one per command decided (stops at a refusal)
  int refused = -1;                         // index of the first refused or invalid command
  std::vector<bool> unchanged;              // refused `no_change`: already so in the ledger
  std::string parse_error, parse_field;
};

void AddFlags(std::vector<std::string>& to, const std::vector<std::string>& flags) {
  for (const auto& f : flags)
    if (std::find(to.begin(), to.end(), f) == to.end()) to.push_back(f);
}

}  // namespace

Result<ImportSummary> RunImport(EmbeddedLedger& ledger, ImportBatch& batch, bool dry_run,
                                const std::function<void(const RowReport&)>& on_row) {
  const auto start = std::chrono::steady_clock::now();
  ImportSummary sum;
  sum.dry_run = dry_run;
  const size_t n_units = batch.units.size();
  std::vector<std::vector<events::Command>> parsed(n_units);
  std::vector<UnitOutcome> outcome(n_units);
  for (size_t u = 0; u < n_units; ++u) {
    for (const json& j : batch.units[u]) {
      auto p = events::ParseCommand(j.dump(), 0);
      if (p.error) {  // an importer bug or a value the catalogue refuses: the unit writes nothing
        outcome[u].refused = static_cast<int>(parsed[u].size());
        outcome[u].parse_error = p.error->reason + ": " + p.error->message;
        outcome[u].parse_field = p.error->field;
        break;
      }
      parsed[u].push_back(std::move(*p.command));
    }
  }

  // Pre-decide each unit on an overlay holding the effect of the units before it that are not
  // appended yet; append whole chunks of units (one fsync each, as `submit` does).
  events::OverlayState pending(&ledger.state());
  std::vector<events::Command> chunk;
  std::vector<std::pair<size_t, size_t>> chunk_slots;  // (unit, command index)
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto flush = [&]() -> Status {
    if (chunk.empty() || dry_run) return Status::Ok();
    auto decided = ledger.Append(chunk);
    if (!decided.ok()) return decided.status();
    for (size_t i = 0; i < chunk.size(); ++i) {
      auto [u, k] = chunk_slots[i];
      auto& ds = outcome[u].decisions;
      if (ds.size() <= k) ds.resize(k + 1);
      ds[k] = std::move((*decided)[i]);
      sum.events += ds[k].events.size();
    }
    sum.commands += chunk.size();
    chunk.clear();
    chunk_slots.clear();
    pending.Clear();  // the ledger's state now holds what the overlay did
    return Status::Ok();
  };
  for (size_t u = 0; u < n_units; ++u) {
    UnitOutcome& out = outcome[u];
    if (!out.parse_error.empty()) continue;
    events::OverlayState unit_state(&pending);
    for (size_t k = 0; k < parsed[u].size(); ++k) {
      events::Decision d = events::Decide(unit_state, parsed[u][k], now());
      // `no_change` (already in the ledger as the file says, e.g. the same DIVIPOLA from another
      // export, or a re-exported plan whose goal did not change) is left out, not recorded as a
      // refusal, which would only be noise; the rest of the unit still goes in.
      out.unchanged.push_back(d.reason == "no_change");
      const bool refused = !out.unchanged.back() && (d.outcome == events::Outcome::kRejected ||
                                                     d.outcome == events::Outcome::kInvalid);
      if (d.outcome == events::Outcome::kAccepted)
        for (const auto& e : d.events) events::Evolve(unit_state, e);
      out.decisions.push_back(std::move(d));
      if (refused) {
        out.refused = static_cast<int>(k);
        break;
      }
    }
    if (out.refused < 0) {
      for (const auto& [key, value] : unit_state.writes().entries())
        value ? pending.Put(key, *value) : pending.Delete(key);
      for (size_t k = 0; k < parsed[u].size(); ++k) {
        if (out.unchanged[k]) continue;
        chunk.push_back(parsed[u][k]);
        chunk_slots.push_back({u, k});
      }
    } else if (out.decisions[out.refused].outcome == events::Outcome::kRejected) {
      // Only the refused command goes to the log, as its CommandRejected record.
      chunk.push_back(parsed[u][out.refused]);
      chunk_slots.push_back({u, static_cast<size_t>(out.refused)});
    }
    if (chunk.size() >= 1024) VEEDURIA_RETURN_IF_ERROR(flush());
  }
  VEEDURIA_RETURN_IF_ERROR(flush());

  for (RowReport& r : batch.rows) {
    if (r.unit >= 0) {
      const UnitOutcome& out = outcome[r.unit];
      for (const json& j : batch.units[r.unit]) r.command_ids.push_back(j.value("command_id", ""));
      const std::string where = r.file + (r.sheet.empty() ? "" : ", sheet '" + r.sheet + "'") + ", row " +
                                std::to_string(r.row) + ": ";
      if (!out.parse_error.empty()) {
        r.status = "rejected";
        r.reason = "invalid";
        r.column = out.parse_field;
        r.message = where + out.parse_error;
      } else if (out.refused >= 0) {
        const events::Decision& d = out.decisions[out.refused];
        r.status = "rejected";
        r.reason = d.reason;
        if (r.column.empty()) r.column = d.field;
        r.message = where + batch.units[r.unit][out.refused].value("command", "") + ": " + d.message;
      } else {
        bool all_dup = !out.decisions.empty(), all_same = all_dup;
        for (size_t k = 0; k < out.decisions.size(); ++k) {
          const auto& d = out.decisions[k];
          all_dup = all_dup && d.outcome == events::Outcome::kDuplicate;
          all_same = all_same && (out.unchanged[k] || d.outcome == events::Outcome::kDuplicate);
          if (!out.unchanged[k]) AddFlags(r.warnings, d.flags);
        }
        r.status = all_dup ? "duplicate" : all_same ? "skipped" : "imported";
        if (r.status == "skipped") {
          r.reason = "no_change";
          r.message = where + "already in the ledger as the file says";
        }
      }
    }
    ++sum.rows;
    if (r.status == "imported") ++sum.imported;
    if (r.status == "duplicate") ++sum.duplicate;
    if (r.status == "skipped") ++sum.skipped;
    if (r.status == "rejected") ++sum.rejected;
    if (!r.warnings.empty()) ++sum.warnings;
    if (on_row) on_row(r);
  }
  if (dry_run)
    for (const auto& u : batch.units) sum.commands += u.size();
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

}  // namespace veeduria::producers
