#include "veeduria/events/render.h"

#include <flatbuffers/flatbuffers.h>
#include <flatbuffers/minireflect.h>

#include <nlohmann/json.hpp>

#include "veeduria/events/time.h"
#include "veeduria/schema/veeduria_generated.h"

// The walk below reads the mini-reflection tables (TypeTable) directly instead of going
// through flatbuffers::IterateObject/IterationVisitor, because the iterator:
// - dereferences the union's type field without a check: a buffer that passes the Verifier
//   but has a `payload` and no `payload_type` (or NONE) aborts or reads out of bounds;
// - gives no default for absent scalars (the tables carry none) and no field name to the
//   scalar callbacks, so "_at" longs, Sha256 structs and [ubyte] hex need look-ahead state;
// - cannot put the union member's name ("type") before the members that precede it.
// It stays generic: nothing here names an event type or a field, only the conventions of the
// schema's header comment.

namespace veeduria::events {
namespace {

using flatbuffers::ElementaryType;
using flatbuffers::TypeTable;

void AppendString(std::string_view s, std::string* out) {
  // nlohmann's escaping: \" \\ \b \f \n \r \t, other control characters as \u00XX, UTF-8
  // as is; `replace` turns invalid UTF-8 into U+FFFD instead of throwing.
  *out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AppendKey(const char* name, bool* first, std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  out->push_back('"');
  *out += name;  // schema identifiers: [A-Za-z0-9_], nothing to escape
  *out += "\":";
}

void AppendDouble(double d, std::string* out) {
  // Shortest round-trip digits, "12.0" for integral values, null for NaN/Inf.
  *out += nlohmann::json(d).dump();
}

void AppendHex(const uint8_t* data, size_t n, std::string* out) {
  out->push_back('"');
  *out += ToHex(data, n);
  out->push_back('"');
}

bool IsTimestamp(ElementaryType type, const char* name) {
  if (type != flatbuffers::ET_LONG || name == nullptr) return false;
  std::string_view n(name);
  return n.size() >= 3 && n.substr(n.size() - 3) == "_at";
}

const TypeTable* RefOf(const TypeTable* tt, const flatbuffers::TypeCode& tc) {
  return tc.sequence_ref >= 0 ? tt->type_refs[tc.sequence_ref]() : nullptr;
}

// The name of union member `type`, or "" for NONE and members unknown to this build.
std::string UnionMemberName(const TypeTable* union_tt, uint8_t type) {
  if (type == 0) return "";
  const char* name = flatbuffers::EnumName(type, union_tt);
  return name ? name : "";
}

// The table type of union member `type`, or nullptr for NONE, unknown members and
// non-table members.
const TypeTable* UnionMemberTable(const TypeTable* union_tt, uint8_t type) {
  if (type == 0) return nullptr;
  const int64_t idx = flatbuffers::LookupEnum(type, union_tt->values, union_tt->num_elems);
  if (idx <= 0 || idx >= static_cast<int64_t>(union_tt->num_elems)) return nullptr;
  const flatbuffers::TypeCode& tc = union_tt->type_codes[idx];
  if (tc.base_type != flatbuffers::ET_SEQUENCE || tc.sequence_ref < 0) return nullptr;
  const TypeTable* member = union_tt->type_refs[tc.sequence_ref]();
  return member->st == flatbuffers::ST_TABLE ? member : nullptr;
}

// A scalar at `p`, or the default (0) when `p` is null (an absent table field). `enum_tt` is
// the enum's (or union's, for ET_UTYPE) table when the scalar has names.
void AppendScalar(ElementaryType type, const uint8_t* p, const TypeTable* enum_tt, bool timestamp,
                  std::string* out) {
  using Kind = ReflectedScalar::Kind;
  const ReflectedScalar s = ReadReflectedScalar(type, p);
  switch (s.kind) {
    case Kind::kBool:
      *out += s.i != 0 ? "true" : "false";
      return;
    case Kind::kReal:
      AppendDouble(s.real, out);
      return;
    case Kind::kOther:
      *out += "null";  // an elementary type newer than this build
      return;
    default:
      break;
  }
  // A value this build has no name for (a newer schema's) keeps its number.
  if (const char* name = ReflectedEnumName(s, enum_tt)) return AppendString(name, out);
  if (timestamp) {
    out->push_back('"');
    *out += FormatRfc3339(s.i);
    out->push_back('"');
    return;
  }
  *out += s.kind == Kind::kUnsigned ? std::to_string(s.u) : std::to_string(s.i);
}

void AppendTable(const uint8_t* obj, const TypeTable* tt, std::string* union_type_name, std::string* out);
void AppendStruct(const uint8_t* obj, const TypeTable* tt, std::string* out);

// One non-union element or field value at `p` (an offset for strings and tables).
void AppendValue(ElementaryType type, const uint8_t* p, const TypeTable* ref, bool timestamp,
                 std::string* out) {
  if (type == flatbuffers::ET_STRING) {
    auto s =
        reinterpret_cast<const flatbuffers::String*>(p + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p));
    return AppendString(s->string_view(), out);
  }
  if (type != flatbuffers::ET_SEQUENCE) return AppendScalar(type, p, ref, timestamp, out);
  switch (ref->st) {
    case flatbuffers::ST_TABLE:
      return AppendTable(p + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p), ref, nullptr, out);
    case flatbuffers::ST_STRUCT:
      return AppendStruct(p, ref, out);
    default:
      *out += "null";  // unions are handled by the caller, enums are scalars
  }
}

// `n` elements of `type` starting at `data`, as an array; [ubyte] as a hex string.
void AppendElements(const uint8_t* data, size_t n, ElementaryType type, const TypeTable* ref, bool timestamp,
                    std::string* out) {
  if (type == flatbuffers::ET_UCHAR && ref == nullptr) return AppendHex(data, n, out);
  const size_t stride = flatbuffers::InlineSize(type, ref);
  out->push_back('[');
  for (size_t j = 0; j < n; ++j) {
    if (j > 0) out->push_back(',');
    AppendValue(type, data + j * stride, ref, timestamp, out);
  }
  out->push_back(']');
}

void AppendStruct(const uint8_t* obj, const TypeTable* tt, std::string* out) {
  if (tt == schema::Sha256TypeTable()) {
    return AppendHex(obj, static_cast<size_t>(tt->values[tt->num_elems]), out);
  }
  out->push_back('{');
  bool first = true;
  size_t array_idx = 0;
  for (size_t i = 0; i < tt->num_elems; ++i) {
    const flatbuffers::TypeCode& tc = tt->type_codes[i];
    const auto type = static_cast<ElementaryType>(tc.base_type);
    const TypeTable* ref = RefOf(tt, tc);
    const char* name = tt->names[i];
    const uint8_t* val = obj + tt->values[i];
    AppendKey(name, &first, out);
    if (tc.is_repeating) {
      const auto n = static_cast<size_t>(tt->array_sizes[array_idx++]);
      AppendElements(val, n, type, ref, IsTimestamp(type, name), out);
    } else {
      AppendValue(type, val, ref, IsTimestamp(type, name), out);
    }
  }
  out->push_back('}');
}

// A table's fields in declaration order. When `union_type_name` is non-null (the root), the
// union type fields are not rendered: the member's name is stored there instead.
void AppendTable(const uint8_t* obj, const TypeTable* tt, std::string* union_type_name, std::string* out) {
  auto table = reinterpret_cast<const flatbuffers::Table*>(obj);
  out->push_back('{');
  bool first = true;
  const uint8_t* prev_val = nullptr;  // a union's type field precedes its value field
  for (size_t i = 0; i < tt->num_elems; ++i) {
    const flatbuffers::TypeCode& tc = tt->type_codes[i];
    const auto type = static_cast<ElementaryType>(tc.base_type);
    const TypeTable* ref = RefOf(tt, tc);
    const char* name = tt->names[i];
    const uint8_t* val =
        table->GetAddressOf(flatbuffers::FieldIndexToOffset(static_cast<flatbuffers::voffset_t>(i)));
    const uint8_t* type_val = prev_val;
    prev_val = val;
    const bool is_union = type == flatbuffers::ET_SEQUENCE && ref->st == flatbuffers::ST_UNION;

    if (type == flatbuffers::ET_UTYPE && !tc.is_repeating) {
      if (union_type_name != nullptr) {
        *union_type_name = UnionMemberName(ref, val ? flatbuffers::ReadScalar<uint8_t>(val) : 0);
        continue;
      }
      // An absent type field means an absent union: omitted with it, not rendered "NONE".
      if (val == nullptr) continue;
    }
    if (is_union && tc.is_repeating) {
      // A vector of unions: each element's member comes from the preceding type vector.
      if (val == nullptr) continue;
      auto values = reinterpret_cast<const flatbuffers::Vector<flatbuffers::Offset<void>>*>(
          val + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(val));
      auto types = type_val ? reinterpret_cast<const flatbuffers::Vector<uint8_t>*>(
                                  type_val + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(type_val))
                            : nullptr;
      AppendKey(name, &first, out);
      out->push_back('[');
      for (flatbuffers::uoffset_t j = 0; j < values->size(); ++j) {
        if (j > 0) out->push_back(',');
        const TypeTable* member = types && j < types->size() ? UnionMemberTable(ref, types->Get(j)) : nullptr;
        if (member == nullptr) {
          *out += "null";
        } else {
          AppendTable(reinterpret_cast<const uint8_t*>(values->Get(j)), member, nullptr, out);
        }
      }
      out->push_back(']');
      continue;
    }
    if (is_union) {
      // The member comes from the type field just before; an absent, NONE or unknown member
      // (a newer schema's) is omitted like any absent table.
      const TypeTable* member =
          UnionMemberTable(ref, type_val ? flatbuffers::ReadScalar<uint8_t>(type_val) : 0);
      if (val == nullptr || member == nullptr) continue;
      AppendKey(name, &first, out);
      AppendTable(val + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(val), member, nullptr, out);
      continue;
    }
    if (tc.is_repeating) {
      if (val == nullptr) continue;
      auto vec = reinterpret_cast<const flatbuffers::Vector<uint8_t>*>(
          val + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(val));
      AppendKey(name, &first, out);
      AppendElements(vec->Data(), vec->size(), type, ref, IsTimestamp(type, name), out);
      continue;
    }
    // Absent strings, tables and structs are omitted; absent scalars render their default.
    if (val == nullptr && (type == flatbuffers::ET_STRING || type == flatbuffers::ET_SEQUENCE)) {
      continue;
    }
    AppendKey(name, &first, out);
    AppendValue(type, val, ref, IsTimestamp(type, name), out);
  }
  out->push_back('}');
}

}  // namespace

