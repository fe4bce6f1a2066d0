// The mdm subcommands: the recompute (live or --as-of, --explain, --compare), publish and import.
// The computing is veeduria::events::mdm (pure) over the mdm projection's rows
// (veeduria/projections/mdm.h); this file only opens, submits and prints.

#include <chrono>
#include <iostream>
#include <map>

#include "cli.h"
#include "veeduria/events/command.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/time.h"
#include "veeduria/producers/mdm_import.h"
#include "veeduria/projections/mdm.h"
#include "veeduria/projections/view.h"

namespace veeduria::cli {
namespace {

using nlohmann::json;

events::Micros Now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<projections::View>> ViewFor(const projections::ProjectionStore& store,
                                                   const std::string& as_of, int vigencia) {
  if (as_of.empty()) return projections::LiveView(store, Now());
  auto t = events::ParseInstant(as_of);
  if (!t)
    return Status::InvalidArgument("--as-of: expected an RFC 3339 time or a date YYYY-MM-DD, got '" + as_of +
                                   "'");
  return projections::AsOfView(store, projections::AsOfKeysForMdm(store, vigencia), *t);
}

// Parses and appends commands (one group commit), then brings the projections up to date.
Result<std::vector<events::Decision>> Apply(const std::string& data, const std::vector<json>& commands) {
  std::vector<events::Command> parsed;
  for (size_t i = 0; i < commands.size(); ++i) {
    auto p = events::ParseCommand(commands[i].dump(), static_cast<int>(i + 1));
    if (!p.command) return Status::Internal(p.error ? p.error->message : "bad command");
    parsed.push_back(std::move(*p.command));
  }
  std::vector<events::Decision> decided;
  {
    auto ledger = OpenLedger(data, true);
    if (!ledger.ok()) return ledger.status();
    if (!parsed.empty()) {
      auto d = (*ledger)->Append(parsed);
      if (!d.ok()) return d.status();
      decided = std::move(*d);
    }
  }
  auto caught = OpenCaughtUp(data);
  if (!caught.ok()) return caught.status();
  return decided;
}

}  // namespace

Result<projections::Table> MdmTable(const projections::ProjectionStore& store, const MdmOptions& o,
                                    const std::string& as_of) {
  if (o.vigencia == 0) return Status::InvalidArgument("mdm: --vigencia is required");
  if (o.explain && o.params.entity.empty()) return Status::InvalidArgument("mdm --explain needs --entity");
  auto view = ViewFor(store, as_of, o.vigencia);
  if (!view.ok()) return Status(view.status().code(), view.status().ToString());
  projections::MdmParams p = o.params;
  p.vigencia = o.vigencia;
  if (!o.compare.empty()) {
    auto text = ReadFile(o.compare);
    if (!text.ok()) return Status(text.status().code(), text.status().ToString());
    auto parsed = producers::ParseMdmTable(*text, o.compare, o.vigencia, o.methodology, "", "");
    if (!parsed.ok()) return parsed.status();
    for (const auto& r : parsed->rows)
      if (r.status == "rejected") std::cerr << r.message << "\n";
    auto scores = projections::MdmRecompute(**view, o.vigencia);
    if (!scores.ok()) return scores.status();
    return projections::MdmCompare(*scores, parsed->published);
  }
  if (o.explain) return projections::MdmExplain(**view, o.vigencia, p.entity);
  return projections::MdmQuery(**view, p);
}

int RunMdm(const std::string& data, const MdmOptions& o, const QueryOptions& q) {
  if (o.vigencia == 0) return Fail("mdm: --vigencia is required");
  if (o.explain && o.params.entity.empty()) return Fail("mdm --explain needs --entity");
  auto opened = OpenProjections(data);
  if (!opened.ok()) return Fail(opened.status().ToString());
  auto table = MdmTable(*opened->store, o, q.as_of);
  if (!table.ok()) return Fail(table.status().message());
  std::cout << projections::Render(*table, q.format);
  return 0;
}

int RunMdmPublish(const std::string& data, const MdmOptions& o) {
  if (o.actor.empty()) return Fail("mdm publish: --actor is required (a DNP user)");
  std::vector<json> commands;
  {
    auto opened = OpenCaughtUp(data);
    if (!opened.ok()) return Fail(opened.status().ToString());
    auto view = projections::LiveView(*opened->store, Now());
    auto scores = projections::MdmRecompute(*view, o.vigencia);
    if (!scores.ok()) return Fail(scores.status().message());
    if (scores->empty())
      return Fail("mdm publish: no MDM inputs recorded for vigencia " + std::to_string(o.vigencia));
    commands = projections::MdmPublishCommands(*scores, o.actor, o.at);
  }
  auto decided = Apply(data, commands);
  if (!decided.ok()) return Fail(decided.status().ToString());
  std::map<std::string, int> counts;
  for (size_t i = 0; i < decided->size(); ++i) {
    const auto& d = (*decided)[i];
    ++counts[events::OutcomeName(d.outcome)];
    if (d.outcome == events::Outcome::kRejected || d.outcome == events::Outcome::kInvalid)
      std::cout << commands[i]["entity"].get<std::string>() << ": " << events::OutcomeName(d.outcome) << " ("
                << d.reason << "): " << d.message << "\n";
  }
  std::cout << "mdm publish " << o.vigencia << ": " << commands.size()
            << " municipalities: " << counts["accepted"] << " published, " << counts["duplicate"]
            << " already published with these inputs and positions, " << counts["rejected"] << " rejected\n";
  return counts["rejected"] || counts["invalid"] ? 1 : 0;
}

int RunMdmImport(const std::string& data, const std::string& file, const MdmOptions& o, bool as_json) {
  if (o.vigencia == 0) return Fail("mdm import: --vigencia is required");
  if (o.actor.empty()) return Fail("mdm import: --actor is required (a DNP user)");
  auto text = ReadFile(file);
  if (!text.ok()) return Fail(text.status().ToString());
  auto parsed = producers::ParseMdmTable(*text, file, o.vigencia, o.methodology, o.actor, o.at);
  if (!parsed.ok()) return Fail(parsed.status().message());
  auto decided = Apply(data, parsed->commands);
  if (!decided.ok()) return Fail(decided.status().ToString());
  // Each data row: imported (accepted), skipped (the same row was imported before: a duplicate
  // command), or rejected (a bad value here, or refused by the ledger, e.g. unknown_entity).
  std::map<int, const events::Decision*> by_line;
  for (size_t i = 0; i < decided->size(); ++i) by_line[parsed->command_lines[i]] = &(*decided)[i];
  std::map<std::string, int> counts;
  for (const auto& r : parsed->rows) {
    std::string status = r.status, message = r.message, reason;
    if (auto it = by_line.find(r.line); it != by_line.end()) {
      const events::Decision& d = *it->second;
      if (d.outcome == events::Outcome::kDuplicate) {
        status = "skipped";
        message = "already imported (" + d.event_ids.front() + ")";
      } else if (d.outcome != events::Outcome::kAccepted) {
        status = "rejected";
        reason = d.reason;
        message = file + ":" + std::to_string(r.line) + ": " + d.message;
      } else {
        message = d.event_ids.front();
      }
    }
    ++counts[status];
    if (as_json) {
      nlohmann::ordered_json j = {{"line", r.line}, {"entity", r.entity}, {"status", status}};
      if (!reason.empty()) j["reason"] = reason;
      j["message"] = message;
      std::cout << j.dump() << "\n";
    } else {
      std::cout << "line " << r.line << " " << r.entity << ": " << status;
      if (!reason.empty()) std::cout << " (" << reason << ")";
      std::cout << ": " << message << "\n";
    }
  }
  std::cerr << "mdm import " << file << ": " << parsed->rows.size() << " rows: " << counts["imported"]
            << " imported, " << counts["skipped"] << " skipped, " << counts["rejected"] << " rejected\n";
  return 0;
}

}  // namespace veeduria::cli
