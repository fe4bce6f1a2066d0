// Integration tests of `veeduria serve --http`: the real binary on 127.0.0.1 (an ephemeral
// port) over a ledger holding the 2023 cycle scenario; every route, every auth failure, the size
// and line limits. The limits that need a request held in flight (429, 504) and TLS run the same
// service in-process (service_test.cc), where a latch holds the query without sleeping.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "service/http_service.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/projections/store.h"

namespace {

using json = nlohmann::json;
using veeduria::testing::Run;
using veeduria::testing::ServeProcess;

const std::string kAdmin = "admin@dnp.gov.co";
const std::string kReviewer25 = "dsuarez@cundinamarca.gov.co";
const std::string kLeader25799 = "jcastro@tenjo-cundinamarca.gov.co";

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new veeduria::testing::TempDir();
    data_ = dir_->path + "/data";
    ASSERT_EQ(
        Run({"init", "--clock", "simulated", "--admin", kAdmin, "--at", "2023-01-02T08:00:00-05:00"}).rc, 0);
    const std::string cycle = veeduria::testing::ScenarioCommands(dir_->path);
    ASSERT_EQ(Run({"submit", cycle}).rc, 0);
    auto cp = Run({"checkpoint"});  // "checkpoint: tree_size N, …"
    ASSERT_EQ(cp.rc, 0);
    first_checkpoint_ = cp.out.substr(22, cp.out.find(',') - 22);
    ASSERT_EQ(Run({"checkpoint"}).rc, 0);  // a second: the log grew by the first
    for (const std::string& u : {kAdmin, kReviewer25, kLeader25799, std::string("nobody@nowhere.co")}) {
      auto r = Run({"token", "add", "--user", u});
      ASSERT_EQ(r.rc, 0);
      tokens_[u] = r.out.substr(0, r.out.find('\n'));
    }
    // What the CLI answers, before the server holds the ledger's lock.
    for (const auto& q : Queries()) cli_[q.first] = Run(q.second).out;
    server_ = new ServeProcess(Args({}));
    ASSERT_GT(server_->port, 0) << server_->first_line;
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  static std::vector<std::string> Args(std::vector<std::string> extra) {
    std::vector<std::string> a = {"--data", data_, "serve", "--http", "127.0.0.1:0", "--maintenance-every",
                                  "3600"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static veeduria::testing::RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--data", data_});
    return veeduria::testing::Run(args);
  }
  // HTTP path → the CLI command that must print the same bytes.
  static std::vector<std::pair<std::string, std::vector<std::string>>> Queries() {
    return {
        {"/v1/audit?entity=25799&object=IP-155",
         {"audit", "--entity", "25799", "--object", "IP-155", "--json"}},
        {"/v1/audit?entity=25799&as_of=2023-06-30",
         {"audit", "--entity", "25799", "--as-of", "2023-06-30", "--json"}},
        {"/v1/audit?actor=dsuarez%40cundinamarca.gov.co&from=2023-07-01",
         {"audit", "--actor", kReviewer25, "--from", "2023-07-01", "--json"}},
        {"/v1/progress?entity=25799&campaign=KPT-2023&milestone=Q2",
         {"progress", "--entity", "25799", "--campaign", "KPT-2023", "--milestone", "Q2", "--json"}},
        {"/v1/progress?department=25", {"progress", "--department", "25", "--json"}},
        {"/v1/progress?national=true", {"progress", "--national", "--json"}},
        {"/v1/reviews?department=25&campaign=KPT-2023&milestone=Q2",
         {"reviews", "--department", "25", "--campaign", "KPT-2023", "--milestone", "Q2", "--json"}},
        {"/v1/compliance?campaign=KPT-2023&milestone=Q2&department=25",
         {"compliance", "--campaign", "KPT-2023", "--milestone", "Q2", "--department", "25", "--json"}},
        {"/v1/compliance?campaign=KPT-2023&milestone=Q2&as_of=2023-07-20",
         {"compliance", "--campaign", "KPT-2023", "--milestone", "Q2", "--as-of", "2023-07-20", "--json"}},
        {"/v1/users?entity=25", {"users", "--entity", "25", "--json"}},
        {"/v1/mdm?vigencia=2022", {"mdm", "--vigencia", "2022", "--json"}},
        {"/v1/consistency?from_size=" + first_checkpoint_, {"consistency", "--from-size", first_checkpoint_}},
    };
  }
  static httplib::Result Get(const std::string& path, const std::string& user, int port = 0) {
    httplib::Client c("127.0.0.1", port ? port : server_->port);
    httplib::Headers h;
    if (!user.empty()) h.emplace("Authorization", "Bearer " + tokens_[user]);
    return c.Get(path, h);
  }
  static httplib::Result Post(const std::string& body, const std::string& user, int port = 0) {
    httplib::Client c("127.0.0.1", port ? port : server_->port);
    httplib::Headers h;
    if (!user.empty()) h.emplace("Authorization", "Bearer " + tokens_[user]);
    return c.Post("/v1/commands", h, body, "application/x-ndjson");
  }
  static std::vector<json> Lines(const std::string& body) {
    std::vector<json> out;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }

  static veeduria::testing::TempDir* dir_;
  static std::string data_;
  static std::map<std::string, std::string> tokens_;
  static std::map<std::string, std::string> cli_;
  static std::string first_checkpoint_;  // its tree size
  static ServeProcess* server_;
};
veeduria::testing::TempDir* ServeTest::dir_ = nullptr;
std::string ServeTest::data_;
std::map<std::string, std::string> ServeTest::tokens_;
std::map<std::string, std::string> ServeTest::cli_;
std::string ServeTest::first_checkpoint_;
ServeProcess* ServeTest::server_ = nullptr;

TEST_F(ServeTest, HealthReadyAndMetricsNeedNoToken) {
  auto h = Get("/healthz", "");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto r = Get("/readyz", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ready");
  // A request is counted by httplib's logger, after its answer was sent: the counter of the two
  // above may land a moment after their answers, so the scrape is repeated until it shows them.
  auto m = Get("/metrics", "");
  for (int i = 0;
       i < 100 && m && m->body.find("veeduria_http_requests_total{route=\"/readyz\"") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    m = Get("/metrics", "");
  }
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  for (const char* name :
       {"veeduria_http_requests_total{route=\"/readyz\",status=\"200\"}", "veeduria_projector_lag_events",
        "veeduria_apply_seconds", "veeduria_append_seconds", "veeduria_checkpoint_age_seconds",
        "veeduria_rocksdb_sst_bytes", "veeduria_rocksdb_pending_compaction_bytes",
        "veeduria_rebuild_records_done", "veeduria_verification_ok 1"})
    EXPECT_NE(m->body.find(name), std::string::npos) << name;
  EXPECT_NE(m->body.find("veeduria_checkpoint_present 1"), std::string::npos);
}

TEST_F(ServeTest, EveryQueryAnswersTheCliJsonByteForByte) {
  for (const auto& q : Queries()) {
    auto r = Get(q.first, kAdmin);
    ASSERT_TRUE(r) << q.first;
    EXPECT_EQ(r->status, 200) << q.first << ": " << r->body;
    EXPECT_FALSE(cli_[q.first].empty()) << q.first;
    EXPECT_EQ(r->body, cli_[q.first]) << q.first;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  }
}

TEST_F(ServeTest, ListsArePaginatedWithTheTotalAndTheNextPageInHeaders) {
  auto all = Get("/v1/audit?entity=25799", kAdmin);
  ASSERT_TRUE(all);
  const size_t total = json::parse(all->body)["rows"].size();
  ASSERT_GT(total, 5u);
  auto p1 = Get("/v1/audit?entity=25799&limit=2", kAdmin);
  ASSERT_TRUE(p1);
  EXPECT_EQ(json::parse(p1->body)["rows"].size(), 2u);
  EXPECT_EQ(p1->get_header_value("X-Total-Count"), std::to_string(total));
  EXPECT_NE(p1->get_header_value("Link").find("offset=2"), std::string::npos);
  auto p2 = Get("/v1/audit?entity=25799&limit=2&offset=2", kAdmin);
  ASSERT_TRUE(p2);
  EXPECT_EQ(json::parse(p2->body)["rows"][0], json::parse(all->body)["rows"][2]);
  auto bad = Get("/v1/audit?entity=25799&limit=0", kAdmin);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(ServeTest, BadParametersAre400) {
  for (const char* path :
       {"/v1/audit", "/v1/audit?entity=25799&bogus=1", "/v1/compliance?campaign=KPT-2023",
        "/v1/progress?entity=25799&department=25", "/v1/reviews", "/v1/mdm?vigencia=x",
        "/v1/mdm?vigencia=2023x", "/v1/mdm?vigencia=+2023", "/v1/audit?entity=25799&as_of=yesterday",
        "/v1/consistency", "/v1/consistency?from_size=1x", "/v1/consistency?from_size=-1",
        "/v1/consistency?from_size=1", "/v1/audit?entity=25799&limit=-1", "/v1/audit?entity=25799&offset=-1",
        "/v1/audit?entity=25799&limit=+5", "/v1/audit?entity=25799&offset= 1"}) {
    auto r = Get(path, kAdmin);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 400) << path << ": " << r->body;
    const std::string error = json::parse(r->body).value("error", "");
    EXPECT_TRUE(error == "bad_parameter" || error == "missing_parameter") << path << ": " << r->body;
    EXPECT_TRUE(json::parse(r->body).contains("message")) << path;
  }
  auto unknown = Get("/v1/nothing", kAdmin);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  // A query's own failure: its status and code follow what failed.
  auto campaign = Get("/v1/progress?entity=25799&campaign=KPT-1999&milestone=Q1", kAdmin);
  ASSERT_TRUE(campaign);
  EXPECT_EQ(campaign->status, 404) << campaign->body;
  EXPECT_EQ(json::parse(campaign->body).value("error", ""), "not_found") << campaign->body;
}

TEST_F(ServeTest, EvidenceIsTheBundleWithEveryFile) {
  auto r = Get("/v1/evidence?entity=25799&campaign=KPT-2023&milestone=Q2", kAdmin);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_GT(j["events"].get<int>(), 0);
  for (const char* f :
       {"manifest.json", "manifest.sig", "timeline.html", "public_key.pem", "checkpoint.json"})
    EXPECT_TRUE(j["files"].contains(f)) << f;
  size_t event_files = 0;
  for (const auto& [name, content] : j["files"].items()) event_files += name.rfind("events/", 0) == 0;
  EXPECT_EQ(event_files, 2 * j["events"].get<size_t>()) << "each event as bytes and as JSON";
  auto forbidden = Get("/v1/evidence?entity=25799", "nobody@nowhere.co");
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->status, 403);
}

TEST_F(ServeTest, MissingMalformedUnknownAndRevokedTokensAre401) {
  httplib::Client c("127.0.0.1", server_->port);
  for (const httplib::Headers& h :
       {httplib::Headers{}, httplib::Headers{{"Authorization", "Basic YWRtaW46eA=="}},
        httplib::Headers{{"Authorization", "Bearer vdr_00000000_" + std::string(64, '0')}},
        httplib::Headers{{"Authorization", "Bearer " + tokens_[kAdmin] + "x"}}}) {
    auto r = c.Get("/v1/users?entity=25", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->body.find("25"), std::string::npos) << "no data in the message: " << r->body;
    auto p = c.Post("/v1/commands", h, "{}", "application/x-ndjson");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status, 401);
  }
  // A token revoked while the server runs stops working at once.
  auto added = Run({"token", "add", "--user", kAdmin});
  ASSERT_EQ(added.rc, 0);
  const std::string token = added.out.substr(0, added.out.find('\n'));
  auto ok = c.Get("/v1/users?entity=25", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  ASSERT_EQ(Run({"token", "revoke", "--id", token.substr(4, 8)}).rc, 0);
  auto revoked = c.Get("/v1/users?entity=25", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 401);
}

TEST_F(ServeTest, ReadsAreLimitedByRole) {
  struct Case {
    std::string user, path;
    int status;
  };
  const std::vector<Case> cases = {
      {kAdmin, "/v1/compliance?campaign=KPT-2023&milestone=Q2", 200},
      {kReviewer25, "/v1/compliance?campaign=KPT-2023&milestone=Q2&department=25", 200},
      {kReviewer25, "/v1/audit?entity=25799", 200},
      {kReviewer25, "/v1/users?entity=25", 200},
      {kReviewer25, "/v1/compliance?campaign=KPT-2023&milestone=Q2", 403},
      {kReviewer25, "/v1/compliance?campaign=KPT-2023&milestone=Q2&department=05", 403},
      {kReviewer25, "/v1/audit?entity=05001", 403},
      {kReviewer25, "/v1/audit?entity=25799&actor=" + kReviewer25, 200},
      {kReviewer25, "/v1/audit?actor=" + kReviewer25, 403},  // across entities: national roles
      {kAdmin, "/v1/audit?actor=" + kReviewer25, 200},
      {kReviewer25, "/v1/consistency?from_size=" + first_checkpoint_, 403},
      {kReviewer25, "/v1/progress?national=true", 403},
      {kLeader25799, "/v1/audit?entity=25799", 200},
      {kLeader25799, "/v1/progress?entity=25799", 200},
      {kLeader25799, "/v1/audit?entity=25175", 403},
      {kLeader25799, "/v1/reviews?department=25", 403},
      {kLeader25799, "/v1/mdm?vigencia=2022", 403},
      {"nobody@nowhere.co", "/v1/users?entity=25799", 403},
      {"nobody@nowhere.co", "/v1/audit?entity=99999", 403},
  };
  for (const auto& c : cases) {
    auto r = Get(c.path, c.user);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, c.status) << c.user << " " << c.path << ": " << r->body;
    if (c.status == 403) {
      EXPECT_EQ(json::parse(r->body)["error"], "forbidden");
      EXPECT_EQ(r->body.find("rows"), std::string::npos);
    }
  }
}

