#pragma once
// Query results: columns and rows of JSON values, printed as a readable table, JSON or CSV.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace veeduria::projections {

struct Table {
  std::string title;                         // printed above the readable table
  std::vector<std::string> columns;          // the keys of each row, in order
  std::vector<nlohmann::ordered_json> rows;  // flat objects (values: strings, numbers, bools, null)
  std::vector<std::string> notes;            // printed below the readable table
};

enum class Format { kTable, kJson, kCsv };

// kJson: {"title": …, "columns": […], "rows": [{…}, …], "notes": […]} on one line.
std::string Render(const Table& table, Format format);

}  // namespace veeduria::projections
