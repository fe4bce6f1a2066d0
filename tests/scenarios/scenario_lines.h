#pragma once
// The command lines of a scenario file (tests/scenarios/README.md), shared by the fixtures that
// replay one outside the scenario runner (projections, Kafka).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "veeduria/events/command.h"

namespace veeduria::testing {

// The command lines of a scenario file with its `! init` and `! load` directives expanded
// (expectations and other directives are skipped), as the projections fixture reads it.
inline std::vector<std::string> ScenarioLines(const std::string& relative_path) {
  std::vector<std::string> out;
  std::ifstream in(std::string(VEEDURIA_SOURCE_DIR) + "/" + relative_path);
  EXPECT_TRUE(in) << relative_path;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#' || line[first] == '>') continue;
    if (line[first] == '!') {
      std::istringstream words(line.substr(first + 1));
      std::string kind, rest;
      words >> kind;
      std::getline(words, rest);
      if (kind == "init") {
        nlohmann::json args = nlohmann::json::parse(rest.empty() ? "{}" : rest);
        nlohmann::json cmd = {{"command", "init"},
                              {"command_id", "init"},
                              {"actor", args.value("admin", "admin@dnp.gov.co")},
                              {"clock", args.value("clock", "simulated")},
                              {"admin", args.value("admin", "admin@dnp.gov.co")},
                              {"partitions", args.value("partitions", 4)}};
        if (cmd["clock"] == "simulated") cmd["at"] = args.value("at", "2023-01-02T08:00:00-05:00");
        out.push_back(cmd.dump());
      } else if (kind == "load") {
        std::ifstream f(std::string(VEEDURIA_SOURCE_DIR) + "/" + rest.substr(rest.find_first_not_of(' ')));
        std::string body((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        for (const auto& l : events::SplitLines(body)) out.emplace_back(l.text);
      }
      continue;
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace veeduria::testing
