#pragma once
// A small RFC 4180 reader: quoted fields with commas, doubled quotes and line breaks; a UTF-8
// BOM; LF or CRLF. Each record keeps the line it started on, for error messages.

#include <string>
#include <string_view>
#include <vector>

namespace veeduria::producers {

struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
};

std::vector<CsvRecord> ParseCsv(std::string_view text, char separator = ',');

}  // namespace veeduria::producers
