#include "veeduria/producers/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace veeduria::producers {
namespace {

namespace fs = std::filesystem;

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("veeduria-keys-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(KeysTest, CreatesAKeyWithMode0600AndRefusesToOverwriteIt) {
  const std::string path = (dir_ / "signing.key").string();
  ::umask(022);
  ASSERT_TRUE(CreateSigningKey(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(CreateSigningKey(path).code(), StatusCode::kAlreadyExists);
}

TEST_F(KeysTest, SignsAndVerifies) {
  const std::string path = (dir_ / "signing.key").string();
  ASSERT_TRUE(CreateSigningKey(path).ok());
  auto key = LoadSigningKey(path);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->key_id.size(), 16u);
  EXPECT_EQ(key->public_key_raw.size(), 32u);
  const std::string sig = key->signer("checkpoint 42");
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_TRUE(VerifySignature(key->public_key_pem, "checkpoint 42", sig));
  EXPECT_FALSE(VerifySignature(key->public_key_pem, "checkpoint 43", sig));
  std::string bad = sig;
  bad[10] ^= 1;
  EXPECT_FALSE(VerifySignature(key->public_key_pem, "checkpoint 42", bad));
  EXPECT_FALSE(VerifySignature(key->public_key_pem, "checkpoint 42", sig.substr(1)));
  auto pub = ParsePublicKey(key->public_key_pem);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->key_id, key->key_id);
  EXPECT_EQ(pub->raw, key->public_key_raw);
}

TEST_F(KeysTest, AnotherKeyDoesNotVerify) {
  const std::string a = (dir_ / "a.key").string(), b = (dir_ / "b.key").string();
  ASSERT_TRUE(CreateSigningKey(a).ok());
  ASSERT_TRUE(CreateSigningKey(b).ok());
  auto ka = LoadSigningKey(a), kb = LoadSigningKey(b);
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_NE(ka->key_id, kb->key_id);
  EXPECT_FALSE(VerifySignature(kb->public_key_pem, "m", ka->signer("m")));
  EXPECT_FALSE(VerifySignature("not a key", "m", ka->signer("m")));
}

TEST_F(KeysTest, RefusesAKeyReadableByOthers) {
  const std::string path = (dir_ / "signing.key").string();
  ASSERT_TRUE(CreateSigningKey(path).ok());
  ::chmod(path.c_str(), 0644);
  EXPECT_EQ(LoadSigningKey(path).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(KeysTest, ConfigDefaultsAndRoundTrip) {
  auto c = ReadLedgerConfig(dir_.string());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->checkpoint_every_events, 10000u);
  EXPECT_EQ(c->checkpoint_every_seconds, 3600u);
  EXPECT_EQ(SigningKeyPath(dir_.string(), *c), dir_.string() + "/signing.key");
  c->signing_key = "/etc/veeduria/k.pem";
  c->checkpoint_every_events = 5;
  ASSERT_TRUE(WriteLedgerConfig(dir_.string(), *c).ok());
  auto d = ReadLedgerConfig(dir_.string());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->checkpoint_every_events, 5u);
  EXPECT_EQ(SigningKeyPath(dir_.string(), *d), "/etc/veeduria/k.pem");
  std::ofstream(dir_ / "config.json") << "[1]";
  EXPECT_FALSE(ReadLedgerConfig(dir_.string()).ok());
}

// The semáforo bands are configuration (DESIGN §2.6): defaults, a change, and limits that do not
// increase refused with the field named.
TEST_F(KeysTest, SemaforoBandsAreConfiguration) {
  auto c = ReadLedgerConfig(dir_.string());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->semaforo_bajo, 40);
  EXPECT_EQ(c->semaforo_sobresaliente, 80);
  std::ofstream(dir_ / "config.json") << R"({"semaforo": {"sobresaliente": 95}})";
  auto d = ReadLedgerConfig(dir_.string());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->semaforo_sobresaliente, 95);
  EXPECT_EQ(d->semaforo_satisfactorio, 70);
  std::ofstream(dir_ / "config.json", std::ios::trunc) << R"({"semaforo": {"medio": 30}})";
  auto bad = ReadLedgerConfig(dir_.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'semaforo'"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace veeduria::producers
