#pragma once
// A deterministic generator of command files shaped like the real data (`veeduria gen`): the
// real DIVIPOLA entities and CPI catalogue sample from ../shared/data, the 2023 campaigns, and
// a year of reporting for the entities of the chosen scale — plans of real CPI indicators with
// the real mix of accumulation types and funding sources, programming for four years, progress
// at every cut with on-time, late and missing reports, corrections, adjustment requests
// answered and left overdue, validations, notifications, a referral, leader changes, role
// grants and password resets. The same seed gives the same bytes.

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

#include "veeduria/events/status.h"

namespace veeduria::producers {

struct GeneratorOptions {
  std::string data_dir;        // ../shared/data (divipola/, cpi/)
  std::string campaigns_file;  // ops/campaigns/2023.jsonl
  // tiny: 5 municipalities of Cundinamarca; demo: all of Cundinamarca (both one year, 2023, with
  // plans of 8–60 goals); department: Cundinamarca's 117 entities and national: every DIVIPOLA
  // entity (1,135), both a four-year term (2020–2023) with national-sized plans of 90–420 goals.
  std::string scale = "demo";
  uint64_t seed = 2023;
  // department and national only: keep the first N active entities (gobernaciones first); 0 = all.
  // Lets tests run the term's rules through a ledger without the whole department.
  size_t max_entities = 0;
};

struct GeneratorStats {
  uint64_t commands = 0;
  uint64_t entities_active = 0;
  uint64_t goals = 0;
};

// Writes one command per line, in time order, for a simulated-clock ledger initialized at
// GeneratorInitAt(scale) with admin@dnp.gov.co as its administrator.
Result<GeneratorStats> Generate(const GeneratorOptions& options, std::ostream& out);

// The `at` of the ledger's init command for a scale: 2023-01-02T08:00:00-05:00 for tiny and demo,
// 2020-01-02T08:00:00-05:00 for the four-year scales.
std::string GeneratorInitAt(const std::string& scale);

}  // namespace veeduria::producers
