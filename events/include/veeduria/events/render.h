#pragma once
// The canonical JSON rendering of stored events (what `veeduria events`, audits and exports
// print), and the check every event buffer from outside passes before it is read.
//
// The rendering is generic over schema/veeduria.fbs: it walks the FlatBuffers mini-reflection
// tables, so a field added to the schema is rendered without touching this code. It is
// deterministic (fields in schema declaration order, one line, no spaces), so two renderings
// of the same bytes are byte-equal and may be diffed or hashed. The buffer bytes, not this
// JSON, are what `hash` covers.
//
// Rules (see schema/README.md):
// - absent strings, tables, structs and vectors are omitted; scalars are always rendered, an
//   absent one as its default (0, false, the enum value 0);
// - enums render as their names (a value unknown to this build, from a newer schema, renders
//   as its number);
// - `Sha256` structs and `[ubyte]` vectors render as lowercase hex strings;
// - `long` fields whose name ends in `_at` render as RFC 3339 UTC instants (µs precision);
// - doubles render in shortest round-trip form, integral ones with ".0" (12.0);
// - strings are JSON-escaped; UTF-8 passes through (invalid UTF-8 becomes U+FFFD).
//
// Thread-safety: all functions are pure and may be called concurrently.

#include <flatbuffers/minireflect.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "veeduria/events/log.h"  // LogPosition
#include "veeduria/events/sha256.h"

namespace veeduria::events {

// Renders one event buffer as canonical JSON, one line, no spaces:
//   {"type":"GoalDefined","hash":"<hex>","envelope":{...},"payload":{...}}
// with a leading "position":{"topic":..,"partition":..,"offset":..,"lsn":..} member when
// `position` is non-null. "type" is the payload's union member name ("" when the payload is
// absent or of a member unknown to this build; the payload is then omitted).
// REQUIRES: VerifyEventBytes(bytes), or bytes this process built itself.
std::string RenderEventJson(std::string_view bytes, const Hash& hash, const LogPosition* position = nullptr);

// The event type name ("GoalDefined") of a buffer, or "" if the payload is absent, of a
// member unknown to this build, or the buffer lacks the "VDEV" identifier.
// REQUIRES: VerifyEventBytes(bytes), or bytes this process built itself.
std::string EventTypeName(std::string_view bytes);

// True when `bytes` is a well-formed Event buffer with the "VDEV" file identifier
// (flatbuffers::Verifier: every offset, vector and string in bounds). False for truncated or
// garbage bytes. Call it on every buffer read from outside before any other function here.
// It proves the bytes are safe to read, not that they are the stored ones: a buffer cut only
// in its trailing alignment padding (< 8 bytes no object covers) still verifies; compare the
// hash for that.
bool VerifyEventBytes(std::string_view bytes);

// One scalar of an event buffer read through the mini-reflection tables, as the rendering above
// reads it: the canonical JSON and the audit's "what changed" (projections/src/audit.cc) share
// it, so both read every elementary type the same way.
struct ReflectedScalar {
  enum class Kind {
    kBool,
    kReal,
    kSigned,
    kUnsigned,
    kOther
  } kind = Kind::kOther;  // kOther: a
                          // type newer than this build
  double real = 0;        // kReal
  int64_t i = 0;          // kBool (0 or 1), kSigned
  uint64_t u = 0;         // kUnsigned
};
// `p` null is an absent field: its default (0, false).
ReflectedScalar ReadReflectedScalar(flatbuffers::ElementaryType type, const uint8_t* p);
// The name of the scalar's value in `enum_tt` (an enum's or, for a union type, the union's
// table), or null: no table, or a value this build has no name for (a newer schema's).
const char* ReflectedEnumName(const ReflectedScalar& s, const flatbuffers::TypeTable* enum_tt);

}  // namespace veeduria::events
