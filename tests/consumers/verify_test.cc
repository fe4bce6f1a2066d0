#include "veeduria/consumers/verify.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "veeduria/events/decide.h"

namespace veeduria::consumers {
namespace {

using nlohmann::json;

// The log as a vector: a LogReader over entries a test can edit.
class VectorLog : public events::LogReader {
 public:
  std::vector<events::LogEntry> entries;
  uint32_t partitions(std::string_view) const override { return 1; }
  mutable size_t read = 0;  // entries handed out
  Status ScanLog(uint64_t from, const std::function<bool(const events::LogEntry&)>& fn) const override {
    read = 0;
    for (const auto& e : entries) {
      if (e.position.lsn < from) continue;
      ++read;
      if (!fn(e)) break;
    }
    return Status::Ok();
  }
  Status ScanPartition(std::string_view, uint32_t, uint64_t,
                       const std::function<bool(const events::LogEntry&)>&) const override {
    return Status::Internal("not used");
  }
};

// A ledger of a few events over two streams, decided for real (`refusals` on the second).
VectorLog MakeLog(int refusals = 4) {
  events::MemoryState st;
  VectorLog log;
  auto apply = [&](json j) {
    auto p = events::ParseCommand(j.dump(), 0);
    EXPECT_TRUE(p.command);
    auto d = events::Decide(st, *p.command, 0);
    for (auto& e : d.events) {
      EXPECT_TRUE(events::Evolve(st, e));
      events::LogEntry le;
      le.position.topic = "events";
      le.position.lsn = log.entries.size();
      le.position.offset = log.entries.size();
      le.hash = e.hash;
      le.bytes = e.bytes;
      log.entries.push_back(le);
    }
  };
  const std::string admin = "admin@dnp.gov.co";
  apply({{"command", "init"},
         {"command_id", "init"},
         {"actor", admin},
         {"clock", "simulated"},
         {"admin", admin},
         {"at", "2023-01-02T08:00:00-05:00"}});
  apply({{"command", "register_entity"},
         {"command_id", "e25"},
         {"actor", admin},
         {"at", "2023-01-02T09:00:00-05:00"},
         {"entity", "25"},
         {"name", "CUNDINAMARCA"},
         {"kind", "departamento"},
         {"department", "25"}});
  for (int i = 0; i < refusals; ++i)  // refusals on entity stream 25799 (not registered): a chain
    apply({{"command", "submit_report"},
           {"command_id", "s" + std::to_string(i)},
           {"actor", "x@y.co"},
           {"at", "2023-01-03T09:00:00-05:00"},
           {"entity", "25799"},
           {"campaign", "K"},
           {"milestone", "Q1"}});
  return log;
}

TEST(VerifyTest, AnIntactLogVerifies) {
  VectorLog log = MakeLog();
  auto r = VerifyLog(log);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << r->problem;
  EXPECT_EQ(r->events, 6u);
  EXPECT_EQ(r->streams, 2u);
}

// A stop asked for (a server that stops) ends the walk between batches: kUnavailable, nothing
// reported as verified.
TEST(VerifyTest, AStopEndsTheWalk) {
  VectorLog log = MakeLog();
  std::atomic<bool> stop{true};
  auto stopped = VerifyLog(log, {.stop = &stop});
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().code(), StatusCode::kUnavailable);
  stop = false;
  auto whole = VerifyLog(log, {.stop = &stop});
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_TRUE(whole->ok) << whole->problem;
  EXPECT_EQ(whole->events, 6u);

  // Asked for mid-walk, with a batch being hashed: the walk ends at the next batch.
  struct StoppedAt : VectorLog {
    std::atomic<bool>* stop = nullptr;
    size_t after = 0;
    Status ScanLog(uint64_t from, const std::function<bool(const events::LogEntry&)>& fn) const override {
      size_t n = 0;
      return VectorLog::ScanLog(from, [&](const events::LogEntry& e) {
        if (++n > after) *stop = true;
        return fn(e);
      });
    }
  } long_log;
  long_log.entries = MakeLog(/*refusals=*/1000).entries;
  ASSERT_GT(long_log.entries.size(), 1000u);
  long_log.stop = &stop;
  long_log.after = 300;
  auto mid = VerifyLog(long_log, {.stop = &stop});
  ASSERT_FALSE(mid.ok());
  EXPECT_EQ(mid.status().code(), StatusCode::kUnavailable) << mid.status().ToString();
  EXPECT_LE(long_log.read, 513u);  // 300 and the rest of the batch, then the one that sees it
}

TEST(VerifyTest, NamesAnEditedByte) {
  VectorLog log = MakeLog();
  log.entries[3].bytes[log.entries[3].bytes.size() - 12] ^= 1;
  auto r = VerifyLog(log);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->position.lsn, 3u);
}

TEST(VerifyTest, NamesARemovedEvent) {
  VectorLog log = MakeLog();
  log.entries.erase(log.entries.begin() + 3);
  auto r = VerifyLog(log);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->stream, "25799");
  EXPECT_EQ(r->stream_seq, 3u);
  EXPECT_NE(r->problem.find("follows 1"), std::string::npos) << r->problem;
}

TEST(VerifyTest, NamesSwappedEvents) {
  VectorLog log = MakeLog();
  std::swap(log.entries[3].bytes, log.entries[4].bytes);
  std::swap(log.entries[3].hash, log.entries[4].hash);
  auto r = VerifyLog(log);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->position.lsn, 3u);
}

TEST(VerifyTest, NamesAnEventReplacedWithItsHashRecomputed) {
  // An attacker who rewrites an event and its stored hash still breaks the next prev_hash.
  VectorLog log = MakeLog();
  log.entries[3].bytes[log.entries[3].bytes.size() - 12] ^= 1;
  log.entries[3].hash = events::Sha256(log.entries[3].bytes);
  auto r = VerifyLog(log);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->position.lsn, 4u);
  EXPECT_NE(r->problem.find("prev_hash"), std::string::npos) << r->problem;
}

// Events are hashed a batch at a time on a second thread while the next batch is read: in a log
// of several batches the first broken event is still the one named, wherever the batches are
// cut, and reading stops soon after it.
TEST(VerifyTest, NamesTheFirstBrokenEventOfALongLog) {
  const VectorLog intact = MakeLog(5000);
  const size_t n = intact.entries.size();
  auto r = VerifyLog(intact);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << r->problem;
  EXPECT_EQ(r->events, n);
  EXPECT_EQ(intact.read, n);
  for (size_t first : {size_t{2047}, size_t{2048}, size_t{2049}, size_t{4095}, size_t{4096}, n - 1}) {
    VectorLog log = intact;
    log.entries[first].bytes[log.entries[first].bytes.size() - 12] ^= 1;  // its stored hash fails
    if (first + 2500 < n) log.entries[first + 2500].bytes.resize(3);      // a later one is not even an event
    if (first + 1 < n) log.entries[first + 1].hash[0] ^= 1;               // nor is the next one's hash
    auto b = VerifyLog(log);
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->ok);
    EXPECT_EQ(b->position.lsn, first);
    EXPECT_NE(b->problem.find("stored hash"), std::string::npos) << b->problem;
    EXPECT_EQ(b->events, first);
    EXPECT_LE(log.read, first + 3 * 2048) << "reading stops soon after the broken event";
  }
}

}  // namespace
}  // namespace veeduria::consumers
