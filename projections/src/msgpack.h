#pragma once
// MessagePack written straight from the fields of an event, byte for byte what
// nlohmann::json::to_msgpack (events::WriteRecord) writes for the same JSON value, for rows a fold
// writes per event and never reads back (no json tree, no std::vector<uint8_t>, no copy).
//
// The rules it mirrors (nlohmann 3.11 binary_writer::write_msgpack): integers in the smallest
// form (a non-negative one as unsigned), a double as float32 when that is exact, strings, maps
// and arrays with the smallest length prefix. A map's keys must be written in the order a
// nlohmann::json object holds them: sorted bytewise, no duplicates (the caller's duty).

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

namespace veeduria::projections {

inline constexpr std::string_view kMsgpackNull = "\xc0";

class MsgpackWriter {
 public:
  MsgpackWriter() { out_.reserve(128); }
  std::string Take() { return std::move(out_); }

  MsgpackWriter& Null() {
    out_ += '\xc0';
    return *this;
  }
  MsgpackWriter& Bool(bool b) {
    out_ += b ? '\xc3' : '\xc2';
    return *this;
  }
  MsgpackWriter& Int(int64_t v) {
    if (v >= 0) return Unsigned(static_cast<uint64_t>(v));
    if (v >= -32) {
      out_ += static_cast<char>(static_cast<int8_t>(v));
    } else if (v >= std::numeric_limits<int8_t>::min()) {
      out_ += '\xd0';
      Be(static_cast<uint8_t>(static_cast<int8_t>(v)), 1);
    } else if (v >= std::numeric_limits<int16_t>::min()) {
      out_ += '\xd1';
      Be(static_cast<uint16_t>(static_cast<int16_t>(v)), 2);
    } else if (v >= std::numeric_limits<int32_t>::min()) {
      out_ += '\xd2';
      Be(static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
    } else {
      out_ += '\xd3';
      Be(static_cast<uint64_t>(v), 8);
    }
    return *this;
  }
  MsgpackWriter& Unsigned(uint64_t v) {
    if (v < 128) {
      out_ += static_cast<char>(v);
    } else if (v <= 0xff) {
      out_ += '\xcc';
      Be(v, 1);
    } else if (v <= 0xffff) {
      out_ += '\xcd';
      Be(v, 2);
    } else if (v <= 0xffffffffu) {
      out_ += '\xce';
      Be(v, 4);
    } else {
      out_ += '\xcf';
      Be(v, 8);
    }
    return *this;
  }
  MsgpackWriter& Double(double d) {
    if (d >= static_cast<double>(std::numeric_limits<float>::lowest()) &&
        d <= static_cast<double>(std::numeric_limits<float>::max()) &&
        static_cast<double>(static_cast<float>(d)) == d) {
      const float f = static_cast<float>(d);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      out_ += '\xca';
      Be(bits, 4);
    } else {
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      out_ += '\xcb';
      Be(bits, 8);
    }
    return *this;
  }
  MsgpackWriter& Str(std::string_view s) {
    const size_t n = s.size();
    if (n <= 31) {
      out_ += static_cast<char>(0xa0 | n);
    } else if (n <= 0xff) {
      out_ += '\xd9';
      Be(n, 1);
    } else if (n <= 0xffff) {
      out_ += '\xda';
      Be(n, 2);
    } else {
      out_ += '\xdb';
      Be(n, 4);
    }
    out_ += s;
    return *this;
  }
  // A map of `n` entries: then n × (Str(key), value).
  MsgpackWriter& Map(size_t n) { return Container(n, 0x80, '\xde', '\xdf'); }
  // An array of `n` elements: then n values.
  MsgpackWriter& Array(size_t n) { return Container(n, 0x90, '\xdc', '\xdd'); }
  // A key and its string value, the common case of a row.
  MsgpackWriter& Field(std::string_view key, std::string_view value) { return Str(key).Str(value); }

 private:
  // A map's or an array's header: the fix form up to 15 entries, then 16- or 32-bit lengths.
  MsgpackWriter& Container(size_t n, unsigned fix, char code16, char code32) {
    if (n <= 15) {
      out_ += static_cast<char>(fix | n);
    } else if (n <= 0xffff) {
      out_ += code16;
      Be(n, 2);
    } else {
      out_ += code32;
      Be(n, 4);
    }
    return *this;
  }
  void Be(uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string out_;
};

}  // namespace veeduria::projections
