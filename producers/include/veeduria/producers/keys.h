#pragma once
// The ledger's Ed25519 signing key (OpenSSL 3 EVP) and the ledger's configuration file.
//
// DATA/config.json (written by `veeduria init`, every member optional; defaults below):
//   {"signing_key": "signing.key",          // the private key file, relative to DATA or absolute
//    "checkpoint_every_events": 10000,      // periodic checkpoint policy: every K events…
//    "checkpoint_every_seconds": 3600}      // …or T seconds, whichever comes first
//
// The key file is PKCS#8 PEM, created with mode 0600 (refused if the file exists). The public
// key is published as SubjectPublicKeyInfo PEM; its key id is the first 16 hex digits of
// SHA-256 of the raw 32-byte public key.
//
// Thread-safety: the functions are thread-safe; a Signer may be called concurrently.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "veeduria/events/status.h"

namespace veeduria::producers {

struct LedgerConfig {
  std::string signing_key = "signing.key";
  uint64_t checkpoint_every_events = 10000;
  uint64_t checkpoint_every_seconds = 3600;
  // Semáforo band limits in percent (DESIGN §2.6 defaults): below bajo Crítico, then Bajo, Medio,
  // Satisfactorio, and from sobresaliente on Sobresaliente. Must increase.
  double semaforo_bajo = 40, semaforo_medio = 60, semaforo_satisfactorio = 70, semaforo_sobresaliente = 80;
};

// DATA/config.json, or the defaults when the file is missing.
Result<LedgerConfig> ReadLedgerConfig(const std::string& data_dir);
Status WriteLedgerConfig(const std::string& data_dir, const LedgerConfig& config);
// The signing key's path: config.signing_key, relative to data_dir unless absolute.
std::string SigningKeyPath(const std::string& data_dir, const LedgerConfig& config);

// Creates a new Ed25519 key at `path` (mode 0600). AlreadyExists if the file exists.
Status CreateSigningKey(const std::string& path);

// bytes → 64-byte Ed25519 signature.
using Signer = std::function<std::string(std::string_view)>;

struct SigningKey {
  std::string key_id;          // 16 hex digits
  std::string public_key_pem;  // SubjectPublicKeyInfo PEM
  std::string public_key_raw;  // 32 bytes
  Signer signer;
};
// Loads a private key file (refuses one readable by group or others).
Result<SigningKey> LoadSigningKey(const std::string& path);

struct PublicKey {
  std::string key_id;
  std::string pem;
  std::string raw;  // 32 bytes
};
// Parses a public key PEM (or a private key PEM, whose public half is taken).
Result<PublicKey> ParsePublicKey(std::string_view pem);

// First 16 hex digits of SHA-256(raw public key).
std::string KeyIdOf(std::string_view raw_public_key);

// True when `signature` is a valid Ed25519 signature of `message` under `public_key_pem`.
bool VerifySignature(std::string_view public_key_pem, std::string_view message, std::string_view signature);

}  // namespace veeduria::producers