std::string RenderEventJson(std::string_view bytes, const Hash& hash, const LogPosition* position) {
  std::string type_name;
  std::string body;
  AppendTable(flatbuffers::GetRoot<uint8_t>(bytes.data()), schema::EventTypeTable(), &type_name, &body);

  std::string out = "{";
  if (position != nullptr) {
    out += "\"position\":{\"topic\":";
    AppendString(position->topic, &out);
    out += ",\"partition\":" + std::to_string(position->partition);
    out += ",\"offset\":" + std::to_string(position->offset);
    out += ",\"lsn\":" + std::to_string(position->lsn);
    out += "},";
  }
  out += "\"type\":";
  AppendString(type_name, &out);
  out += ",\"hash\":";
  AppendHex(hash.data(), hash.size(), &out);
  // `body` is "{...}": splice its members after ours.
  if (body.size() > 2) out.push_back(',');
  out.append(body, 1, std::string::npos);
  return out;
}

std::string EventTypeName(std::string_view bytes) {
  if (bytes.size() < flatbuffers::kFileIdentifierLength + sizeof(flatbuffers::uoffset_t) ||
      !schema::EventBufferHasIdentifier(bytes.data())) {
    return "";
  }
  const schema::Event* event = schema::GetEvent(bytes.data());
  return UnionMemberName(schema::PayloadTypeTable(), static_cast<uint8_t>(event->payload_type()));
}

