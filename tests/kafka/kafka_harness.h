#pragma once
// Shared by the Kafka tests and the Kafka benchmark: the commands of a scenario file, the
// embedded ledger's reference run, a cluster (the mock, or a real one), and the audit of the
// topics (every stream gap-free and chained, no event lost or twice).

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../scenarios/scenario_lines.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/events/command.h"
#include "veeduria/events/render.h"
#include "veeduria/kafka/kafka_log.h"
#include "veeduria/kafka/mock_cluster.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/projections/store.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::testing {

// Well-formed commands only (an `invalid` line never reaches a log).
inline std::vector<events::Command> Parse(const std::vector<std::string>& lines) {
  std::vector<events::Command> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto p = events::ParseCommand(lines[i], static_cast<int>(i + 1));
    if (p.command) out.push_back(std::move(*p.command));
  }
  return out;
}

inline std::filesystem::path TempDir(const std::string& what) {
  static std::atomic<int> n{0};
  auto d = std::filesystem::temp_directory_path() /
           ("veeduria-kafka-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(d);
  return d;
}

struct Reference {
  std::vector<std::string> statuses;  // per command
  std::set<std::string> event_ids;
  std::map<std::string, uint64_t> heads;  // stream -> last seq
  std::vector<std::pair<std::string, std::string>> digests;
};

// The same commands through the embedded ledger, one at a time, then projected.
inline Reference EmbeddedReference(const std::vector<events::Command>& commands) {
  Reference ref;
  auto dir = TempDir("embedded");
  {
    auto ledger = producers::EmbeddedLedger::Open(dir.string());
    EXPECT_TRUE(ledger.ok());
    for (const auto& c : commands) {
      auto r = (*ledger)->Append({c});
      EXPECT_TRUE(r.ok());
      const events::Decision& d = r->front();
      ref.statuses.push_back(events::OutcomeName(d.outcome));
      for (const auto& e : d.events) {
        ref.event_ids.insert(e.event_id);
        ref.heads[e.stream] = e.stream_seq;
      }
    }
    auto store = projections::ProjectionStore::Open(dir.string());
    EXPECT_TRUE(store.ok());
    auto r = consumers::CatchUp(**ledger, **store);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    ref.digests = (*store)->Digests();
  }
  std::filesystem::remove_all(dir);
  return ref;
}

// What the topics hold: every stream must be 1..n with an intact chain, once its exact
// re-deliveries (aborted transactions the mock still shows, retried decisions) are set aside.
struct TopicAudit {
  uint64_t messages = 0;     // events read, re-deliveries included
  uint64_t redelivered = 0;  // exact copies of an event already read
  std::set<std::string> event_ids;
  std::map<std::string, uint64_t> heads;
  std::vector<std::string> problems;  // gaps, forks, unreadable bytes
};

inline TopicAudit AuditTopics(const kafka::KafkaConfig& config) {
  TopicAudit a;
  auto log = kafka::KafkaLog::Open(config);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return a;
  std::map<std::string, std::map<uint64_t, events::Hash>> seen;  // stream -> seq -> hash
  for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic}) {
    for (uint32_t p = 0; p < (*log)->partitions(topic); ++p) {
      Status s = (*log)->ScanPartition(topic, p, 0, [&](const events::LogEntry& e) {
        ++a.messages;
        if (!events::VerifyEventBytes(e.bytes)) {
          a.problems.push_back("unreadable event at " + std::string(topic) + "/" + std::to_string(p));
          return true;
        }
        const schema::Event* ev = schema::GetEvent(e.bytes.data());
        const std::string stream = ev->envelope()->stream()->str();
        const uint64_t seq = ev->envelope()->stream_seq();
        auto& chain = seen[stream];
        if (auto it = chain.find(seq); it != chain.end()) {
          if (it->second == e.hash)
            ++a.redelivered;
          else
            a.problems.push_back("fork in " + stream + " at seq " + std::to_string(seq));
          return true;
        }
        events::Hash prev = seq == 1 ? events::GenesisHash(stream) : events::Hash{};
        if (seq > 1) {
          auto it = chain.find(seq - 1);
          if (it == chain.end()) {
            a.problems.push_back("gap in " + stream + " before seq " + std::to_string(seq) +
                                 " (per-entity order broken)");
            return true;
          }
          prev = it->second;
        }
        if (std::memcmp(ev->envelope()->prev_hash()->b()->data(), prev.data(), 32) != 0)
          a.problems.push_back("broken chain in " + stream + " at seq " + std::to_string(seq));
        chain[seq] = e.hash;
        if (!a.event_ids.insert(ev->envelope()->event_id()->str()).second)
          a.problems.push_back("event " + ev->envelope()->event_id()->str() + " of command " +
                               ev->envelope()->command_id()->str() + " applied twice: again at " + stream +
                               " seq " + std::to_string(seq) + " (" + std::string(topic) + "/" +
                               std::to_string(p) + " offset " + std::to_string(e.position.offset) + ")");
        a.heads[stream] = std::max(a.heads[stream], seq);
        return true;
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
  }
  return a;
}

}  // namespace veeduria::testing
