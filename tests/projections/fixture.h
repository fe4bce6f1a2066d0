#pragma once
// A ledger and its projections in a temporary directory, fed from command lines or from a
// scenario file (tests/scenarios/*.scn, expectations ignored), for projection and query tests.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../scenarios/scenario_lines.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/events/command.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/producers/generator.h"
#include "veeduria/projections/query.h"
#include "veeduria/projections/store.h"
#include "veeduria/projections/view.h"

namespace veeduria::testing {

class LedgerFixture {
 public:
  LedgerFixture() {
    dir_ = std::filesystem::temp_directory_path() /
           ("veeduria-proj-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    auto l = producers::EmbeddedLedger::Open(dir_.string());
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(*l);
    auto s = projections::ProjectionStore::Open(dir_.string());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  ~LedgerFixture() {
    store_.reset();
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Submits one command line; returns its decision.
  events::Decision Submit(const std::string& line) {
    auto p = events::ParseCommand(line, 0);
    EXPECT_TRUE(p.command) << (p.error ? p.error->message : "") << " in " << line;
    if (!p.command) return {};
    auto r = ledger_->Append({*p.command});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->front() : events::Decision{};
  }
  events::Decision Submit(const nlohmann::json& command) { return Submit(command.dump()); }

  // Every command of a scenario file (with its `! init` and `! load` directives), in order;
  // with `catch_up_each`, the projections catch up after every command (incremental application).
  void LoadScenario(const std::string& relative_path, bool catch_up_each = false) {
    for (const std::string& line : ScenarioLines(relative_path)) {
      auto p = events::ParseCommand(line, 0);
      if (!p.command) continue;
      auto r = ledger_->Append({*p.command});
      EXPECT_TRUE(r.ok());
      if (catch_up_each) CatchUp();
    }
  }

  // Brings the projections up to the end of the log.
  void CatchUp(size_t batch = 8192) {
    auto r = consumers::CatchUp(*ledger_, *store_, batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::unique_ptr<projections::View> Live(const std::string& now = "2030-01-01T00:00:00Z") {
    CatchUp();
    return projections::LiveView(*store_, *events::ParseInstant(now));
  }
  std::unique_ptr<projections::View> AsOf(const std::vector<std::string>& keys, const std::string& t) {
    CatchUp();
    auto v = projections::AsOfView(*store_, keys, *events::ParseInstant(t));
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return std::move(*v);
  }

  // Closes the databases (e.g. before a child process opens them) and reopens them.
  void Close() {
    store_.reset();
    ledger_.reset();
  }
  void Reopen() {
    auto l = producers::EmbeddedLedger::Open(dir_.string());
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(*l);
    auto s = projections::ProjectionStore::Open(dir_.string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  producers::EmbeddedLedger& ledger() { return *ledger_; }
  projections::ProjectionStore& store() { return *store_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<producers::EmbeddedLedger> ledger_;
  std::unique_ptr<projections::ProjectionStore> store_;
};

// The rows of a table whose column `column` equals `value`.
inline std::vector<nlohmann::ordered_json> RowsWhere(const projections::Table& t, const std::string& column,
                                                     const nlohmann::json& value) {
  std::vector<nlohmann::ordered_json> out;
  for (const auto& r : t.rows)
    if (r.contains(column) && r[column] == value) out.push_back(r);
  return out;
}

// The commands `veeduria gen --scale SCALE --seed 2023` writes, parsed, into `out` (call it under
// ASSERT_NO_FATAL_FAILURE).
inline void GeneratedCommands(const std::string& scale, std::vector<events::Command>* out) {
  producers::GeneratorOptions o;
  o.data_dir = std::string(VEEDURIA_SOURCE_DIR) + "/../shared/data";
  o.campaigns_file = std::string(VEEDURIA_SOURCE_DIR) + "/ops/campaigns/2023.jsonl";
  o.scale = scale;
  o.seed = 2023;
  std::ostringstream text;
  ASSERT_TRUE(producers::Generate(o, text).ok());
  const std::string lines = text.str();  // SplitLines views into it
  for (const auto& line : events::SplitLines(lines)) {
    auto p = events::ParseCommand(line.text, 0);
    ASSERT_TRUE(p.command) << line.text;
    out->push_back(*p.command);
  }
}

// The init `veeduria gen --scale SCALE` expects: a simulated clock, 8 partitions.
inline void InitForGenerated(LedgerFixture& f, const std::string& scale) {
  f.Submit(nlohmann::json{{"command", "init"},
                          {"command_id", "init"},
                          {"actor", "admin@dnp.gov.co"},
                          {"clock", "simulated"},
                          {"admin", "admin@dnp.gov.co"},
                          {"partitions", 8},
                          {"at", producers::GeneratorInitAt(scale)}});
}

// An initialized ledger holding `GeneratedCommands(scale)`, caught up (call it under
// ASSERT_NO_FATAL_FAILURE).
inline void LoadGenerated(LedgerFixture& f, const std::string& scale) {
  InitForGenerated(f, scale);
  std::vector<events::Command> commands;
  ASSERT_NO_FATAL_FAILURE(GeneratedCommands(scale, &commands));
  for (size_t i = 0; i < commands.size(); i += 1024) {
    const size_t end = std::min(commands.size(), i + 1024);
    ASSERT_TRUE(f.ledger().Append({commands.begin() + i, commands.begin() + end}).ok());
  }
  f.CatchUp();
}

// Rows::NewCursor over `rows` walks as an ordered listing of `want` does (deleted keys, nullopt,
// left out): a full walk from the start; then one cursor per limit (none; a few keys, and just
// past their first '/'-part), re-sought — forward and back, from valid and from exhausted
// positions — to every key, the key cut short by one byte and just past it, each seek followed
// by two steps.
inline void ExpectCursorWalksLike(const std::map<std::string, std::optional<std::string>, std::less<>>& want,
                                  const projections::Rows& rows, const std::string& where) {
  using Walk = std::vector<std::pair<std::string, std::string>>;
  Walk listing;
  for (const auto& [k, v] : want)
    if (v) listing.emplace_back(k, *v);
  auto walk = [](projections::Rows::Cursor& c, std::string_view target, size_t steps) {
    Walk out;
    c.Seek(target);
    for (size_t i = 0; i < steps && c.Valid(); ++i, c.Next()) out.emplace_back(c.key(), c.value());
    return out;
  };
  auto all = rows.NewCursor("");
  ASSERT_EQ(walk(*all, "", SIZE_MAX), listing) << where;
  std::vector<std::string> targets, limits = {""};
  for (size_t i = 0; i < listing.size(); ++i) {
    const std::string& k = listing[i].first;
    targets.insert(targets.end(), {k, k.substr(0, k.size() - 1), k + '\0'});
    if (i % (listing.size() / 4 + 1) == 0) limits.insert(limits.end(), {k, k.substr(0, k.find('/')) + '0'});
  }
  // Forward, then from the end back, so that a cursor is also sought backwards.
  std::vector<std::string> order = targets;
  order.insert(order.end(), targets.rbegin(), targets.rend());
  for (const std::string& limit : limits) {
    auto c = rows.NewCursor(limit);
    for (const std::string& target : order) {
      Walk expected;
      for (auto it = std::lower_bound(listing.begin(), listing.end(), std::make_pair(target, std::string()));
           it != listing.end() && expected.size() < 3 && (limit.empty() || it->first < limit); ++it)
        expected.push_back(*it);
      ASSERT_EQ(walk(*c, target, 3), expected) << where << ": limit " << limit << ", seek " << target;
    }
  }
}

}  // namespace veeduria::testing
