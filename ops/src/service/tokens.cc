#include "tokens.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "veeduria/events/sha256.h"

namespace veeduria::service {
namespace {

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) return "";
  return events::ToHex(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

Status WriteTokens(const std::string& file, const std::vector<TokenRecord>& records) {
  const std::string tmp = file + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Status::IOError("cannot write " + tmp);
  std::string text;
  for (const auto& r : records) text += r.id + " " + r.sha256_hex + " " + r.user + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), file.c_str()) != 0) return Status::IOError("cannot write " + file);
  return Status::Ok();
}

}  // namespace

Result<std::vector<TokenRecord>> ReadTokens(const std::string& file) {
  std::vector<TokenRecord> out;
  std::ifstream in(file);
  if (!in) return out;  // no file: no tokens yet
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    std::istringstream ss(line);
    TokenRecord r;
    if (!(ss >> r.id >> r.sha256_hex >> r.user) || !events::IsSha256Hex(r.sha256_hex))
      return Status::Corruption(file + ":" + std::to_string(n) + ": not '<id> <sha256> <user>'");
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::string> AddToken(const std::string& file, const std::string& user) {
  if (user.empty() || user.find_first_of(" \t\r\n") != std::string::npos)
    return Status::InvalidArgument("--user: expected an e-mail without spaces, got '" + user + "'");
  auto records = ReadTokens(file);
  if (!records.ok()) return records.status();
  const std::string id = RandomHex(4), secret = RandomHex(32);
  if (id.empty() || secret.empty()) return Status::Internal("no randomness from OpenSSL");
  const std::string token = "vdr_" + id + "_" + secret;
  records->push_back({id, events::ToHex(events::Sha256(token)), user});
  VEEDURIA_RETURN_IF_ERROR(WriteTokens(file, *records));
  return token;
}

Result<size_t> RevokeTokens(const std::string& file, const std::string& id, const std::string& user) {
  if (id.empty() && user.empty()) return Status::InvalidArgument("token revoke: give --id or --user");
  auto records = ReadTokens(file);
  if (!records.ok()) return records.status();
  std::vector<TokenRecord> kept;
  for (auto& r : *records)
    if (!((!id.empty() && r.id == id) || (!user.empty() && r.user == user))) kept.push_back(std::move(r));
  const size_t removed = records->size() - kept.size();
  if (removed) VEEDURIA_RETURN_IF_ERROR(WriteTokens(file, kept));
  return removed;
}

void TokenStore::ReloadIfChanged() {
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) {
    user_by_hash_.clear();  // no file: no valid token
    size_ = -1;
    return;
  }
  if (st.st_size == size_ && st.st_ino == inode_ && st.st_mtim.tv_sec == mtime_.tv_sec &&
      st.st_mtim.tv_nsec == mtime_.tv_nsec)
    return;
  auto records = ReadTokens(file_);
  user_by_hash_.clear();  // an unreadable file authenticates nobody
  if (records.ok())
    for (const auto& r : *records) user_by_hash_[r.sha256_hex] = r.user;
  size_ = st.st_size;
  inode_ = st.st_ino;
  mtime_ = st.st_mtim;
}

std::optional<std::string> TokenStore::Lookup(const std::string& token) {
  if (token.rfind("vdr_", 0) != 0 || token.size() > 128) return std::nullopt;
  const std::string hash = events::ToHex(events::Sha256(token));
  std::lock_guard<std::mutex> lock(mu_);
  ReloadIfChanged();
  auto it = user_by_hash_.find(hash);
  if (it == user_by_hash_.end()) return std::nullopt;
  return it->second;
}

}  // namespace veeduria::service
