// The Kafka backend on librdkafka's mock cluster (3 brokers on loopback), or on a real cluster
// (label kafka-real: VEEDURIA_KAFKA_REAL=1 and VEEDURIA_KAFKA_BROKERS=host:port,...; skipped
// without the brokers). Each test states which broker guarantee it exercises, and which only a
// real cluster can (the 2.0.2 mock neither filters aborted transactions for read_committed,
// stores transactional offsets, nor fences zombies: ../shared/PLATFORM.md).
//
// Every test ends with the same checks: each command has exactly its embedded-ledger outcome;
// the topics hold every event of the embedded run, none missing, each stream gap-free with an
// intact chain once exact re-deliveries are set aside; and the projections built from Kafka
// have byte-identical digests to the embedded ones (so nothing was applied twice or skipped).
// Timeouts scale with $VEEDURIA_TIMEOUT_MULTIPLIER.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <future>
#include <thread>

#include "decider_state.h"
#include "kafka_harness.h"
#include "veeduria/kafka/node.h"
#include "veeduria/kafka/submitter.h"
#include "veeduria/kafka/verify.h"

namespace veeduria::testing {
namespace {

using std::chrono::milliseconds;

struct Cluster {
  std::unique_ptr<kafka::MockCluster> mock;  // null on a real cluster
  kafka::KafkaConfig config;
};

// The mock (default) or a real cluster with fresh topics under a unique prefix; null: skip.
std::unique_ptr<Cluster> MakeCluster(uint32_t partitions, std::string* skip) {
  auto c = std::make_unique<Cluster>();
  if (std::getenv("VEEDURIA_KAFKA_REAL")) {
    const char* brokers = std::getenv("VEEDURIA_KAFKA_BROKERS");
    if (!brokers || !*brokers) {
      *skip = "no real cluster: set VEEDURIA_KAFKA_BROKERS=host:port,... to run the kafka-real suite";
      return nullptr;
    }
    c->config = kafka::KafkaConfig::ForBrokers(brokers);
    static int n = 0;
    c->config.topic_prefix = "veeduria-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".";
    c->config.partitions = partitions;
    Status s = kafka::CreateTopics(c->config, partitions, 3, 2);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }
  auto m = kafka::MockCluster::Start(3, partitions);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return nullptr;
  c->mock = std::move(*m);
  c->config = c->mock->Config();
  return c;
}

#define CLUSTER_OR_SKIP(var, partitions)                     \
  std::string skip_reason_;                                  \
  auto var = MakeCluster(partitions, &skip_reason_);         \
  if (!var) {                                                \
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_; \
    FAIL() << "no cluster";                                  \
  }

#define MOCK_ONLY(c) \
  if (!(c)->mock) GTEST_SKIP() << "failure injection needs the mock cluster's controls"

milliseconds Scaled(const kafka::KafkaConfig& c, int ms) { return milliseconds(c.Ms(ms)); }

std::unique_ptr<kafka::KafkaNode> StartNode(const Cluster& c, const std::filesystem::path& dir,
                                            kafka::NodeOptions o = {}) {
  o.data_dir = dir.string();
  auto n = kafka::KafkaNode::Start(c.config, std::move(o));
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return n.ok() ? std::move(*n) : nullptr;
}

std::vector<nlohmann::json> SubmitAll(const Cluster& c, const std::vector<events::Command>& commands) {
  auto s = kafka::KafkaSubmitter::Open(c.config);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return {};
  auto r = (*s)->Submit(commands, Scaled(c.config, 40000));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<nlohmann::json>{};
}

// The checks every test ends with (see the file comment). `outcomes` may hold a "duplicate"
// where the embedded run says accepted/rejected only when `allow_duplicates` (a command whose
// first outcome was lost with a killed decider is answered by its retry).
void ExpectSameAsEmbedded(const Cluster& c, kafka::KafkaNode& projector,
                          const std::vector<events::Command>& commands,
                          const std::vector<nlohmann::json>& outcomes, bool allow_duplicates = false) {
  const Reference ref = EmbeddedReference(commands);
  ASSERT_EQ(outcomes.size(), commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string got = outcomes[i].value("status", "");
    if (allow_duplicates && got == "duplicate" && ref.statuses[i] != "invalid") continue;
    EXPECT_EQ(got, ref.statuses[i]) << "command " << commands[i].command_id << ": " << outcomes[i].dump();
  }
  // The mock shows an outcome as soon as it is appended, before its transaction commits and
  // perhaps before the events produced with it (another partition) are appended; a real cluster's
  // read_committed submitter would not. So read the topics until they settle (bounded).
  TopicAudit audit = AuditTopics(c.config);
  for (auto deadline = std::chrono::steady_clock::now() + Scaled(c.config, 20000);
       audit.event_ids != ref.event_ids && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(milliseconds(50));  // re-reading the topics, not timing a race
    audit = AuditTopics(c.config);
  }
  EXPECT_TRUE(audit.problems.empty()) << audit.problems.front();
  EXPECT_EQ(audit.event_ids, ref.event_ids) << "events lost or foreign in the topics";
  EXPECT_EQ(audit.heads, ref.heads);
  Status w = projector.WaitProjected(Scaled(c.config, 30000));
  ASSERT_TRUE(w.ok()) << w.ToString();
  EXPECT_EQ(projector.Digests(), ref.digests) << "projections through Kafka differ from the embedded log's";
  EXPECT_EQ(projector.stats().last_error.find("projector"), std::string::npos)
      << projector.stats().last_error;
}

// Waits (bounded) until `cond` holds, re-checking as the node makes progress.
template <typename F>
bool WaitFor(const kafka::KafkaConfig& c, int ms, F cond) {
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(c.Ms(ms));
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));  // polling a condition, not timing a race
  }
  return true;
}

