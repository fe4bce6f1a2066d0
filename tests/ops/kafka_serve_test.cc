// `veeduria serve --kafka-mock 3 --http 127.0.0.1:0` end to end (issue 7 follow-up): the real
// binary runs librdkafka's mock cluster (3 brokers on loopback), a Kafka node and the HTTP
// service over it in one process; beside it, `serve --http` over an embedded ledger. The same
// command file, POSTed in the same requests with each actor's token, must give both services the
// same `submit --json` lines, and then the same query JSON byte for byte (so the same read
// models, the same read scopes). Label `kafka`; with VEEDURIA_KAFKA_REAL=1 and
// VEEDURIA_KAFKA_BROKERS (label `kafka-real`) the node runs on that cluster instead, on fresh
// topics.

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "veeduria/kafka/config.h"

namespace {

using json = nlohmann::json;
using veeduria::testing::ServeProcess;

const std::string kAdmin = "admin@dnp.gov.co";
const std::string kReviewer25 = "dsuarez@cundinamarca.gov.co";
const std::string kLeader25799 = "jcastro@tenjo-cundinamarca.gov.co";
const std::string kReporter25799 = "mhernandez@tenjo-cundinamarca.gov.co";
const std::string kNobody = "nobody@nowhere.co";
const std::string kInit = json{{"command", "init"},
                               {"command_id", "init"},
                               {"actor", kAdmin},
                               {"clock", "simulated"},
                               {"admin", kAdmin},
                               {"partitions", 4},
                               {"at", "2023-01-02T08:00:00-05:00"}}
                              .dump();

// The one thing that differs by design: the audit's `position` column ends with the embedded
// log's total order, "(lsn N)", which Kafka has not ("(lsn 0)"). Topic, partition and offset
// before it are compared as they are (equal on the mock, which writes no transaction markers).
std::string WithoutLsn(const std::string& body) {
  static const std::regex lsn(R"(\(lsn [0-9]+\))");
  return std::regex_replace(body, lsn, "(lsn)");
}

struct Server {
  std::string data;
  std::map<std::string, std::string> tokens;
  std::unique_ptr<ServeProcess> process;
  std::vector<std::string> bodies;  // answers to the POSTs, in order
};

class KafkaServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* brokers = std::getenv("VEEDURIA_KAFKA_BROKERS");
    if (std::getenv("VEEDURIA_KAFKA_REAL") && (!brokers || !*brokers)) {
      skip_ = "no real cluster: set VEEDURIA_KAFKA_BROKERS=host:port,... to run the kafka-real suite";
      return;
    }
    dir_ = new veeduria::testing::TempDir();
    embedded_ = new Server{dir_->path + "/embedded"};
    kafka_ = new Server{dir_->path + "/kafka"};
    ASSERT_EQ(Run(*embedded_, {"init", "--clock", "simulated", "--admin", kAdmin, "--at",
                               "2023-01-02T08:00:00-05:00", "--partitions", "4"})
                  .rc,
              0);
    std::filesystem::create_directories(kafka_->data);
    // The command file, cut into runs of consecutive lines of one actor: one POST per run, with
    // that actor's token (the service refuses a line naming anyone but the token's user).
    std::ifstream in(veeduria::testing::ScenarioCommands(dir_->path));
    std::string line;
    std::set<std::string> users = {kAdmin, kReviewer25, kLeader25799, kReporter25799, kNobody};
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      const std::string actor = j.is_object() && j.contains("actor") && j["actor"].is_string()
                                    ? j["actor"].get<std::string>()
                                    : kAdmin;
      users.insert(actor);
      if (runs_.empty() || runs_.back().first != actor) runs_.push_back({actor, ""});
      runs_.back().second += line + "\n";
    }
    // Last: a reporter's command sent with the reviewer's token (an actor mismatch).
    runs_.push_back({kReviewer25, json{{"command", "submit_report"},
                                       {"command_id", "mismatch-1"},
                                       {"actor", kReporter25799},
                                       {"at", "2024-06-30T09:00:00-05:00"},
                                       {"entity", "25799"},
                                       {"campaign", "KPT-2023"},
                                       {"milestone", "Q4"}}
                                          .dump() +
                                      "\n"});
    for (Server* s : {embedded_, kafka_})
      for (const auto& u : users) {
        auto r = Run(*s, {"token", "add", "--user", u});
        ASSERT_EQ(r.rc, 0) << u;
        s->tokens[u] = r.out.substr(0, r.out.find('\n'));
      }
    embedded_->process = std::make_unique<ServeProcess>(std::vector<std::string>{
        "--data", embedded_->data, "serve", "--http", "127.0.0.1:0", "--maintenance-every", "3600"});
    ASSERT_GT(embedded_->process->port, 0) << embedded_->process->first_line;
    std::vector<std::string> kargs = {"--data", kafka_->data,   "serve",
                                      "--http", "127.0.0.1:0",  "--maintenance-every",
                                      "3600",   "--partitions", "4"};
    if (std::getenv("VEEDURIA_KAFKA_REAL")) {
      veeduria::kafka::KafkaConfig c = veeduria::kafka::KafkaConfig::ForBrokers(brokers);
      c.topic_prefix = "veeduria-serve-test-" + std::to_string(getpid()) + ".";
      ASSERT_TRUE(veeduria::kafka::CreateTopics(c, 4, 3, 2).ok());
      const std::string config = dir_->path + "/kafka.json";
      std::ofstream(config)
          << json{{"brokers", brokers}, {"partitions", 4}, {"topic_prefix", c.topic_prefix}}.dump();
      kargs.insert(kargs.end(), {"--kafka-config", config});
    } else {
      kargs.insert(kargs.end(), {"--kafka-mock", "3"});
    }
    kafka_->process = std::make_unique<ServeProcess>(kargs);
    ASSERT_GT(kafka_->process->port, 0) << kafka_->process->first_line;
    // The Kafka ledger is initialized through the API too (the embedded one by `init`, above).
    auto init = Post(*kafka_, kInit, kAdmin);
    ASSERT_TRUE(init) << httplib::to_string(init.error());
    ASSERT_EQ(init->status, 200) << init->body;
    ASSERT_EQ(json::parse(init->body)["status"], "accepted") << init->body;
    for (const auto& [actor, body] : runs_)
      for (Server* s : {embedded_, kafka_}) {
        auto r = Post(*s, body, actor);
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        s->bodies.push_back(r->body);
      }
  }
  static void TearDownTestSuite() {
    delete embedded_;
    delete kafka_;
    delete dir_;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static veeduria::testing::RunResult Run(const Server& s, std::vector<std::string> args) {
    args.insert(args.begin(), {"--data", s.data});
    return veeduria::testing::Run(args);
  }
  // The binary with stderr in `out` too (error messages).
  static veeduria::testing::RunResult RunWithStderr(const std::vector<std::string>& args) {
    std::string cmd = veeduria::testing::Quote(VEEDURIA_BINARY);
    for (const auto& a : args) cmd += " " + veeduria::testing::Quote(a);
    cmd += " </dev/null 2>&1";
    veeduria::testing::RunResult r;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = p ? ::pclose(p) : -1;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }
  static httplib::Headers Auth(const std::string& token) {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return h;
  }
  static httplib::Result Get(const Server& s, const std::string& path, const std::string& user) {
    httplib::Client c("127.0.0.1", s.process->port);
    c.set_read_timeout(120);
    return c.Get(path, Auth(user.empty() ? "" : s.tokens.at(user)));
  }
  static httplib::Result Post(const Server& s, const std::string& body, const std::string& user) {
    httplib::Client c("127.0.0.1", s.process->port);
    c.set_read_timeout(120);
    return c.Post("/v1/commands", Auth(s.tokens.at(user)), body, "application/x-ndjson");
  }

  static veeduria::testing::TempDir* dir_;
  static Server* embedded_;
  static Server* kafka_;
  static std::vector<std::pair<std::string, std::string>> runs_;  // actor, JSON Lines
  static std::string skip_;
};
veeduria::testing::TempDir* KafkaServeTest::dir_ = nullptr;
Server* KafkaServeTest::embedded_ = nullptr;
Server* KafkaServeTest::kafka_ = nullptr;
std::vector<std::pair<std::string, std::string>> KafkaServeTest::runs_;
std::string KafkaServeTest::skip_;

