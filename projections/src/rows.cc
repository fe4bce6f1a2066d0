#include "veeduria/projections/rows.h"

namespace veeduria::projections {

nlohmann::json Rows::Record(std::string_view key) const {
  auto v = Get(key);
  if (!v) return nullptr;
  return nlohmann::json::from_msgpack(*v);
}

void Rows::ScanRecords(std::string_view prefix,
                       const std::function<bool(std::string_view, const nlohmann::json&)>& fn) const {
  Scan(prefix, [&](std::string_view key, std::string_view value) {
    return fn(key, nlohmann::json::from_msgpack(value.begin(), value.end()));
  });
}

void MemoryRows::Scan(std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& fn) const {
  ScanFrom(prefix, prefix, fn);
}

void MemoryRows::ScanFrom(std::string_view start, std::string_view prefix,
                          const std::function<bool(std::string_view, std::string_view)>& fn) const {
  const auto& m = state_.entries();
  for (auto it = m.lower_bound(start); it != m.end() && it->first.starts_with(prefix); ++it) {
    if (!it->second) continue;
    if (!fn(it->first, *it->second)) break;
  }
}

}  // namespace veeduria::projections