TEST_F(ServeTest, CommandsAnswerPerLineAndTheActorIsTheTokensUser) {
  const std::string body =
      // actor omitted: the token's user
      "{\"command\":\"request_password_reset\",\"command_id\":\"http-reset-1\",\"at\":\"2024-03-01T08:00:00-"
      "05:00\","
      "\"user\":\"" +
      kLeader25799 +
      "\"}\n"
      // actor names someone else: refused and recorded
      "{\"command\":\"request_password_reset\",\"command_id\":\"http-reset-2\",\"actor\":\"" +
      kAdmin + "\",\"at\":\"2024-03-01T08:01:00-05:00\",\"user\":\"" + kAdmin +
      "\"}\n"
      "{\"command\":\"nonsense\"\n";
  auto r = Post(body, kLeader25799);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto lines = Lines(r->body);
  ASSERT_EQ(lines.size(), 3u) << r->body;
  EXPECT_EQ(lines[0]["line"], 1);
  EXPECT_EQ(lines[0]["status"], "accepted") << lines[0];
  EXPECT_EQ(lines[0]["events"].size(), 1u);
  EXPECT_EQ(lines[1]["status"], "rejected");
  EXPECT_EQ(lines[1]["reason"], "not_authorized");
  EXPECT_EQ(lines[1]["events"].size(), 1u) << "a refusal is recorded";
  EXPECT_EQ(lines[2]["status"], "invalid");
  // The shape of submit --json.
  EXPECT_EQ(
      r->body.rfind("{\"line\":1,\"command_id\":\"http-reset-1\",\"status\":\"accepted\",\"message\":", 0),
      0u);
  // Read your writes: the entity's users show the reset requested by the token's user at once.
  auto users = Get("/v1/users?entity=25799", kAdmin);
  ASSERT_TRUE(users);
  bool reset = false;
  const json users_json = json::parse(users->body);
  for (const auto& row : users_json["rows"])
    reset =
        reset || (row.value("detail", "") == "request http-reset-1" && row.value("by", "") == kLeader25799);
  EXPECT_TRUE(reset) << users->body;
  // A retry is a duplicate with the original events.
  auto again = Post(body, kLeader25799);
  ASSERT_TRUE(again);
  auto l2 = Lines(again->body);
  EXPECT_EQ(l2[0]["status"], "duplicate");
  EXPECT_EQ(l2[0]["events"], lines[0]["events"]);
  auto m = Get("/metrics", "");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("veeduria_commands_total{outcome=\"rejected\",reason=\"not_authorized\"} 1"),
            std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("veeduria_events_appended_total{type=\"CommandRejected\"} 1"), std::string::npos);
  EXPECT_NE(m->body.find("veeduria_commands_total{outcome=\"invalid\",reason=\"bad_json\"}"),
            std::string::npos);
  EXPECT_NE(m->body.find("veeduria_http_requests_total{route=\"/v1/commands\",status=\"200\"}"),
            std::string::npos);
}