TEST_F(KafkaServeTest, TheSameCommandFileGivesTheSameOutcomeLines) {
  ASSERT_EQ(kafka_->bodies.size(), runs_.size());
  ASSERT_EQ(embedded_->bodies.size(), runs_.size());
  size_t accepted = 0, rejected = 0;
  for (size_t i = 0; i < runs_.size(); ++i) {
    EXPECT_EQ(kafka_->bodies[i], embedded_->bodies[i]) << "POST " << i << " as " << runs_[i].first;
    std::istringstream lines(kafka_->bodies[i]);
    std::string l;
    while (std::getline(lines, l)) {
      const std::string status = json::parse(l)["status"];
      accepted += status == "accepted";
      rejected += status == "rejected";
    }
  }
  EXPECT_GT(accepted, 50u);
  EXPECT_GT(rejected, 10u);
}

TEST_F(KafkaServeTest, AnActorMismatchIsRecordedAsNotAuthorized) {
  const json last = json::parse(kafka_->bodies.back());
  EXPECT_EQ(last["status"], "rejected");
  EXPECT_EQ(last["reason"], "not_authorized");
  EXPECT_NE(last["message"].get<std::string>().find(kReviewer25), std::string::npos) << last.dump();
  ASSERT_EQ(last["events"].size(), 1u) << "the refusal is recorded";
  // And it is in the Kafka node's audit trail exactly as in the embedded one.
  const std::string path = "/v1/audit?entity=25799&type=CommandRejected";
  auto k = Get(*kafka_, path, kAdmin);
  auto e = Get(*embedded_, path, kAdmin);
  ASSERT_TRUE(k && e);
  EXPECT_EQ(k->status, 200) << k->body;
  EXPECT_EQ(WithoutLsn(k->body), WithoutLsn(e->body));
  EXPECT_NE(k->body.find(last["events"][0].get<std::string>()), std::string::npos);
}

