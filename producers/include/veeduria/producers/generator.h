#pragma once
// A deterministic generator of command files shaped like the real data (`veeduria gen`): the
// real DIVIPOLA entities and CPI catalogue sample from ../shared/data, the 2023 campaigns, and
// a year of reporting for the entities of the chosen scale — plans of real CPI indicators with
// the real mix of accumulation types and funding sources, programming for four years, progress
// at every cut with on-time, late and missing reports, corrections, adjustment requests
// answered and left overdue, validations, notifications, a referral, leader changes, role
// grants and password resets. The same seed gives the same bytes.

#include <cstdint>
#include <ostream>
#include <string>

#include "veeduria/events/status.h"

namespace veeduria::producers {

struct GeneratorOptions {
  std::string data_dir;        // ../shared/data (divipola/, cpi/)
  std::string campaigns_file;  // ops/campaigns/2023.jsonl
  std::string scale = "demo";  // tiny: 5 municipalities of Cundinamarca; demo: all of Cundinamarca
  uint64_t seed = 2023;
};

struct GeneratorStats {
  uint64_t commands = 0;
  uint64_t entities_active = 0;
  uint64_t goals = 0;
};

// Writes one command per line, in time order, for a simulated-clock ledger initialized at
// 2023-01-02T08:00:00-05:00 with admin@dnp.gov.co as its administrator.
Result<GeneratorStats> Generate(const GeneratorOptions& options, std::ostream& out);

}  // namespace veeduria::producers