// Exercises: idempotent acks=all producers, consume-transform-produce transactions, consumer
// groups, murmur2 partitioning agreeing with the embedded log. Only a real cluster: that
// read_committed hides nothing here because nothing aborts (the mock would show it anyway).
TEST(KafkaScenarioTest, Cycle2023GivesTheEmbeddedDigests) {
  CLUSTER_OR_SKIP(c, 4);
  const auto commands = Parse(ScenarioLines("tests/scenarios/cycle_2023.scn"));
  auto dir = TempDir("cycle");
  auto node = StartNode(*c, dir);
  ASSERT_TRUE(node);
  const auto outcomes = SubmitAll(*c, commands);
  ExpectSameAsEmbedded(*c, *node, commands, outcomes);
  EXPECT_GT(node->stats().transactions, 0u);
  node.reset();
  std::filesystem::remove_all(dir);
}

// A broker down while commands are produced: the idempotent producers retry to the leaders
// when it is back (exercised on the mock: no loss, no duplicate under broker down/up). Only a
// real cluster: leader fail-over to an in-sync replica (the mock keeps the leader down).
TEST(KafkaFailureTest, BrokerDownDuringProduce) {
  CLUSTER_OR_SKIP(c, 4);
  MOCK_ONLY(c);
  const auto commands = Parse(ScenarioLines("tests/scenarios/cycle_2023.scn"));
  auto dir = TempDir("down");
  auto node = StartNode(*c, dir);
  ASSERT_TRUE(node);
  const size_t half = commands.size() / 2;
  std::vector<events::Command> first(commands.begin(), commands.begin() + half);
  std::vector<events::Command> second(commands.begin() + half, commands.end());
  auto outcomes = SubmitAll(*c, first);
  const uint64_t before = node->stats().transactions;
  c->mock->BrokerDown(2);
  auto rest = std::async(std::launch::async, [&] { return SubmitAll(*c, second); });
  // Let produce requests meet the down broker, then bring it back.
  WaitFor(c->config, 2000, [&] { return node->stats().transactions > before + 2; });
  c->mock->BrokerUp(2);
  auto more = rest.get();
  outcomes.insert(outcomes.end(), more.begin(), more.end());
  ExpectSameAsEmbedded(*c, *node, commands, outcomes);
  node.reset();
  std::filesystem::remove_all(dir);
}

