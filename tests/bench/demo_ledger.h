#pragma once
// The benchmarks' dataset: `veeduria gen --scale demo --seed 2023` (Cundinamarca's 117
// entities, ~48k commands) after a simulated-clock init, appended in groups of `chunk`.
#include <sstream>
#include <string>
#include <vector>

#include "veeduria/events/command.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/producers/generator.h"

namespace veeduria::bench {

inline void AppendDemo(producers::EmbeddedLedger& ledger, size_t chunk) {
  producers::GeneratorOptions o;
  o.data_dir = std::string(VEEDURIA_SOURCE_DIR) + "/../shared/data";
  o.campaigns_file = std::string(VEEDURIA_SOURCE_DIR) + "/ops/campaigns/2023.jsonl";
  std::ostringstream out;
  (void)producers::Generate(o, out);
  std::vector<events::Command> cmds;
  cmds.push_back(
      *events::ParseCommand(
           R"({"command":"init","command_id":"init","actor":"admin@dnp.gov.co","clock":"simulated","admin":"admin@dnp.gov.co","at":"2023-01-02T08:00:00-05:00"})",
           0)
           .command);
  const std::string text = out.str();
  for (const auto& line : events::SplitLines(text)) {
    cmds.push_back(*events::ParseCommand(line.text, line.line_no).command);
    if (cmds.size() == chunk) {
      (void)ledger.Append(cmds);
      cmds.clear();
    }
  }
  (void)ledger.Append(cmds);
}

}  // namespace veeduria::bench
