#pragma once
// The four-year-term generator behind `gen --scale department|national` (internal).

#include <ostream>

#include "veeduria/producers/generator.h"

namespace veeduria::producers::internal {

// REQUIRES: options.scale is "department" or "national".
Result<GeneratorStats> GenerateTerm(const GeneratorOptions& options, std::ostream& out);

}  // namespace veeduria::producers::internal