// Request errors and delayed responses on Produce, Fetch and EndTxn: the clients retry
// (retriable errors), the decider retries commit_transaction, the projector's fetches resume
// (exercised on the mock). Only a real cluster: the same under real ISR changes and leader moves.
TEST(KafkaFailureTest, RequestErrorsAndDelaysOnProduceFetchEndTxn) {
  CLUSTER_OR_SKIP(c, 4);
  MOCK_ONLY(c);
  const auto commands = Parse(ScenarioLines("tests/scenarios/cycle_2023.scn"));
  auto dir = TempDir("errors");
  auto node = StartNode(*c, dir);
  ASSERT_TRUE(node);
  c->mock->PushRequestErrors(kafka::Api::kProduce,
                             {kafka::kNotEnoughReplicas, kafka::kNotLeaderForPartition,
                              kafka::kRequestTimedOut, kafka::kNotEnoughReplicasAfterAppend});
  c->mock->PushRequestErrors(kafka::Api::kFetch, {kafka::kNotLeaderForPartition, kafka::kRequestTimedOut});
  c->mock->PushRequestErrors(kafka::Api::kEndTxn, {kafka::kCoordinatorNotAvailable, kafka::kNotCoordinator,
                                                   kafka::kConcurrentTransactions});
  for (int32_t b = 1; b <= 3; ++b) {
    c->mock->PushDelays(b, kafka::Api::kProduce, 5, 300);
    c->mock->PushDelays(b, kafka::Api::kFetch, 5, 300);
    c->mock->PushDelays(b, kafka::Api::kEndTxn, 3, 300);
  }
  const auto outcomes = SubmitAll(*c, commands);
  ExpectSameAsEmbedded(*c, *node, commands, outcomes);
  node.reset();
  std::filesystem::remove_all(dir);
}

// An aborted transaction whose messages consumers nevertheless see (the mock has no
// read_committed filtering): the projectors apply them, and the decider's catch-up reads them
// too, so it answers the re-delivered commands as retries and writes nothing twice; on a real
// cluster neither sees them and the decider decides the batch again, byte-identically. Only a
// real cluster: that read_committed consumers never see the aborted messages at all.
TEST(KafkaFailureTest, AbortedTransactionSeenByConsumersIsAppliedOnce) {
  CLUSTER_OR_SKIP(c, 4);
  MOCK_ONLY(c);
  const auto commands = Parse(ScenarioLines("tests/scenarios/cycle_2023.scn"));
  auto dir = TempDir("abort");
  kafka::NodeOptions o;
  std::atomic<int> injected{0};
  o.max_batch = 8;
  o.abort_before_commit = [&](uint32_t, uint64_t txn) {
    if (txn % 4 != 3) return false;
    ++injected;
    return true;
  };
  auto node = StartNode(*c, dir, o);
  ASSERT_TRUE(node);
  const auto outcomes = SubmitAll(*c, commands);
  ExpectSameAsEmbedded(*c, *node, commands, outcomes);
  EXPECT_GT(injected.load(), 0);
  EXPECT_GT(node->stats().aborted, 0u);
  // The mock showed the aborted messages to the decider's read_committed catch-up (and so to
  // the projectors): they were evolved once, their commands answered as retries, nothing twice.
  EXPECT_GT(node->stats().aborted_seen, 0u)
      << "the mock hid the aborted messages: this test no longer covers its gap";
  node.reset();
  std::filesystem::remove_all(dir);
}

// A deciders' database written with another decider-state format (events::kStateFormat; none
// recorded is format 1, every record JSON) is emptied at open, so the catch-up rebuilds each
// partition's state from the log instead of misreading it; one of the current format is kept.
TEST(KafkaDeciderDbTest, AStateOfAnotherFormatIsEmptiedAndOneOfTheCurrentFormatKept) {
  auto dir = TempDir("format");
  const std::string path = (dir / "kafka-decider").string();
  std::filesystem::create_directories(dir);
  const std::string state_key = std::string("s\0\0\0\0s/directory", 16);
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, path, &raw).ok());
    ASSERT_TRUE(raw->Put({}, state_key, "\x82\xa3seq\x01").ok());  // a MessagePack map: format 1
    delete raw;
  }
  {
    auto db = kafka::internal::DeciderDb::Open(path);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    std::string v;
    EXPECT_TRUE((*db)->db()->Get({}, state_key, &v).IsNotFound());
    kafka::internal::PartitionState st(db->get(), 0);
    EXPECT_FALSE(st.overlay().Get("s/directory"));
    EXPECT_EQ(st.offset('e'), 0u);
    ASSERT_TRUE((*db)->db()->Put({}, state_key, "kept").ok());
  }
  {
    auto db = kafka::internal::DeciderDb::Open(path);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    std::string v;
    ASSERT_TRUE((*db)->db()->Get({}, state_key, &v).ok());
    EXPECT_EQ(v, "kept");
  }
  std::filesystem::remove_all(dir);
}

