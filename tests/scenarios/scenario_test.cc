// The scenario runner: every *.scn file under tests/scenarios is a script of commands and the
// outcomes DESIGN §2.4 prescribes for them (see tests/scenarios/README.md for the format).
//
// Each scenario runs twice — through the pure decide()/evolve() on an in-memory state, and
// through the embedded ledger on RocksDB — and both runs must meet every expectation and
// produce byte-identical events. Afterwards the log must verify, and a decider state rebuilt
// from the log must equal the incremental one.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "veeduria/consumers/projector.h"
#include "veeduria/consumers/verify.h"
#include "veeduria/events/command.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/render.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/projections/store.h"

namespace veeduria {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Step {
  int line = 0;
  std::string kind;  // "command" | "init" | "clock" | "load" | "verify"
  std::string text;  // the command line, or the directive's argument
  std::optional<json> expect;
  int expect_line = 0;
};

std::vector<Step> ParseScenario(const std::string& body) {
  std::vector<Step> steps;
  std::istringstream in(body);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line[first] == '>') {
      if (steps.empty() || steps.back().kind != "command" || steps.back().expect) {
        ADD_FAILURE() << "line " << n << ": an expectation must follow a command";
        continue;
      }
      steps.back().expect = json::parse(line.substr(first + 1));
      steps.back().expect_line = n;
      continue;
    }
    Step s;
    s.line = n;
    if (line[first] == '!') {
      std::string rest = line.substr(line.find_first_not_of(" \t", first + 1));
      const auto sp = rest.find(' ');
      s.kind = rest.substr(0, sp);
      s.text = sp == std::string::npos ? "" : rest.substr(sp + 1);
    } else {
      s.kind = "command";
      s.text = line;
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

// One backend the scenario runs on.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual events::Decision Apply(const events::Command& c) = 0;
  void SetClock(events::Micros t) { now_ = t; }

 protected:
  events::Micros now_ = 0;
};

class PureBackend : public Backend {
 public:
  events::Decision Apply(const events::Command& c) override {
    events::Decision d = events::Decide(state_, c, now_);
    for (const auto& e : d.events) EXPECT_TRUE(events::Evolve(state_, e));
    return d;
  }

