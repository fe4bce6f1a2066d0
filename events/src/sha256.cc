#include "veeduria/events/sha256.h"

#include <openssl/evp.h>

namespace veeduria::events {

namespace {

// OpenSSL 3 looks the algorithm up in its provider registry (a lock and a hash table) on every
// EVP_Digest(EVP_sha256()) and allocates a context: more than the hashing of a 600-byte event.
// So the algorithm is fetched once, and each thread reuses one context.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

class ThreadContext {
 public:
  ThreadContext() : ctx_(EVP_MD_CTX_new()) {}
  ~ThreadContext() { EVP_MD_CTX_free(ctx_); }
  EVP_MD_CTX* get() { return ctx_; }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

Hash Sha256Parts(std::initializer_list<std::string_view> parts) {
  thread_local ThreadContext ctx;
  Hash h;
  unsigned int len = 0;
  EVP_DigestInit_ex2(ctx.get(), Sha256Md(), nullptr);
  for (std::string_view p : parts)
    if (!p.empty()) EVP_DigestUpdate(ctx.get(), p.data(), p.size());
  EVP_DigestFinal_ex(ctx.get(), h.data(), &len);
  return h;
}

Hash Sha256(std::string_view bytes) { return Sha256Parts({bytes}); }

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

std::optional<std::string> BytesFromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

Hash GenesisHash(std::string_view stream) {
  return Sha256(std::string("veeduria genesis ") + std::string(stream));
}

}  // namespace veeduria::events
