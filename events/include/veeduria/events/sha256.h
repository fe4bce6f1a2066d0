#pragma once
// SHA-256 (OpenSSL behind this boundary) and hex helpers.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace veeduria::events {

using Hash = std::array<uint8_t, 32>;

Hash Sha256(std::string_view bytes);
// SHA-256 of the concatenation of `parts` (without concatenating them).
Hash Sha256Parts(std::initializer_list<std::string_view> parts);
std::string ToHex(const uint8_t* data, size_t n);
inline std::string ToHex(const Hash& h) { return ToHex(h.data(), h.size()); }
std::optional<Hash> HashFromHex(std::string_view hex);
// The bytes an even number of hex digits spell (what ToHex wrote), or nullopt.
std::optional<std::string> BytesFromHex(std::string_view hex);
// True for exactly 64 hex digits (what a document's SHA-256 must look like).
bool IsSha256Hex(std::string_view s);
// The hash a stream's first event chains to: SHA-256("veeduria genesis " + stream).
Hash GenesisHash(std::string_view stream);

}  // namespace veeduria::events