 private:
  events::MemoryState state_;
};

class LedgerBackend : public Backend {
 public:
  explicit LedgerBackend(const fs::path& dir) {
    auto l = producers::EmbeddedLedger::Open(dir.string());
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(*l);
    ledger_->SetClockForTesting([this] { return now_; });
    auto s = projections::ProjectionStore::Open(dir.string());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Appends, then applies the new events to the projections at once (incremental application).
  events::Decision Apply(const events::Command& c) override {
    auto r = ledger_->Append({c});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto caught = consumers::CatchUp(*ledger_, *store_);
    EXPECT_TRUE(caught.ok()) << caught.status().ToString();
    return r.ok() ? r->front() : events::Decision{};
  }
  producers::EmbeddedLedger& ledger() { return *ledger_; }
  projections::ProjectionStore& store() { return *store_; }

 private:
  std::unique_ptr<producers::EmbeddedLedger> ledger_;
  std::unique_ptr<projections::ProjectionStore> store_;
};

std::string Where(const fs::path& file, const Step& s) {
  return file.filename().string() + ":" + std::to_string(s.line);
}

void CheckExpectation(const fs::path& file, const Step& step, const events::Decision& d) {
  const json& e = *step.expect;
  const std::string where = Where(file, step) + " (" + d.message + ")";
  for (auto it = e.begin(); it != e.end(); ++it) {
    const std::string& k = it.key();
    if (k == "status") {
      EXPECT_EQ(it.value().get<std::string>(), events::OutcomeName(d.outcome)) << where;
    } else if (k == "reason") {
      EXPECT_EQ(it.value().get<std::string>(), d.reason) << where;
    } else if (k == "field") {
      EXPECT_EQ(it.value().get<std::string>(), d.field) << where;
    } else if (k == "flags") {
      std::set<std::string> want = it.value().get<std::set<std::string>>();
      std::set<std::string> got(d.flags.begin(), d.flags.end());
      EXPECT_EQ(want, got) << where;
    } else if (k == "days_late") {
      EXPECT_EQ(it.value().get<int>(), d.days_late) << where;
    } else if (k == "message_contains") {
      EXPECT_NE(d.message.find(it.value().get<std::string>()), std::string::npos) << where;
    } else if (k == "events") {
      // An array with one object per event: JSON pointers into its canonical JSON → value.
      ASSERT_EQ(it.value().size(), d.events.size()) << where << ": number of events";
      for (size_t i = 0; i < d.events.size(); ++i) {
        json rendered = json::parse(events::RenderEventJson(d.events[i].bytes, d.events[i].hash));
        for (auto pt = it.value()[i].begin(); pt != it.value()[i].end(); ++pt) {
          const json::json_pointer ptr(pt.key());
          ASSERT_TRUE(rendered.contains(ptr))
              << where << ": event " << i << " has no " << pt.key() << " in " << rendered.dump();
          EXPECT_EQ(pt.value(), rendered[ptr]) << where << ": event " << i << " " << pt.key();
        }
      }
    } else {
      ADD_FAILURE() << Where(file, step) << ": unknown expectation key " << k;
    }
  }
}

class ScenarioTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(ScenarioTest, MeetsExpectationsOnBothBackends) {
  const fs::path file = GetParam();
  const auto steps = ParseScenario(ReadFile(file));
  const fs::path dir =
      fs::temp_directory_path() / ("veeduria-scn-" + file.stem().string() + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  PureBackend pure;
  LedgerBackend ledger(dir);
  std::vector<Backend*> backends = {&pure, &ledger};
  size_t outcomes = 0;

  auto run = [&](const Step& step, const std::string& text, int line_no) -> std::vector<events::Decision> {
    auto parsed = events::ParseCommand(text, line_no);
    std::vector<events::Decision> out;
    if (parsed.error) {
      events::Decision d;
      d.outcome = events::Outcome::kInvalid;
      d.reason = parsed.error->reason;
      d.field = parsed.error->field;
      d.message = parsed.error->message;
      out = {d, d};
      return out;
    }
    for (Backend* b : backends) out.push_back(b->Apply(*parsed.command));
    EXPECT_EQ(out[0].events.size(), out[1].events.size()) << Where(file, step);
    for (size_t i = 0; i < std::min(out[0].events.size(), out[1].events.size()); ++i)
      EXPECT_EQ(out[0].events[i].bytes, out[1].events[i].bytes) << Where(file, step) << ": backends differ";
    return out;
  };

  bool initialized = false;
  for (const Step& step : steps) {
    if (step.kind == "init") {
      json args = json::parse(step.text.empty() ? "{}" : step.text);
      json cmd = {{"command", "init"},
                  {"command_id", "init"},
                  {"actor", args.value("admin", "admin@dnp.gov.co")},
                  {"clock", args.value("clock", "simulated")},
                  {"admin", args.value("admin", "admin@dnp.gov.co")},
                  {"partitions", args.value("partitions", 4)}};
      if (cmd["clock"] == "simulated") cmd["at"] = args.value("at", "2023-01-02T08:00:00-05:00");
      for (const auto& d : run(step, cmd.dump(), step.line))
        ASSERT_EQ(d.outcome, events::Outcome::kAccepted) << Where(file, step) << ": " << d.message;
      initialized = true;
    } else if (step.kind == "clock") {
      auto t = events::ParseRfc3339(step.text);
      ASSERT_TRUE(t) << Where(file, step) << ": bad time";
      for (Backend* b : backends) b->SetClock(*t);
    } else if (step.kind == "load") {
      const std::string body = ReadFile(fs::path(VEEDURIA_SOURCE_DIR) / step.text);
      ASSERT_FALSE(body.empty()) << Where(file, step) << ": cannot read " << step.text;
      for (const auto& line : events::SplitLines(body))
        for (const auto& d : run(step, std::string(line.text), line.line_no))
          ASSERT_EQ(d.outcome, events::Outcome::kAccepted)
              << step.text << ":" << line.line_no << ": " << d.message;
    } else if (step.kind == "verify") {
      auto report = consumers::VerifyLog(ledger.ledger());
      ASSERT_TRUE(report.ok());
      EXPECT_TRUE(report->ok) << Where(file, step) << ": " << report->problem;
    } else if (step.kind == "command") {
      ASSERT_TRUE(initialized || step.text.find("\"init\"") != std::string::npos)
          << Where(file, step) << ": start the scenario with '! init'";
      auto decisions = run(step, step.text, step.line);
      if (!step.expect) {
        ADD_FAILURE() << Where(file, step) << ": a command without an expectation ('> {...}')";
        continue;
      }
      ++outcomes;
      for (const auto& d : decisions) CheckExpectation(file, step, d);
    } else {
      ADD_FAILURE() << Where(file, step) << ": unknown directive !" << step.kind;
    }
  }
  EXPECT_GT(outcomes, 0u) << file << " checks no outcome";
  // The log verifies, and the decider state rebuilt from it equals the incremental one.
  auto report = consumers::VerifyLog(ledger.ledger());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  const std::string incremental = ledger.ledger().StateDigest();
  ASSERT_TRUE(ledger.ledger().RebuildState().ok());
  EXPECT_EQ(incremental, ledger.ledger().StateDigest()) << "rebuilt decider state differs";
  // Projections applied command by command equal a rebuild from the whole log.
  const auto projected = ledger.store().Digests();
  ASSERT_TRUE(ledger.store().Reset("").ok());
  ASSERT_TRUE(consumers::CatchUp(ledger.ledger(), ledger.store()).ok());
  EXPECT_EQ(projected, ledger.store().Digests()) << "rebuilt projections differ from incremental application";
  fs::remove_all(dir);
}

std::vector<fs::path> Scenarios() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(VEEDURIA_SOURCE_DIR) / "tests/scenarios"))
    if (e.path().extension() == ".scn") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest, ::testing::ValuesIn(Scenarios()),
                         [](const ::testing::TestParamInfo<fs::path>& info) {
                           std::string name = info.param.stem().string();
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace veeduria