TEST_F(ServeTest, BodyAndLineLimitsAre413AndTheServiceKeepsServing) {
  // A second server on a copy of the ledger, with small limits.
  const std::string copy = dir_->path + "/limits";
  std::filesystem::copy(data_ + "/tokens", dir_->path + "/tokens-copy");
  {
    veeduria::testing::RunResult init =
        veeduria::testing::Run({"--data", copy, "init", "--clock", "system", "--admin", kAdmin});
    ASSERT_EQ(init.rc, 0);
  }
  ServeProcess small({"--data", copy, "serve", "--http", "127.0.0.1:0", "--tokens",
                      dir_->path + "/tokens-copy", "--max-body-bytes", "2000", "--max-lines", "2",
                      "--maintenance-every", "3600"});
  ASSERT_GT(small.port, 0) << small.first_line;
  const std::string line =
      "{\"command\":\"request_password_reset\",\"command_id\":\"x\",\"user\":\"" + kAdmin + "\"}\n";
  auto big = Post(std::string(3000, ' ') + line, kAdmin, small.port);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto many = Post(line + line + line, kAdmin, small.port);
  ASSERT_TRUE(many);
  EXPECT_EQ(many->status, 413);
  EXPECT_EQ(json::parse(many->body)["error"], "too_many_lines");
  auto ok = Post(line, kAdmin, small.port);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(Lines(ok->body).at(0)["status"], "accepted") << ok->body;
  auto m = Get("/metrics", "", small.port);
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("veeduria_http_requests_total{route=\"/v1/commands\",status=\"413\"} 2"),
            std::string::npos)
      << m->body;
}

