#pragma once
// The six projections (one file each) and helpers shared by folds and queries.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "msgpack.h"
#include "veeduria/events/decide.h"
#include "veeduria/projections/projection.h"
#include "veeduria/projections/rows.h"

namespace veeduria::projections {

const Projection& ProgressProjection();
const Projection& AuditProjection();
const Projection& ReviewsProjection();
const Projection& ComplianceProjection();
const Projection& UsersProjection();
const Projection& MdmProjection();

// The first key after every key that starts with `prefix` ("" when there is none: all 0xff).
std::string PrefixEnd(std::string_view prefix);

// A Rows::Cursor over an ordered map of rows (with a transparent comparator): `present(value)` is
// false for a deleted row (skipped), `bytes(value, &buffer)` gives a row's bytes, made in `buffer`
// when they are not stored as such.
template <typename Map, typename Present, typename Bytes>
class MapCursor : public Rows::Cursor {
 public:
  MapCursor(const Map& map, std::string_view limit, Present present, Bytes bytes)
      : map_(map), limit_(limit), present_(present), bytes_(bytes), it_(map.end()) {}
  void Seek(std::string_view key) override {
    it_ = map_.lower_bound(key);
    SkipDeleted();
  }
  bool Valid() const override { return it_ != map_.end() && (limit_.empty() || it_->first < limit_); }
  void Next() override {
    ++it_;
    SkipDeleted();
  }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return bytes_(it_->second, &buffer_); }

 private:
  void SkipDeleted() {
    while (it_ != map_.end() && !present_(it_->second)) ++it_;
  }
  const Map& map_;
  const std::string limit_;
  Present present_;
  Bytes bytes_;
  typename Map::const_iterator it_;
  mutable std::string buffer_;
};

template <typename Map, typename Present, typename Bytes>
std::unique_ptr<Rows::Cursor> NewMapCursor(const Map& map, std::string_view limit, Present present,
                                           Bytes bytes) {
  return std::make_unique<MapCursor<Map, Present, Bytes>>(map, limit, present, bytes);
}

// Fixed-width lowercase hex of `v` appended to `out` (Hex16 without a temporary).
inline void AppendHex16(std::string& out, uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kDigits[v & 0xf];
  out.append(buf, 16);
}

// A temporal projection's row version (Projection::temporal): '\0', then the event's recorded_at
// and stream_seq as fixed-width hex, appended to the row's base key.
inline constexpr size_t kVersionSize = 33;

// The key of an event in time order within an index: recorded_at, stream, stream_seq.
inline std::string TimeKey(const EventRef& e) {
  const std::string_view stream = e.env->stream() ? e.env->stream()->string_view() : std::string_view();
  std::string out;
  out.reserve(34 + stream.size());
  AppendHex16(out, static_cast<uint64_t>(e.env->recorded_at()));
  out += '/';
  out += stream;
  out += '/';
  AppendHex16(out, e.env->stream_seq());
  return out;
}

// Rows that keep records decoded for their whole life (an as-of view's overlay): a fold updates a
// record in place instead of decoding and re-encoding its MessagePack at every event.
class DecodedRecords {
 public:
  virtual ~DecodedRecords() = default;
  // The record under `key` (null when absent), to modify in place; valid until the next write.
  virtual nlohmann::json& MutableRecord(std::string_view key) = 0;
};
// Lets `update` change the record under `key` (null when absent) and stores the result: in place
// on DecodedRecords, else as events::ReadRecord then events::WriteRecord.
template <typename Update>
void UpdateRecord(events::StateStore& rows, std::string_view key, Update&& update) {
  if (auto* decoded = dynamic_cast<DecodedRecords*>(&rows)) {
    update(decoded->MutableRecord(key));
    return;
  }
  nlohmann::json record = events::ReadRecord(rows, key);
  update(record);
  events::WriteRecord(rows, key, record);
}

// The value of an audit index row i/<key>/<time key>: the event itself and where it sits in the
// log, in a fixed binary layout (as-of views read thousands of them per query; no JSON):
//   lsn u64 | partition u32 | offset u64 | topic length u8 | topic | sha256 (32) | event bytes
// (integers little-endian). Views into the row; valid while it is.
struct IndexEntry {
  events::LogPosition position;
  events::Hash hash{};
  std::string_view bytes;  // the event: in the row, or in `aligned` (DecodeIndexEvent)
  std::unique_ptr<uint64_t[]> aligned;
};
std::string EncodeIndexEntry(const EventRef& e);
// False when the row is too short for its layout.
bool DecodeIndexEntry(std::string_view row, IndexEntry* out);
// The same, for reading the event through the schema (schema::GetEvent): false also when its bytes
// fail the FlatBuffers verifier. The event is at an 8-byte-aligned address, a copy when it was not
// in the row (a RocksDB value, a slice of the as-of index): FlatBuffers reads its fields through
// typed pointers, undefined behaviour when misaligned (UBSan reported every audit query and as-of
// view; harmless on x86-64, not on every CPU or optimisation).
bool DecodeIndexEvent(std::string_view row, IndexEntry* out);

// The registry row several projections keep for queries that enumerate or name entities:
// e/<entity> -> {"name", "kind", "department"} (view.cc relies on compliance's).
inline void WriteEntityRow(const schema::EntityRegistered* p, events::StateStore& rows) {
  events::WriteRecord(rows, "e/" + Str(p->entity()),
                      nlohmann::json{{"name", Str(p->name())},
                                     {"kind", schema::EnumNameEntityKind(p->kind())},
                                     {"department", Str(p->department())}});
}

inline bool HasFlag(const schema::Envelope* env, schema::Flag flag) {
  if (!env->flags()) return false;
  for (const auto f : *env->flags())
    if (f == flag) return true;
  return false;
}

// Campaign and milestone ids are free text: '%' and '/' are escaped in keys so that one id never
// reads as two (a campaign "A/B" is not campaign "A", milestone "B").
inline std::string KeyPart(std::string_view id) {
  std::string out;
  for (char c : id) out += c == '%' ? "%25" : c == '/' ? "%2F" : std::string(1, c);
  return out;
}

// The actor of an event as audit and review rows show it.
inline nlohmann::json ActorOf(const EventRef& e) {
  const auto* a = e.env->actor();
  return nlohmann::json{{"user", a ? Str(a->user()) : ""},
                        {"role", a ? schema::EnumNameActorRole(a->role()) : "none"}};
}

}  // namespace veeduria::projections
