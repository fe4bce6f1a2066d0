#include "veeduria/projections/rows.h"

#include "projections_internal.h"

namespace veeduria::projections {

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

void Rows::Scan(std::string_view prefix,
                const std::function<bool(std::string_view, std::string_view)>& fn) const {
  auto c = NewCursor(PrefixEnd(prefix));
  for (c->Seek(prefix); c->Valid() && c->key().starts_with(prefix); c->Next())
    if (!fn(c->key(), c->value())) break;
}

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

std::unique_ptr<Rows::Cursor> MemoryRows::NewCursor(std::string_view limit) const {
  return NewMapCursor(
      state_.entries(), limit, [](const std::optional<std::string>& v) { return v.has_value(); },
      [](const std::optional<std::string>& v, std::string*) -> std::string_view { return *v; });
}

}  // namespace veeduria::projections