// ops/openapi.yaml describes every route the service installs, and nothing else; each answers.
TEST_F(ServeTest, TheOpenApiDescriptionMatchesTheServedRoutes) {
  std::ifstream in(std::string(VEEDURIA_SOURCE_DIR) + "/ops/openapi.yaml");
  ASSERT_TRUE(in);
  std::set<std::pair<std::string, std::string>> described, served;
  std::string line, path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (line == "paths:")
      in_paths = true;
    else if (in_paths && !line.empty() && line[0] != ' ')
      in_paths = false;
    if (!in_paths) continue;
    if (line.size() > 3 && line.rfind("  /", 0) == 0 && line.back() == ':')
      path = line.substr(2, line.size() - 3);
    for (const char* m : {"get", "post", "put", "delete", "patch"})
      if (line == std::string("    ") + m + ":") {
        std::string upper = m;
        for (auto& c : upper) c = static_cast<char>(std::toupper(c));
        described.insert({upper, path});
      }
  }
  for (const auto& r : veeduria::service::ServedRoutes()) served.insert({r.method, r.path});
  EXPECT_EQ(described, served);
  EXPECT_EQ(served.size(), 12u);
  for (const auto& [method, p] : served) {
    auto r = method == "GET" ? Get(p, kAdmin) : Post("", kAdmin);
    ASSERT_TRUE(r) << p;
    EXPECT_NE(r->status, 404) << method << " " << p;
    EXPECT_NE(r->status, 405) << method << " " << p;
  }
}

}  // namespace

