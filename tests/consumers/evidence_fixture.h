#pragma once
// What the evidence tests share (bundle_test.cc, consistency_test.cc): a temporary directory with
// two signing keys, ledgers in it, the 2023 scenario's commands, and the signature check and key
// parser the offline verifications take.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "veeduria/consumers/bundle.h"
#include "veeduria/events/command.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/producers/keys.h"

namespace veeduria::consumers::testing {

inline bool CheckSignature(std::string_view m, std::string_view s, std::string_view pem) {
  return producers::VerifySignature(pem, m, s);
}
inline Result<std::pair<std::string, std::string>> ParseKey(std::string_view pem) {
  auto k = producers::ParsePublicKey(pem);
  if (!k.ok()) return k.status();
  return std::make_pair(k->key_id, k->raw);
}

// The 2023 scenario's commands (tests/scenarios/cycle_2023.scn, its loaded files included), after
// an init of a 4-partition simulated ledger at `init_at`.
inline std::vector<events::Command> ScenarioCommands(const std::string& init_at) {
  std::vector<std::string> lines = {
      R"({"command":"init","command_id":"init","actor":"admin@dnp.gov.co","clock":"simulated","admin":"admin@dnp.gov.co","partitions":4,"at":")" +
      init_at + R"("})"};
  std::ifstream scn(std::string(VEEDURIA_SOURCE_DIR) + "/tests/scenarios/cycle_2023.scn");
  std::string line;
  while (std::getline(scn, line)) {
    if (line.rfind("! load ", 0) == 0) {
      std::ifstream f(std::string(VEEDURIA_SOURCE_DIR) + "/" + line.substr(7));
      std::string loaded;
      while (std::getline(f, loaded))
        if (!loaded.empty() && loaded[0] == '{') lines.push_back(loaded);
    } else if (!line.empty() && line[0] == '{') {
      lines.push_back(line);
    }
  }
  std::vector<events::Command> out;
  for (const std::string& l : lines) {
    auto p = events::ParseCommand(l, 0);
    EXPECT_TRUE(p.command) << l;
    if (p.command) out.push_back(*p.command);
  }
  return out;
}

class EvidenceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("veeduria-evidence-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    ASSERT_TRUE(producers::CreateSigningKey((root_ / "a.key").string()).ok());
    ASSERT_TRUE(producers::CreateSigningKey((root_ / "b.key").string()).ok());
    key_ = *producers::LoadSigningKey((root_ / "a.key").string());
    other_ = *producers::LoadSigningKey((root_ / "b.key").string());
  }
  void TearDown() override {
    ledger_.reset();
    std::filesystem::remove_all(root_);
  }
  // A ledger in `name` under the temporary directory.
  std::unique_ptr<producers::EmbeddedLedger> Ledger(const std::string& name) {
    auto l = producers::EmbeddedLedger::Open((root_ / name).string());
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? std::move(*l) : nullptr;
  }

  std::filesystem::path root_;
  producers::SigningKey key_, other_;  // two keys: the ledger's, and another
  std::unique_ptr<producers::EmbeddedLedger> ledger_;
};

}  // namespace veeduria::consumers::testing
