#include "veeduria/producers/keys.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "veeduria/events/sha256.h"

namespace veeduria::producers {
namespace {

using nlohmann::json;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::shared_ptr<EVP_PKEY>;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string RawPublic(EVP_PKEY* key) {
  std::string raw(32, '\0');
  size_t n = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &n) != 1) return {};
  raw.resize(n);
  return raw;
}

std::string PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool IsEd25519(EVP_PKEY* key) { return EVP_PKEY_get_id(key) == EVP_PKEY_ED25519; }

}  // namespace

Result<LedgerConfig> ReadLedgerConfig(const std::string& data_dir) {
  LedgerConfig c;
  const std::string path = data_dir + "/config.json";
  std::ifstream in(path);
  if (!in) return c;
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  try {
    if (j.contains("signing_key")) c.signing_key = j.at("signing_key").get<std::string>();
    if (j.contains("checkpoint_every_events"))
      c.checkpoint_every_events = j.at("checkpoint_every_events").get<uint64_t>();
    if (j.contains("checkpoint_every_seconds"))
      c.checkpoint_every_seconds = j.at("checkpoint_every_seconds").get<uint64_t>();
    if (j.contains("semaforo")) {
      const json& b = j.at("semaforo");
      c.semaforo_bajo = b.value("bajo", c.semaforo_bajo);
      c.semaforo_medio = b.value("medio", c.semaforo_medio);
      c.semaforo_satisfactorio = b.value("satisfactorio", c.semaforo_satisfactorio);
      c.semaforo_sobresaliente = b.value("sobresaliente", c.semaforo_sobresaliente);
      if (!(c.semaforo_bajo < c.semaforo_medio && c.semaforo_medio < c.semaforo_satisfactorio &&
            c.semaforo_satisfactorio < c.semaforo_sobresaliente))
        return Status::InvalidArgument(path +
                                       ": field 'semaforo': the band limits must increase (bajo < medio < "
                                       "satisfactorio < sobresaliente), got " +
                                       b.dump());
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  return c;
}

Status WriteLedgerConfig(const std::string& data_dir, const LedgerConfig& c) {
  const std::string path = data_dir + "/config.json";
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IOError("cannot write " + path);
  nlohmann::ordered_json j = {{"signing_key", c.signing_key},
                              {"checkpoint_every_events", c.checkpoint_every_events},
                              {"checkpoint_every_seconds", c.checkpoint_every_seconds},
                              {"semaforo",
                               {{"bajo", c.semaforo_bajo},
                                {"medio", c.semaforo_medio},
                                {"satisfactorio", c.semaforo_satisfactorio},
                                {"sobresaliente", c.semaforo_sobresaliente}}}};
  out << j.dump(2) << "\n";
  return out ? Status::Ok() : Status::IOError("cannot write " + path);
}

std::string SigningKeyPath(const std::string& data_dir, const LedgerConfig& c) {
  if (!c.signing_key.empty() && c.signing_key.front() == '/') return c.signing_key;
  return data_dir + "/" + c.signing_key;
}

Status CreateSigningKey(const std::string& path) {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!raw) return Status::Internal("Ed25519 key generation failed");
  std::unique_ptr<EVP_PKEY, PkeyFree> key(raw);
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Status::Internal("cannot encode the key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path + " exists; refusing to overwrite a signing key");
    return Status::IOError("cannot create " + path);
  }
  ::fchmod(fd, 0600);  // whatever the umask
  bool ok = ::write(fd, data, static_cast<size_t>(n)) == n && ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::IOError("cannot write " + path);
}

Result<SigningKey> LoadSigningKey(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("no signing key at " + path);
  if (st.st_mode & 077)
    return Status::FailedPrecondition(path + " is readable by group or others; chmod 600 it");
  auto pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!raw) return Status::InvalidArgument(path + ": not a PEM private key");
  Pkey key(raw, PkeyFree());
  if (!IsEd25519(key.get())) return Status::InvalidArgument(path + ": not an Ed25519 key");
  SigningKey k;
  k.public_key_raw = RawPublic(key.get());
  k.public_key_pem = PublicPem(key.get());
  k.key_id = KeyIdOf(k.public_key_raw);
  k.signer = [key](std::string_view msg) -> std::string {
    std::string sig(64, '\0');
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t n = sig.size();
    bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
              EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                             reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return {};
    sig.resize(n);
    return sig;
  };
  return k;
}

Result<PublicKey> ParsePublicKey(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!raw) {
    std::unique_ptr<BIO, BioFree> again(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    raw = PEM_read_bio_PrivateKey(again.get(), nullptr, nullptr, nullptr);
  }
  if (!raw) return Status::InvalidArgument("not a PEM public key");
  std::unique_ptr<EVP_PKEY, PkeyFree> key(raw);
  if (!IsEd25519(key.get())) return Status::InvalidArgument("not an Ed25519 key");
  PublicKey k;
  k.raw = RawPublic(key.get());
  k.pem = PublicPem(key.get());
  k.key_id = KeyIdOf(k.raw);
  return k;
}

std::string KeyIdOf(std::string_view raw_public_key) {
  return events::ToHex(events::Sha256(raw_public_key)).substr(0, 16);
}

bool VerifySignature(std::string_view public_key_pem, std::string_view message, std::string_view signature) {
  if (signature.size() != 64) return false;
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!raw) return false;
  std::unique_ptr<EVP_PKEY, PkeyFree> key(raw);
  if (!IsEd25519(key.get())) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace veeduria::producers