// A decider killed between producing and committing, then restarted on the same data: it
// catches up from the offsets its state reflects (the mock shows the uncommitted messages; a
// decision cut short is decided again), the re-delivered commands are retries (duplicate, no new
// events). Exercised on the mock: consumer-group hand-over, idempotent re-decision. Only a real
// cluster: that init_transactions of the restarted producer fences and aborts the dead one's
// transaction, and that the group resumes from the offsets committed in the transactions.
TEST(KafkaFailureTest, DeciderKilledMidTransactionAndRestarted) {
  CLUSTER_OR_SKIP(c, 4);
  MOCK_ONLY(c);
  const auto commands = Parse(ScenarioLines("tests/scenarios/cycle_2023.scn"));
  auto dir = TempDir("kill");
  kafka::NodeOptions o;
  o.max_batch = 16;
  o.kill_before_commit = [](uint32_t, uint64_t txn) { return txn == 12; };
  auto node = StartNode(*c, dir, o);
  ASSERT_TRUE(node);
  auto outcomes = std::async(std::launch::async, [&] { return SubmitAll(*c, commands); });
  ASSERT_TRUE(WaitFor(c->config, 30000, [&] { return node->stats().killed; })) << "the decider never died";
  node.reset();  // the dead process is gone (its group membership ends with it)
  auto restarted = StartNode(*c, dir);
  ASSERT_TRUE(restarted);
  ExpectSameAsEmbedded(*c, *restarted, commands, outcomes.get(), /*allow_duplicates=*/true);
  restarted.reset();
  std::filesystem::remove_all(dir);
}

// Two deciders in one group: a second joins mid-stream (rebalance), then the first leaves
// (its partitions move); commands keep flowing. Exercised on the mock: group membership,
// rebalance on join and leave, catch-up of a partition's state from the log by its new owner.
// Only a real cluster: fencing of a zombie owner that has not noticed the rebalance.
TEST(KafkaRebalanceTest, TwoDecidersShareThenHandOverWithoutLossOrDuplicate) {
  CLUSTER_OR_SKIP(c, 4);
  const auto commands = Parse(ScenarioLines("tests/scenarios/cycle_2023.scn"));
  auto dir_a = TempDir("a"), dir_b = TempDir("b");
  kafka::NodeOptions o;
  o.max_batch = 8;
  auto a = StartNode(*c, dir_a, o);
  ASSERT_TRUE(a);
  const size_t half = commands.size() / 2;
  std::vector<events::Command> first(commands.begin(), commands.begin() + half);
  std::vector<events::Command> second(commands.begin() + half, commands.end());
  // b joins while the first half flows.
  auto part1 = std::async(std::launch::async, [&] { return SubmitAll(*c, first); });
  ASSERT_TRUE(WaitFor(c->config, 30000, [&] { return a->stats().commands >= half / 3; }));
  auto b = StartNode(*c, dir_b, o);
  ASSERT_TRUE(b);
  ASSERT_TRUE(WaitFor(c->config, 30000, [&] { return !b->stats().assigned.empty(); }))
      << "b never got a partition";
  auto got = part1.get();
  // a leaves while the second half flows.
  const uint64_t decided = a->stats().commands + b->stats().commands;
  auto part2 = std::async(std::launch::async, [&] { return SubmitAll(*c, second); });
  ASSERT_TRUE(
      WaitFor(c->config, 30000, [&] { return a->stats().commands + b->stats().commands > decided + 4; }));
  a.reset();
  auto more = part2.get();
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_TRUE(WaitFor(c->config, 30000, [&] { return b->stats().assigned.size() == 4; }))
      << "b did not take a's partitions";
  ExpectSameAsEmbedded(*c, *b, commands, got);
  b.reset();
  std::filesystem::remove_all(dir_a);
  std::filesystem::remove_all(dir_b);
}