TEST_F(KafkaServeTest, EveryQueryAnswersTheEmbeddedJsonByteForByte) {
  const std::vector<std::string> paths = {
      "/v1/audit?entity=25799&object=IP-155",
      "/v1/audit?entity=25799&as_of=2023-06-30",
      "/v1/audit?entity=25175",
      "/v1/progress?entity=25799&campaign=KPT-2023&milestone=Q2",
      "/v1/progress?department=25",
      "/v1/progress?national=true",
      "/v1/reviews?department=25&campaign=KPT-2023&milestone=Q2",
      "/v1/reviews?entity=25799",
      "/v1/compliance?campaign=KPT-2023&milestone=Q2&department=25",
      "/v1/compliance?campaign=KPT-2023&milestone=Q2&as_of=2023-07-20",
      "/v1/users?entity=25",
      "/v1/users?entity=25175",
      "/v1/mdm?vigencia=2022",
      "/v1/audit?entity=25799&limit=3&offset=2",
      "/v1/audit?actor=" + kReviewer25,  // across entities: the a/ marks folded from Kafka
  };
  for (const auto& p : paths) {
    auto k = Get(*kafka_, p, kAdmin);
    auto e = Get(*embedded_, p, kAdmin);
    ASSERT_TRUE(k && e) << p;
    EXPECT_EQ(k->status, 200) << p << ": " << k->body;
    EXPECT_EQ(e->status, 200) << p << ": " << e->body;
    EXPECT_GT(k->body.size(), 20u) << p;
    EXPECT_EQ(WithoutLsn(k->body), WithoutLsn(e->body)) << p;
    EXPECT_EQ(k->get_header_value("X-Total-Count"), e->get_header_value("X-Total-Count")) << p;
    EXPECT_EQ(k->get_header_value("Link"), e->get_header_value("Link")) << p;
  }
}

