#include "xlsx.h"

#include <minizip/ioapi.h>
#include <minizip/unzip.h>

#include <cstring>
#include <map>
#include <pugixml.hpp>

namespace veeduria::producers::xlsx {
namespace {

// minizip reads through these callbacks from the bytes already in memory, so the SHA-256 the
// importer records is of exactly the bytes it parsed (no second read of a changing file).
struct MemFile {
  const std::string* bytes;
  size_t pos = 0;
};

voidpf Open(voidpf opaque, const void*, int) { return new MemFile{static_cast<const std::string*>(opaque)}; }
uLong Read(voidpf, voidpf stream, void* buf, uLong size) {
  auto* f = static_cast<MemFile*>(stream);
  const size_t n = std::min<size_t>(size, f->bytes->size() - std::min(f->pos, f->bytes->size()));
  std::memcpy(buf, f->bytes->data() + f->pos, n);
  f->pos += n;
  return n;
}
uLong Write(voidpf, voidpf, const void*, uLong) { return 0; }
ZPOS64_T Tell(voidpf, voidpf stream) { return static_cast<MemFile*>(stream)->pos; }
long Seek(voidpf, voidpf stream, ZPOS64_T offset, int origin) {  // NOLINT: minizip's signature
  auto* f = static_cast<MemFile*>(stream);
  ZPOS64_T base = origin == ZLIB_FILEFUNC_SEEK_SET   ? 0
                  : origin == ZLIB_FILEFUNC_SEEK_CUR ? f->pos
                                                     : f->bytes->size();
  if (base + offset > f->bytes->size()) return -1;
  f->pos = base + offset;
  return 0;
}
int Close(voidpf, voidpf stream) {
  delete static_cast<MemFile*>(stream);
  return 0;
}
int Error(voidpf, voidpf) { return 0; }

class Zip {
 public:
  Zip(const std::string& bytes) {
    zlib_filefunc64_def f{};
    f.zopen64_file = [](voidpf o, const void* n, int m) { return Open(o, n, m); };
    f.zread_file = Read;
    f.zwrite_file = Write;
    f.ztell64_file = Tell;
    f.zseek64_file = Seek;
    f.zclose_file = Close;
    f.zerror_file = Error;
    f.opaque = const_cast<std::string*>(&bytes);
    zip_ = unzOpen2_64("memory", &f);
  }
  ~Zip() {
    if (zip_) unzClose(zip_);
  }
  bool ok() const { return zip_ != nullptr; }
  // The bytes of one part, or nullopt (missing or corrupt: `error` says which).
  std::optional<std::string> Part(const std::string& name, std::string* error) {
    if (unzLocateFile(zip_, name.c_str(), 0) != UNZ_OK) {
      *error = "has no part " + name;
      return std::nullopt;
    }
    unz_file_info64 info;
    if (unzGetCurrentFileInfo64(zip_, &info, nullptr, 0, nullptr, 0, nullptr, 0) != UNZ_OK ||
        unzOpenCurrentFile(zip_) != UNZ_OK) {
      *error = "cannot open part " + name + " (corrupt zip)";
      return std::nullopt;
    }
    std::string out;
    out.reserve(info.uncompressed_size);
    char buf[1 << 16];
    int n;
    while ((n = unzReadCurrentFile(zip_, buf, sizeof buf)) > 0) out.append(buf, n);
    const int closed = unzCloseCurrentFile(zip_);  // checks the CRC
    if (n < 0 || closed != UNZ_OK) {
      *error = "part " + name + " is truncated or corrupt";
      return std::nullopt;
    }
    return out;
  }