namespace {

// A rebuild stopped while it merged (here: its merge failed) leaves the audit index in sorted runs
// a merge has yet to merge; the server merges them in the background once it serves.
TEST(ServeMergeTest, TheServerMergesWhatAStoppedRebuildLeftUnmerged) {
  veeduria::testing::TempDir dir;
  const std::string data = dir.path + "/data";
  ASSERT_EQ(veeduria::testing::Run({"--data", data, "init", "--clock", "simulated", "--admin", kAdmin, "--at",
                                    "2023-01-02T08:00:00-05:00"})
                .rc,
            0);
  ASSERT_EQ(
      veeduria::testing::Run({"--data", data, "submit", veeduria::testing::ScenarioCommands(dir.path)}).rc,
      0);
  {
    auto ledger = veeduria::producers::EmbeddedLedger::Open(data);
    ASSERT_TRUE(ledger.ok());
    veeduria::projections::StoreOptions stopped{.bulk_events = 10};
    stopped.before_merge = [] { return veeduria::Status::Unavailable("stopped (injected)"); };
    auto store = veeduria::projections::ProjectionStore::Open(data, stopped);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Reset("").ok());  // a rebuild
    ASSERT_TRUE(veeduria::consumers::CatchUp(**ledger, **store, 5).ok());
    EXPECT_FALSE((*store)->FinishMerge().ok());
    EXPECT_EQ((*store)->PendingMerges(), std::vector<std::string>{"audit"});
  }
  ServeProcess server({"--data", data, "serve", "--http", "127.0.0.1:0", "--maintenance-every", "3600"});
  ASSERT_GT(server.port, 0) << server.first_line;
  // The store as the server left it on disk, read beside it, until the merge says it is done.
  std::vector<std::string> pending = {"audit"};
  for (int i = 0; i < 200 && !pending.empty(); ++i) {  // up to 20 s: waiting for a background merge
    auto seen = veeduria::projections::ProjectionStore::OpenSecondary(data);
    if (seen.ok()) pending = (*seen)->PendingMerges();  // else opened as the server wrote: again
    if (!pending.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(pending.empty());
}

// Regression: SIGTERM right after the "serving" line could reach httplib before its listen loop
// had started, and that stop() was lost: the server kept running. It must now exit promptly.
TEST(ServeStopTest, SigtermRightAfterTheServingLineStopsTheServer) {
  veeduria::testing::TempDir dir;
  const std::string data = dir.path + "/data";
  ASSERT_EQ(veeduria::testing::Run({"--data", data, "init", "--clock", "simulated", "--admin", kAdmin}).rc,
            0);
  for (int round = 0; round < 30; ++round) {
    ServeProcess p({"--data", data, "serve", "--http", "127.0.0.1:0", "--maintenance-every", "3600"});
    ASSERT_GT(p.port, 0) << p.first_line;
    ::kill(p.pid, SIGTERM);
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 1000 && done == 0; ++i) {  // up to 10 s
      done = ::waitpid(p.pid, &status, WNOHANG);
      if (done == 0) ::usleep(10000);  // polling a child's exit, not timing a race
    }
    if (done == 0) ::kill(p.pid, SIGKILL);
    EXPECT_NE(done, 0) << "round " << round << ": the server ignored SIGTERM";
    if (done == 0) ::waitpid(p.pid, &status, 0);
    p.pid = -1;
  }
}

}  // namespace