bool VerifyEventBytes(std::string_view bytes) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  // VerifyEventBuffer checks the "VDEV" identifier as well as every offset.
  return schema::VerifyEventBuffer(verifier);
}

ReflectedScalar ReadReflectedScalar(ElementaryType type, const uint8_t* p) {
  using Kind = ReflectedScalar::Kind;
  ReflectedScalar s;
  auto read = [p](auto zero) { return p ? flatbuffers::ReadScalar<decltype(zero)>(p) : zero; };
  switch (type) {
    case flatbuffers::ET_BOOL:
      s.kind = Kind::kBool, s.i = read(uint8_t{0}) != 0;
      break;
    case flatbuffers::ET_FLOAT:
      s.kind = Kind::kReal, s.real = read(0.0f);
      break;
    case flatbuffers::ET_DOUBLE:
      s.kind = Kind::kReal, s.real = read(0.0);
      break;
    case flatbuffers::ET_CHAR:
      s.kind = Kind::kSigned, s.i = read(int8_t{0});
      break;
    case flatbuffers::ET_SHORT:
      s.kind = Kind::kSigned, s.i = read(int16_t{0});
      break;
    case flatbuffers::ET_INT:
      s.kind = Kind::kSigned, s.i = read(int32_t{0});
      break;
    case flatbuffers::ET_LONG:
      s.kind = Kind::kSigned, s.i = read(int64_t{0});
      break;
    case flatbuffers::ET_UTYPE:
    case flatbuffers::ET_UCHAR:
      s.kind = Kind::kUnsigned, s.u = read(uint8_t{0});
      break;
    case flatbuffers::ET_USHORT:
      s.kind = Kind::kUnsigned, s.u = read(uint16_t{0});
      break;
    case flatbuffers::ET_UINT:
      s.kind = Kind::kUnsigned, s.u = read(uint32_t{0});
      break;
    case flatbuffers::ET_ULONG:
      s.kind = Kind::kUnsigned, s.u = read(uint64_t{0});
      break;
    default:
      break;
  }
  return s;
}

const char* ReflectedEnumName(const ReflectedScalar& s, const TypeTable* enum_tt) {
  if (enum_tt == nullptr) return nullptr;
  if (s.kind == ReflectedScalar::Kind::kUnsigned)
    return flatbuffers::EnumName(static_cast<int64_t>(s.u), enum_tt);
  if (s.kind == ReflectedScalar::Kind::kSigned) return flatbuffers::EnumName(s.i, enum_tt);
  return nullptr;
}

}  // namespace veeduria::events