TEST_F(KafkaServeTest, ReadScopesAreTheEmbeddedOnes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {kReviewer25, "/v1/users?entity=25"},        {kReviewer25, "/v1/progress?entity=25799"},
      {kReviewer25, "/v1/progress?national=true"}, {kLeader25799, "/v1/audit?entity=25799"},
      {kLeader25799, "/v1/audit?entity=25175"},    {kLeader25799, "/v1/mdm?vigencia=2022"},
      {kNobody, "/v1/users?entity=25799"},         {kReviewer25, "/v1/audit?actor=" + kReviewer25},
  };
  std::set<int> seen;
  for (const auto& [user, path] : cases) {
    auto k = Get(*kafka_, path, user);
    auto e = Get(*embedded_, path, user);
    ASSERT_TRUE(k && e) << path;
    EXPECT_EQ(k->status, e->status) << user << " " << path;
    EXPECT_EQ(WithoutLsn(k->body), WithoutLsn(e->body)) << user << " " << path;
    seen.insert(k->status);
  }
  EXPECT_EQ(seen, (std::set<int>{200, 403}));
}

TEST_F(KafkaServeTest, WrongTokensAre401) {
  httplib::Client c("127.0.0.1", kafka_->process->port);
  auto none = c.Get("/v1/users?entity=25");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto bad = c.Get("/v1/users?entity=25", Auth("vdr_00000000_notasecret"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  // A token of the embedded service is not one of the Kafka node's (tokens live in its DATA).
  auto other = c.Post("/v1/commands", Auth(embedded_->tokens.at(kAdmin)), kInit, "application/x-ndjson");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 401);
  EXPECT_EQ(other->body.find("init"), std::string::npos) << "a 401 names no data";
}

TEST_F(KafkaServeTest, ReadyzAndMetricsShowTheNode) {
  auto r = Get(*kafka_, "/readyz", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["status"], "ready");
  EXPECT_EQ(j["assigned"], json::array({0, 1, 2, 3}));
  EXPECT_EQ(j["lag"], 0);
  auto m = Get(*kafka_, "/metrics", "");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  for (const char* want :
       {"veeduria_kafka_assigned_partitions 4", "veeduria_kafka_partition_assigned{partition=\"3\"} 1",
        "veeduria_kafka_lag_events{partition=\"0\",topic=\"events\"} 0",
        "veeduria_kafka_lag_events{partition=\"0\",topic=\"directory\"} 0",
        "veeduria_kafka_decider_total{what=\"transactions\"}", "veeduria_commands_total",
        "veeduria_projector_lag_events 0", "veeduria_http_requests_total", "veeduria_verification_ok 1"})
    EXPECT_NE(m->body.find(want), std::string::npos) << want << "\n" << m->body.substr(0, 4000);
}

TEST_F(KafkaServeTest, EvidenceIsRefusedNamingWhy) {
  auto k = Get(*kafka_, "/v1/evidence?entity=25799", kAdmin);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->status, 409) << k->body;
  EXPECT_NE(k->body.find("checkpoints"), std::string::npos) << k->body;
  auto c = Get(*kafka_, "/v1/consistency?from_size=1", kAdmin);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 409) << c->body;
  EXPECT_EQ(nlohmann::json::parse(c->body).value("error", ""), "failed_precondition") << c->body;
  EXPECT_NE(c->body.find("consistency proofs need the embedded log's signed checkpoints"), std::string::npos)
      << c->body;
}