// The HTTP API's authenticated sender (Command::authenticated_actor) travels with the command
// through the commands topic (header vd-auth) and the decider refuses a command whose actor is
// someone else exactly as the embedded ledger does: the same outcome, reason and CommandRejected
// bytes (same event id, same hash). Exercised on the mock: message headers. Nothing here needs a
// real cluster beyond what the scenario test already covers.
TEST(KafkaAuthTest, AuthenticatedActorTravelsAndAMismatchIsRefusedAsEmbedded) {
  CLUSTER_OR_SKIP(c, 4);
  auto lines = ScenarioLines("tests/scenarios/cycle_2023.scn");
  const std::string at = R"("at":"2024-06-30T09:00:00-05:00")";
  // Directory stream: refused (the sender is not the actor); then the same by its actor.
  lines.push_back(
      R"({"command":"register_entity","command_id":"auth-dir-intruder","actor":"admin@dnp.gov.co",)" + at +
      R"(,"entity":"25126","name":"CAJICÁ","kind":"municipio","department":"25"})");
  lines.push_back(R"({"command":"register_entity","command_id":"auth-dir-own","actor":"admin@dnp.gov.co",)" +
                  at + R"(,"entity":"25126","name":"CAJICÁ","kind":"municipio","department":"25"})");
  // An entity stream: a reporter's command sent by somebody else.
  lines.push_back(
      R"({"command":"submit_report","command_id":"auth-entity-intruder","actor":"mhernandez@tenjo-cundinamarca.gov.co",)" +
      at + R"(,"entity":"25799","campaign":"KPT-2023","milestone":"Q4"})");
  auto commands = Parse(lines);
  ASSERT_EQ(commands.size(), lines.size());
  const size_t n = commands.size();
  commands[n - 3].authenticated_actor = "intruder@example.co";
  commands[n - 2].authenticated_actor = "admin@dnp.gov.co";
  commands[n - 1].authenticated_actor = "dsuarez@cundinamarca.gov.co";

  // The embedded ledger's decisions of the last three.
  std::vector<events::Decision> embedded;
  {
    auto edir = TempDir("auth-embedded");
    auto ledger = producers::EmbeddedLedger::Open(edir.string());
    ASSERT_TRUE(ledger.ok());
    for (const auto& cmd : commands) {
      auto r = (*ledger)->Append({cmd});
      ASSERT_TRUE(r.ok());
      embedded.push_back(r->front());
    }
    std::filesystem::remove_all(edir);
  }
  ASSERT_EQ(embedded[n - 3].reason, "not_authorized");
  ASSERT_EQ(embedded[n - 2].outcome, events::Outcome::kAccepted);
  ASSERT_EQ(embedded[n - 1].reason, "not_authorized");

  auto dir = TempDir("auth");
  auto node = StartNode(*c, dir);
  ASSERT_TRUE(node);
  const auto outcomes = SubmitAll(*c, commands);
  ASSERT_EQ(outcomes.size(), n);
  for (size_t i : {n - 3, n - 2, n - 1}) {
    EXPECT_EQ(outcomes[i].value("status", ""), events::OutcomeName(embedded[i].outcome))
        << outcomes[i].dump();
    EXPECT_EQ(outcomes[i].value("reason", ""), embedded[i].reason) << outcomes[i].dump();
    EXPECT_EQ(outcomes[i].value("message", ""), embedded[i].message);
    EXPECT_EQ(outcomes[i]["events"].get<std::vector<std::string>>(), embedded[i].event_ids);
  }
  ExpectSameAsEmbedded(*c, *node, commands, outcomes);
  // The CommandRejected events in the topics are the embedded ones, byte for byte.
  std::map<std::string, events::Hash> wanted;
  for (size_t i : {n - 3, n - 1})
    for (const auto& e : embedded[i].events) wanted[e.event_id] = e.hash;
  ASSERT_EQ(wanted.size(), 2u);
  auto log = kafka::KafkaLog::Open(c->config);
  ASSERT_TRUE(log.ok());
  std::map<std::string, events::Hash> found;
  for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic})
    for (uint32_t p = 0; p < (*log)->partitions(topic); ++p)
      ASSERT_TRUE((*log)
                      ->ScanPartition(topic, p, 0,
                                      [&](const events::LogEntry& e) {
                                        const schema::Event* ev = schema::GetEvent(e.bytes.data());
                                        const std::string id = ev->envelope()->event_id()->str();
                                        if (wanted.count(id)) found[id] = events::Sha256(e.bytes);
                                        return true;
                                      })
                      .ok());
  EXPECT_EQ(found, wanted);
  node.reset();
  std::filesystem::remove_all(dir);
}