 private:
  unzFile zip_ = nullptr;
};

std::string Text(const pugi::xml_node& si) {
  // A shared or inline string is <t> or rich-text runs <r><t>; phonetic runs <rPh> are not text.
  std::string out;
  for (pugi::xml_node n : si.children()) {
    if (std::strcmp(n.name(), "t") == 0) out += n.text().get();
    if (std::strcmp(n.name(), "r") == 0) out += n.child("t").text().get();
  }
  return out;
}

}  // namespace

int ColumnIndex(std::string_view ref) {
  int col = 0;
  size_t i = 0;
  for (; i < ref.size() && ref[i] >= 'A' && ref[i] <= 'Z'; ++i) col = col * 26 + (ref[i] - 'A' + 1);
  return i == 0 ? -1 : col - 1;
}

std::string ColumnName(int index) {
  std::string s;
  for (int n = index + 1; n > 0; n = (n - 1) / 26) s.insert(s.begin(), char('A' + (n - 1) % 26));
  return s;
}

Result<Sheet> ReadSheet(const std::string& bytes, const std::string& file, const std::string& sheet_name) {
  Zip zip(bytes);
  if (!zip.ok())
    return Status::InvalidArgument(file +
                                   ": not a readable .xlsx workbook (the zip directory is missing: "
                                   "truncated or not a zip file)");
  std::string err;
  auto fail = [&](const std::string& what) { return Status::InvalidArgument(file + ": " + what); };
  auto workbook = zip.Part("xl/workbook.xml", &err);
  if (!workbook) return fail(err);
  auto rels = zip.Part("xl/_rels/workbook.xml.rels", &err);
  if (!rels) return fail(err);
  pugi::xml_document wb, rel;
  if (!wb.load_buffer(workbook->data(), workbook->size())) return fail("xl/workbook.xml is not XML");
  if (!rel.load_buffer(rels->data(), rels->size())) return fail("xl/_rels/workbook.xml.rels is not XML");

  Sheet sheet;
  sheet.name = sheet_name;
  std::string rid;
  for (pugi::xml_node s : wb.child("workbook").child("sheets").children("sheet")) {
    sheet.sheet_names.push_back(s.attribute("name").value());
    if (sheet_name == s.attribute("name").value()) rid = s.attribute("r:id").value();
  }
  if (rid.empty()) {
    std::string names;
    for (const auto& n : sheet.sheet_names) names += (names.empty() ? "'" : ", '") + n + "'";
    return fail("no sheet '" + sheet_name + "' (the workbook has " + names + ")");
  }
  std::string target, shared_target = "sharedStrings.xml";
  for (pugi::xml_node r : rel.child("Relationships").children("Relationship")) {
    if (rid == r.attribute("Id").value()) target = r.attribute("Target").value();
    if (std::string_view(r.attribute("Type").value()).ends_with("/sharedStrings"))
      shared_target = r.attribute("Target").value();
  }
  auto part_path = [](const std::string& t) { return t.starts_with("/") ? t.substr(1) : "xl/" + t; };
  if (target.empty()) return fail("sheet '" + sheet_name + "' has no part in xl/_rels/workbook.xml.rels");

  std::vector<std::string> shared;
  if (auto ss = zip.Part(part_path(shared_target), &err)) {
    pugi::xml_document doc;
    if (!doc.load_buffer(ss->data(), ss->size())) return fail(part_path(shared_target) + " is not XML");
    for (pugi::xml_node si : doc.child("sst").children("si")) shared.push_back(Text(si));
  }  // a workbook with only numbers and inline strings has no shared strings

  auto xml = zip.Part(part_path(target), &err);
  if (!xml) return fail(err);
  pugi::xml_document doc;
  if (auto parsed = doc.load_buffer(xml->data(), xml->size()); !parsed)
    return fail("sheet '" + sheet_name + "' (" + part_path(target) +
                ") is not well-formed XML: " + parsed.description());
  int next_row = 1;
  for (pugi::xml_node r : doc.child("worksheet").child("sheetData").children("row")) {
    Row row;
    row.number = r.attribute("r").as_int(next_row);
    next_row = row.number + 1;
    int next_col = 0;
    for (pugi::xml_node c : r.children("c")) {
      int col = c.attribute("r") ? ColumnIndex(c.attribute("r").value()) : next_col;
      if (col < 0) col = next_col;
      next_col = col + 1;
      Cell cell;
      const std::string_view t = c.attribute("t").value();
      const pugi::xml_node v = c.child("v");
      if (t == "s") {
        const size_t i = v.text().as_ullong(~0ULL);
        if (i >= shared.size())
          return fail("sheet '" + sheet_name + "', cell " + c.attribute("r").value() +
                      ": shared string index out of range");
        cell = {Cell::Type::kString, shared[i]};
      } else if (t == "inlineStr") {
        cell = {Cell::Type::kString, Text(c.child("is"))};
      } else if (t == "str") {
        cell = {Cell::Type::kString, v.text().get()};
      } else if (t == "b") {
        cell = {Cell::Type::kBool, v.text().get()};
      } else if (t == "e") {
        cell = {Cell::Type::kError, v.text().get()};
      } else if (v) {
        cell = {Cell::Type::kNumber, v.text().get()};
      }
      if (cell.type == Cell::Type::kEmpty) continue;
      if (row.cells.size() <= static_cast<size_t>(col)) row.cells.resize(col + 1);
      row.cells[col] = std::move(cell);
    }
    sheet.rows.push_back(std::move(row));
  }
  return sheet;
}

}  // namespace veeduria::producers::xlsx