// The query commands and digest on a Kafka node's data directory (no embedded log there), while
// its `serve --kafka` runs in another process (they open DATA/projections as a RocksDB secondary
// instance) and after it stopped: the same bytes as the node's HTTP API, and a digest equal to
// the embedded ledger's. Last in the file: it stops both servers.
TEST_F(KafkaServeTest, QueryCommandsReadTheNodesDirectoryWhileItServesAndAfter) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> queries = {
      {"/v1/audit?entity=25799&object=IP-155",
       {"audit", "--entity", "25799", "--object", "IP-155", "--json"}},
      {"/v1/progress?department=25", {"progress", "--department", "25", "--json"}},
      {"/v1/reviews?entity=25799", {"reviews", "--entity", "25799", "--json"}},
      {"/v1/compliance?campaign=KPT-2023&milestone=Q2&as_of=2023-07-20",
       {"compliance", "--campaign", "KPT-2023", "--milestone", "Q2", "--as-of", "2023-07-20", "--json"}},
      {"/v1/users?entity=25175", {"users", "--entity", "25175", "--json"}},
      {"/v1/mdm?vigencia=2022", {"mdm", "--vigencia", "2022", "--json"}},
  };
  for (const auto& [path, args] : queries) {
    auto cli = Run(*kafka_, args);
    EXPECT_EQ(cli.rc, 0) << path;
    auto http = Get(*kafka_, path, kAdmin);
    ASSERT_TRUE(http);
    EXPECT_EQ(cli.out, http->body) << path;
  }
  // A write after the node started is seen by the next command (a fresh secondary each time).
  auto before = Run(*kafka_, {"audit", "--entity", "25126", "--json"});
  EXPECT_EQ(before.out.find("EntityRegistered"), std::string::npos);
  auto posted =
      Post(*kafka_,
           R"({"command":"register_entity","command_id":"late-entity","at":"2024-07-01T09:00:00-05:00",)"
           R"("entity":"25126","name":"CAJICÁ","kind":"municipio","department":"25"})",
           kAdmin);
  ASSERT_TRUE(posted);
  ASSERT_EQ(json::parse(posted->body)["status"], "accepted") << posted->body;
  auto seen = Run(*kafka_, {"audit", "--entity", "25126", "--json"});
  EXPECT_EQ(seen.rc, 0);
  EXPECT_NE(seen.out.find("EntityRegistered"), std::string::npos) << seen.out;
  auto running = Run(*kafka_, {"digest"});
  ASSERT_EQ(running.rc, 0);
  // The same command on the embedded ledger, then both digests (its server holds its ledger).
  auto e = Post(
      *embedded_,
      posted->body.empty()
          ? ""
          : R"({"command":"register_entity","command_id":"late-entity","at":"2024-07-01T09:00:00-05:00","entity":"25126","name":"CAJICÁ","kind":"municipio","department":"25"})",
      kAdmin);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->body, posted->body);
  embedded_->process.reset();
  auto embedded_digest = Run(*embedded_, {"digest"});
  ASSERT_EQ(embedded_digest.rc, 0);
  EXPECT_EQ(running.out, embedded_digest.out) << "the node's projections differ from the embedded ones";
  EXPECT_NE(running.out.find("all  "), std::string::npos);
  // After the node stopped: the same.
  kafka_->process.reset();
  auto stopped = Run(*kafka_, {"digest"});
  EXPECT_EQ(stopped.rc, 0);
  EXPECT_EQ(stopped.out, running.out);
  // What needs the log is refused, naming why; a directory that is neither kind too.
  auto submit = RunWithStderr({"--data", kafka_->data, "submit", "-"});
  EXPECT_NE(submit.rc, 0);
  EXPECT_NE(submit.out.find("Kafka node's data directory"), std::string::npos) << submit.out;
  const std::string empty = dir_->path + "/empty";
  std::filesystem::create_directories(empty);
  auto neither = RunWithStderr({"--data", empty, "audit", "--entity", "25799"});
  EXPECT_NE(neither.rc, 0);
  EXPECT_NE(neither.out.find("no ledger in " + empty), std::string::npos) << neither.out;
}

}  // namespace
