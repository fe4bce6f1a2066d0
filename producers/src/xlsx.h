#pragma once
// A minimal reader of one worksheet of an .xlsx workbook: minizip opens the zip, pugixml
// parses xl/workbook.xml (sheet name -> relationship id), xl/_rels/workbook.xml.rels
// (relationship id -> part), xl/sharedStrings.xml and the sheet itself. Only cell values are
// read (shared strings, inline strings, numbers, booleans, cached formula results): importers
// need what the planning office sees, not styles or formulas.

#include <string>
#include <vector>

#include "veeduria/events/status.h"

namespace veeduria::producers::xlsx {

struct Cell {
  enum class Type { kEmpty, kNumber, kString, kBool, kError };
  Type type = Type::kEmpty;
  std::string text;  // the value as stored: shared/inline string, or the number's XML text
};

struct Row {
  int number = 0;           // the spreadsheet's row number (r attribute), 1-based
  std::vector<Cell> cells;  // index = column (0 = A); missing cells are kEmpty
};

struct Sheet {
  std::string name;
  std::vector<std::string> sheet_names;  // every sheet of the workbook, in order
  std::vector<Row> rows;
};

// "A" -> 0, "CH" -> 85; the column letters of a cell reference such as "CH12".
int ColumnIndex(std::string_view ref);
std::string ColumnName(int index);

// Reads the sheet called `sheet_name` from the workbook bytes. Errors name `file_label`.
Result<Sheet> ReadSheet(const std::string& bytes, const std::string& file_label,
                        const std::string& sheet_name);

}  // namespace veeduria::producers::xlsx