// Pins down where Kafka differs from the embedded ledger by design (DESIGN §2.2; kafka/README.md
// "Decider state is per partition"): the decider of partition p knows only the directory and
// the events of p, so (1) a command_id reused by a command of an entity on ANOTHER partition
// is not refused command_id_reused, and (2) in a simulated-clock ledger a command dated before
// the last event of another partition is not refused clock_went_back. Each is decided as if the
// other partition did not exist: same status and reason as an embedded ledger that never saw
// the conflicting command. (A check across partitions would make a decision depend on timing,
// breaking "a command decided twice gives byte-identical events".) On the SAME partition both
// are refused exactly as embedded. Change this test only together with those documents.
TEST(KafkaDeciderStateTest, CommandIdReuseAndClockOrderAreCheckedPerPartitionOnly) {
  CLUSTER_OR_SKIP(c, 4);
  const std::string refer =
      R"({"command":"refer_to_control_body","command_id":"ID","actor":"admin@dnp.gov.co","at":"AT","entity":"ENTITY",)"
      R"("campaign":"KPT-2023","milestone":"Q2","control_body":"Procuraduría","case":"CASE","reason":"No reportó Q2"})";
  auto make = [&](const std::string& id, const std::string& at, const std::string& entity) {
    std::string l = refer;
    for (auto [k, v] :
         {std::pair<std::string, std::string>{"ID", id}, {"AT", at}, {"ENTITY", entity}, {"CASE", id}})
      l.replace(l.find("\"" + k + "\""), k.size() + 2, "\"" + v + "\"");
    return l;
  };
  // Two entities on different partitions (x, y) and one on x's (x2), if the 4 partitions allow.
  const std::vector<std::string> entities = {"25799", "25175", "05001", "25", "05"};
  std::string x, y;
  for (const auto& a : entities)
    for (const auto& b : entities)
      if (x.empty() && kafka::PartitionOfKey(a, 4) != kafka::PartitionOfKey(b, 4)) x = a, y = b;
  ASSERT_FALSE(x.empty());
  const std::string t1 = "2024-07-01T09:00:00-05:00", t0 = "2024-06-30T09:00:00-05:00",
                    t2 = "2024-07-02T09:00:00-05:00", t3 = "2024-07-03T09:00:00-05:00";
  auto base = ScenarioLines("tests/scenarios/cycle_2023.scn");
  auto lines = base;
  lines.push_back(make("x-first", t1, x));    // partition of x, the latest time so far
  lines.push_back(make("y-earlier", t0, y));  // another partition, dated before x-first
  lines.push_back(make("x-first", t2, y));    // x-first's id, reused on another partition
  lines.push_back(make("x-first", t3, x));    // ... and on x's own partition
  lines.push_back(make("x-earlier", t0, x));  // dated before x-first, on x's partition
  const auto commands = Parse(lines);
  ASSERT_EQ(commands.size(), lines.size());
  const size_t n = commands.size();

  const Reference embedded = EmbeddedReference(commands);
  // What an embedded ledger that never saw x-first decides for y's two commands.
  auto alone = base;
  alone.push_back(make("y-earlier", t0, y));
  alone.push_back(make("fresh-id", t2, y));
  const Reference without_x = EmbeddedReference(Parse(alone));

  auto dir = TempDir("per-partition");
  auto node = StartNode(*c, dir);
  ASSERT_TRUE(node);
  const auto outcomes = SubmitAll(*c, commands);
  ASSERT_EQ(outcomes.size(), n);
  const auto reason = [&](size_t i) { return outcomes[i].value("reason", ""); };
  // The embedded ledger refuses both (its state is log-wide)…
  const auto embedded_reason = [&](size_t i) {
    auto ledger_dir = TempDir("reasons");
    auto ledger = producers::EmbeddedLedger::Open(ledger_dir.string());
    std::string r;
    for (size_t k = 0; k <= i; ++k) {
      auto d = (*ledger)->Append({commands[k]});
      if (k == i) r = d->front().reason;
    }
    ledger->reset();
    std::filesystem::remove_all(ledger_dir);
    return r;
  };
  EXPECT_EQ(embedded.statuses[n - 4], "rejected");
  EXPECT_EQ(embedded_reason(n - 4), "clock_went_back");
  EXPECT_EQ(embedded_reason(n - 3), "command_id_reused");
  // …Kafka decides them as if x's partition did not exist.
  EXPECT_EQ(outcomes[n - 5].value("status", ""), embedded.statuses[n - 5]);
  EXPECT_NE(reason(n - 4), "clock_went_back") << outcomes[n - 4].dump();
  EXPECT_NE(reason(n - 3), "command_id_reused") << outcomes[n - 3].dump();
  EXPECT_EQ(outcomes[n - 4].value("status", ""), without_x.statuses[without_x.statuses.size() - 2]);
  EXPECT_EQ(outcomes[n - 3].value("status", ""), without_x.statuses.back());
  // On x's own partition both are refused, as embedded.
  EXPECT_EQ(reason(n - 2), "command_id_reused") << outcomes[n - 2].dump();
  EXPECT_EQ(reason(n - 1), "clock_went_back") << outcomes[n - 1].dump();
  EXPECT_EQ(embedded_reason(n - 2), "command_id_reused");
  EXPECT_EQ(embedded_reason(n - 1), "clock_went_back");
  node.reset();
  std::filesystem::remove_all(dir);
}

