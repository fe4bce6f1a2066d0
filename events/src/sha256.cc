#include "veeduria/events/sha256.h"

#include <openssl/evp.h>

namespace veeduria::events {

Hash Sha256(std::string_view bytes) {
  Hash h;
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), h.data(), &len, EVP_sha256(), nullptr);
  return h;
}

std::string ToHex(const uint8_t* data, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (HexValue(c) < 0) return false;
  return true;
}

std::optional<Hash> HashFromHex(std::string_view hex) {
  if (!IsSha256Hex(hex)) return std::nullopt;
  Hash h;
  for (size_t i = 0; i < 32; ++i)
    h[i] = static_cast<uint8_t>(HexValue(hex[2 * i]) * 16 + HexValue(hex[2 * i + 1]));
  return h;
}

Hash GenesisHash(std::string_view stream) {
  return Sha256(std::string("veeduria genesis ") + std::string(stream));
}

}  // namespace veeduria::events
