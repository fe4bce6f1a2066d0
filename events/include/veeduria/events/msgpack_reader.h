#pragma once
// Reads the fields of a MessagePack map straight from its bytes, for code that wants a few scalars
// of a JSON record stored as MessagePack (progress's r/ rows, the decider's entity, plan and user
// records): no nlohmann::json tree per record.
//
// It reads what nlohmann::json::to_msgpack writes (and projections' MsgpackWriter): maps with
// string keys, integers, floats, strings, booleans, nil, nested maps and arrays (skipped over, with
// their entry count and their bytes, which a reader of their own can walk). A malformed or truncated
// buffer reads as "absent" from the point where it breaks, never past its end.

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace veeduria::events {

class MsgpackReader {
 public:
  explicit MsgpackReader(std::string_view bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  // One value of a map, as a view into the bytes.
  struct Value {
    enum Kind { kNone, kNil, kBool, kInt, kUint, kDouble, kStr, kMap, kArray } kind = kNone;
    bool b = false;
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;
    std::string_view s;
    uint32_t n = 0;        // entries of a map or an array
    std::string_view raw;  // a map or an array: its bytes, header included
    bool is_number() const { return kind == kInt || kind == kUint || kind == kDouble; }
    // As json::value<T>(key, default) reads a number (default when it is not one).
    double as_double(double def) const {
      return kind == kDouble ? d
             : kind == kInt  ? static_cast<double>(i)
             : kind == kUint ? static_cast<double>(u)
                             : def;
    }
    int64_t as_int(int64_t def) const {
      return kind == kInt      ? i
             : kind == kUint   ? static_cast<int64_t>(u)
             : kind == kDouble ? static_cast<int64_t>(d)
                               : def;
    }
  };

  // Calls fn(key, value) for each entry of the top-level map (values that are maps or arrays are
  // skipped over, with their entry count in Value::n). False when the bytes are not a well-formed
  // map (fn may have seen some entries).
  template <typename Fn>
  bool ForEachField(Fn&& fn) {
    uint32_t n;
    if (!MapHeader(&n)) return false;
    for (uint32_t k = 0; k < n; ++k) {
      Value key, value;
      if (!Read(&key) || key.kind != Value::kStr) return false;
      if (!Read(&value)) return false;
      fn(key.s, value);
    }
    return true;
  }

  // Calls fn(value) for each element of a top-level array (values that are maps or arrays are
  // skipped over, as above). False when the bytes are not a well-formed array.
  template <typename Fn>
  bool ForEachElement(Fn&& fn) {
    if (!Need(1)) return false;
    const uint8_t c = static_cast<uint8_t>(*p_);
    uint32_t n;
    if ((c & 0xf0) == 0x90) {
      ++p_;
      n = c & 0x0f;
    } else if ((c == 0xdc && Need(3)) || (c == 0xdd && Need(5))) {
      ++p_;
      n = static_cast<uint32_t>(Be(c == 0xdc ? 2 : 4));
    } else {
      return false;
    }
    for (uint32_t k = 0; k < n; ++k) {
      Value value;
      if (!Read(&value)) return false;
      fn(value);
    }
    return true;
  }

 private:
  bool Need(size_t n) const { return static_cast<size_t>(end_ - p_) >= n; }
  // A big-endian integer of 1, 2, 4 or 8 bytes (the caller checked they are there): a load and a
  // byte swap (a loop over the bytes cost ReadAt a quarter more instructions in an as-of query).
  uint64_t Be(int bytes) {
    uint64_t v = 0;
    if constexpr (std::endian::native != std::endian::little) {
      for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p_[i]);
      p_ += bytes;
      return v;
    }
    switch (bytes) {
      case 1:
        v = static_cast<uint8_t>(*p_);
        break;
      case 2: {
        uint16_t x;
        std::memcpy(&x, p_, 2);
        v = __builtin_bswap16(x);
        break;
      }
      case 4: {
        uint32_t x;
        std::memcpy(&x, p_, 4);
        v = __builtin_bswap32(x);
        break;
      }
      default:
        std::memcpy(&v, p_, 8);
        v = __builtin_bswap64(v);
    }
    p_ += bytes;
    return v;
  }
  bool MapHeader(uint32_t* n) {
    if (!Need(1)) return false;
    const uint8_t c = static_cast<uint8_t>(*p_);
    if ((c & 0xf0) == 0x80) {
      ++p_;
      *n = c & 0x0f;
      return true;
    }
    if (c == 0xde && Need(3)) {
      ++p_;
      *n = static_cast<uint32_t>(Be(2));
      return true;
    }
    if (c == 0xdf && Need(5)) {
      ++p_;
      *n = static_cast<uint32_t>(Be(4));
      return true;
    }
    return false;
  }
  bool Str(size_t len, Value* v) {
    if (!Need(len)) return false;
    v->kind = Value::kStr;
    v->s = std::string_view(p_, len);
    p_ += len;
    return true;
  }
  // Skips `count` values (the entries of a container; a map's count is doubled by the caller).
  bool Skip(uint64_t count, int depth) {
    if (depth > 64) return false;
    for (uint64_t k = 0; k < count; ++k) {
      Value v;
      if (!ReadAt(&v, depth + 1)) return false;
    }
    return true;
  }
  // Reads one value; containers are skipped over (their size in v->n).
  bool Read(Value* v, int depth = 0) {
    const char* start = p_;
    if (!ReadAt(v, depth)) return false;
    if (v->kind == Value::kMap || v->kind == Value::kArray) v->raw = std::string_view(start, p_ - start);
    return true;
  }
  bool ReadAt(Value* v, int depth) {
    if (!Need(1)) return false;
    const uint8_t c = static_cast<uint8_t>(*p_++);
    if (c <= 0x7f) {
      v->kind = Value::kUint;
      v->u = c;
      return true;
    }
    if (c >= 0xe0) {
      v->kind = Value::kInt;
      v->i = static_cast<int8_t>(c);
      return true;
    }
    if ((c & 0xe0) == 0xa0) return Str(c & 0x1f, v);
    if ((c & 0xf0) == 0x80 || (c & 0xf0) == 0x90) {
      const bool map = (c & 0xf0) == 0x80;
      v->kind = map ? Value::kMap : Value::kArray;
      v->n = c & 0x0f;
      return Skip(map ? 2ull * v->n : v->n, depth);
    }
    switch (c) {
      case 0xc0:
        v->kind = Value::kNil;
        return true;
      case 0xc2:
      case 0xc3:
        v->kind = Value::kBool;
        v->b = c == 0xc3;
        return true;
      case 0xca: {
        if (!Need(4)) return false;
        const uint32_t bits = static_cast<uint32_t>(Be(4));
        float f;
        std::memcpy(&f, &bits, 4);
        v->kind = Value::kDouble;
        v->d = f;
        return true;
      }
      case 0xcb: {
        if (!Need(8)) return false;
        const uint64_t bits = Be(8);
        std::memcpy(&v->d, &bits, 8);
        v->kind = Value::kDouble;
        return true;
      }
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf: {
        const int bytes = 1 << (c - 0xcc);
        if (!Need(bytes)) return false;
        v->kind = Value::kUint;
        v->u = Be(bytes);
        return true;
      }
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3: {
        const int bytes = 1 << (c - 0xd0);
        if (!Need(bytes)) return false;
        const uint64_t raw = Be(bytes);
        v->kind = Value::kInt;
        v->i = bytes == 1   ? static_cast<int8_t>(raw)
               : bytes == 2 ? static_cast<int16_t>(raw)
               : bytes == 4 ? static_cast<int32_t>(raw)
                            : static_cast<int64_t>(raw);
        return true;
      }
      case 0xd9:
      case 0xda:
      case 0xdb: {
        const int bytes = 1 << (c - 0xd9);
        if (!Need(bytes)) return false;
        return Str(Be(bytes), v);
      }
      case 0xdc:
      case 0xdd:
      case 0xde:
      case 0xdf: {
        const int bytes = (c == 0xdc || c == 0xde) ? 2 : 4;
        if (!Need(bytes)) return false;
        const bool map = c >= 0xde;
        v->kind = map ? Value::kMap : Value::kArray;
        v->n = static_cast<uint32_t>(Be(bytes));
        return Skip(map ? 2ull * v->n : v->n, depth);
      }
      case 0xc4:
      case 0xc5:
      case 0xc6: {  // bin: skipped as a string
        const int bytes = 1 << (c - 0xc4);
        if (!Need(bytes)) return false;
        return Str(Be(bytes), v);
      }
      default:
        return false;  // ext types: never written by the folds
    }
  }

  const char* p_;
  const char* end_;
};

}  // namespace veeduria::events
