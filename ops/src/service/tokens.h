#pragma once
// Bearer tokens of the HTTP API. A token is "vdr_<id>_<secret>": `id` (8 hex) names it for
// revocation, `secret` is 32 random bytes (64 hex) from OpenSSL's RAND_bytes. The token file
// (DATA/tokens by default) holds one line per token, "<id> <sha256 hex of the token> <user>":
// never the token itself, which is printed once by `token add`.
//
// Thread-safety: TokenStore is safe to share; Lookup reloads the file when it changed on disk
// (so `token revoke` takes effect on a running server without a restart).

#include <sys/types.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "veeduria/events/status.h"

namespace veeduria::service {

struct TokenRecord {
  std::string id, sha256_hex, user;
};

// Adds a token for `user` to `file` (created with mode 0600); returns the token.
Result<std::string> AddToken(const std::string& file, const std::string& user);
// Removes the token with this id, or every token of this user; returns how many were removed.
Result<size_t> RevokeTokens(const std::string& file, const std::string& id, const std::string& user);
Result<std::vector<TokenRecord>> ReadTokens(const std::string& file);

class TokenStore {
 public:
  explicit TokenStore(std::string file) : file_(std::move(file)) {}
  // The user a presented token belongs to, or nullopt (unknown, revoked, malformed).
  std::optional<std::string> Lookup(const std::string& token);

 private:
  void ReloadIfChanged();  // REQUIRES: mu_ held
  const std::string file_;
  std::mutex mu_;
  std::map<std::string, std::string> user_by_hash_;  // GUARDED_BY(mu_)
  struct timespec mtime_ {};                         // GUARDED_BY(mu_)
  off_t size_ = -1;                                  // GUARDED_BY(mu_)
  ino_t inode_ = 0;                                  // GUARDED_BY(mu_)
};

}  // namespace veeduria::service