// Produces raw bytes to a topic partition (a forger, or a buggy client), outside any decider.
void ProduceRaw(const kafka::KafkaConfig& config, const std::string& topic, int32_t partition,
                const std::string& key, const std::string& value) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", config.brokers.c_str(), err, sizeof err),
            RD_KAFKA_CONF_OK);
  for (const auto& [k, v] : config.properties) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(rd_kafka_flush(rk, config.Ms(10000)), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

// `verify --kafka` (kafka/verify.h): every stream of the topics is checked (sequence, partition,
// prev_hash chain); an exact re-delivery is counted, not an error; a forged event is named by
// topic, partition, offset, stream and sequence. Exercised on the mock: reading every partition.
TEST(KafkaVerifyTest, ChecksEveryStreamAndNamesTheFirstBadEvent) {
  CLUSTER_OR_SKIP(c, 4);
  const auto commands = Parse(ScenarioLines("tests/scenarios/cycle_2023.scn"));
  const Reference ref = EmbeddedReference(commands);
  auto dir = TempDir("verify");
  auto node = StartNode(*c, dir);
  ASSERT_TRUE(node);
  const auto outcomes = SubmitAll(*c, commands);
  ASSERT_TRUE(node->WaitProjected(Scaled(c->config, 30000)).ok());
  node.reset();
  auto good = kafka::VerifyTopics(c->config);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_TRUE(good->ok) << good->problem;
  EXPECT_EQ(good->events - good->redelivered, ref.event_ids.size());
  EXPECT_EQ(good->streams, ref.heads.size());
  std::atomic<bool> stop{true};  // a server that stops: the walk ends, nothing is reported
  EXPECT_EQ(kafka::VerifyTopics(c->config, &stop).status().code(), StatusCode::kUnavailable);

  // The first event of Tenjo's stream, and where its partition ends.
  const uint32_t p = kafka::PartitionOfKey("25799", 4);
  auto log = kafka::KafkaLog::Open(c->config);
  ASSERT_TRUE(log.ok());
  std::string first;
  ASSERT_TRUE((*log)
                  ->ScanPartition(events::kEventsTopic, p, 0,
                                  [&](const events::LogEntry& e) {
                                    const schema::Event* ev = schema::GetEvent(e.bytes.data());
                                    if (ev->envelope()->stream()->str() == "25799" &&
                                        ev->envelope()->stream_seq() == 1) {
                                      first = e.bytes;
                                      return false;
                                    }
                                    return true;
                                  })
                  .ok());
  ASSERT_NE(first.find("Tenjo"), std::string::npos);
  const std::string topic = c->config.Topic(kafka::kEvents);
  ProduceRaw(c->config, topic, static_cast<int32_t>(p), "25799", first);  // an exact re-delivery
  auto again = kafka::VerifyTopics(c->config);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->ok) << again->problem;
  EXPECT_EQ(again->redelivered, good->redelivered + 1);

  std::string forged = first;
  forged.replace(forged.find("Tenjo"), 5, "Tenjx");  // still a well-formed event: only the hash tells
  auto end = (*log)->EndOffset(events::kEventsTopic, p);
  ASSERT_TRUE(end.ok());
  ProduceRaw(c->config, topic, static_cast<int32_t>(p), "25799", forged);
  auto bad = kafka::VerifyTopics(c->config);
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->ok);
  EXPECT_EQ(bad->topic, "events");
  EXPECT_EQ(bad->partition, p);
  EXPECT_EQ(bad->offset, *end);
  EXPECT_EQ(bad->stream, "25799");
  EXPECT_EQ(bad->stream_seq, 1u);
  EXPECT_NE(bad->problem.find("fork"), std::string::npos) << bad->problem;
  std::filesystem::remove_all(dir);
}

