#include "veeduria/projections/table.h"

#include <algorithm>
#include <sstream>

namespace veeduria::projections {
namespace {

std::string Cell(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(2);
    s << v.get<double>();
    return s.str();
  }
  return v.dump();
}

// Display width of UTF-8 text (code points; good enough for Spanish names).
size_t Width(const std::string& s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string Render(const Table& t, Format format) {
  std::ostringstream out;
  if (format == Format::kJson) {
    nlohmann::ordered_json j;
    j["title"] = t.title;
    j["columns"] = t.columns;
    j["rows"] = t.rows;
    j["notes"] = t.notes;
    out << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    return out.str();
  }
  if (format == Format::kCsv) {
    for (size_t i = 0; i < t.columns.size(); ++i) out << (i ? "," : "") << CsvField(t.columns[i]);
    out << "\n";
    for (const auto& r : t.rows) {
      for (size_t i = 0; i < t.columns.size(); ++i)
        out << (i ? "," : "") << CsvField(r.contains(t.columns[i]) ? Cell(r[t.columns[i]]) : "");
      out << "\n";
    }
    return out.str();
  }
  std::vector<size_t> widths(t.columns.size());
  std::vector<std::vector<std::string>> cells;
  for (size_t i = 0; i < t.columns.size(); ++i) widths[i] = Width(t.columns[i]);
  for (const auto& r : t.rows) {
    cells.emplace_back();
    for (size_t i = 0; i < t.columns.size(); ++i) {
      cells.back().push_back(r.contains(t.columns[i]) ? Cell(r[t.columns[i]]) : "");
      widths[i] = std::max(widths[i], Width(cells.back().back()));
    }
  }
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(widths[i] - Width(row[i]) + 2, ' ');
    }
    out << "\n";
  };
  if (!t.title.empty()) out << t.title << "\n";
  line(t.columns);
  std::vector<std::string> rule;
  for (size_t w : widths) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& c : cells) line(c);
  if (t.rows.empty()) out << "(none)\n";
  for (const auto& n : t.notes) out << n << "\n";
  return out.str();
}

}  // namespace veeduria::projections
