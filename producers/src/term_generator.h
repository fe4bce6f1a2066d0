#pragma once
// The four-year-term generator behind `gen --scale department|national` (internal).

#include <ostream>

#include "veeduria/producers/generator.h"

namespace veeduria::producers::internal {

// REQUIRES: options.scale is "department" or "national".
Result<GeneratorStats> GenerateTerm(const GeneratorOptions& options, std::ostream& out);

// The share of "Acumulativo" uses in the CPI sample's accumulation mix column, e.g.
// "Acumulativo=3;No acumulativo=2" → 0.6 (1 when the column names none).
double AcumulativoShare(const std::string& mix);

}  // namespace veeduria::producers::internal