// A log as the mock shows it after aborted transactions were retried by a decider that did not
// see them (a real cluster's decider): runs of exact copies of earlier events of a partition.
class RedeliveringLog : public events::LogReader {
 public:
  explicit RedeliveringLog(const producers::EmbeddedLedger& source) : source_(source) {}
  uint32_t partitions(std::string_view topic) const override { return source_.partitions(topic); }
  Status ScanLog(uint64_t, const std::function<bool(const events::LogEntry&)>&) const override {
    return Status::FailedPrecondition("partition by partition");
  }
  Status ScanPartition(std::string_view topic, uint32_t partition, uint64_t from,
                       const std::function<bool(const events::LogEntry&)>& fn) const override {
    std::vector<events::LogEntry> all, shown;
    VEEDURIA_RETURN_IF_ERROR(source_.ScanPartition(topic, partition, 0, [&](const events::LogEntry& e) {
      all.push_back(e);
      return true;
    }));
    for (size_t i = 0; i < all.size(); ++i) {
      shown.push_back(all[i]);
      if (i % 5 == 4)  // the last three again: an aborted transaction, then its retry
        for (size_t j = i - 2; j <= i; ++j) shown.push_back(all[j]);
    }
    for (size_t i = 0; i < shown.size(); ++i) {
      shown[i].position.offset = i;
      shown[i].position.lsn = 0;
      if (i >= from && !fn(shown[i])) break;
    }
    return Status::Ok();
  }

 private:
  const producers::EmbeddedLedger& source_;
};

// The projector on its own (no broker): exact re-deliveries of earlier events, as a real
// cluster's re-decided transactions look to the mock's consumers, are applied once, in small
// batches that split the copies. What this covers is the application-level guarantee the
// broker's read_committed would give on a real cluster.
TEST(KafkaProjectorTest, ExactRedeliveriesAreAppliedOnce) {
  const auto commands = Parse(ScenarioLines("tests/scenarios/cycle_2023.scn"));
  const Reference ref = EmbeddedReference(commands);
  auto dir = TempDir("redeliver");
  {
    auto ledger = producers::EmbeddedLedger::Open((dir / "src").string());
    ASSERT_TRUE(ledger.ok());
    for (const auto& c : commands) ASSERT_TRUE((*ledger)->Append({c}).ok());
    auto store = projections::ProjectionStore::Open((dir / "proj").string());
    ASSERT_TRUE(store.ok());
    RedeliveringLog log(**ledger);
    auto r = consumers::CatchUp(log, **store, 3);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GT(r->events, ref.event_ids.size());
    EXPECT_EQ((*store)->Digests(), ref.digests);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace veeduria::testing
