// Throughput of the Kafka backend through librdkafka's mock cluster (3 brokers, loopback), beside
// rdkafka_performance-style raw rates measured in the same run on a second mock cluster:
//   raw produce   idempotent, acks=all, 200-byte messages, murmur2_random over P partitions
//   raw consume   the same messages, read_committed, from the start
//   end to end    `submit --kafka` of a generated year of reporting: commands/s from the first
//                 send to the last outcome (deciders: one transaction per batch per partition)
//   projected     events/s of a fresh projector-only node reading the whole log into its
//                 ProjectionStore (offsets and rows in one RocksDB batch per partition batch)
//
//   build/tests/kafka_bench [--scale tiny|demo] [--raw N (default 100000)] [--partitions P (default 6)]
//
// A program rather than a Google Benchmark: each figure is one long end-to-end run.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "veeduria/events/command.h"
#include "veeduria/kafka/mock_cluster.h"
#include "veeduria/kafka/node.h"
#include "veeduria/kafka/submitter.h"
#include "veeduria/producers/generator.h"

namespace {

using namespace veeduria;
using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

rd_kafka_t* Client(rd_kafka_type_t type, const std::string& brokers,
                   std::vector<std::pair<const char*, const char*>> kv) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  kv.insert(kv.begin(), {{"bootstrap.servers", brokers.c_str()}, {"socket.nagle.disable", "true"}});
  for (auto [k, v] : kv)
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::cerr << k << ": " << err << "\n";
      std::exit(1);
    }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) std::exit(1);
  return rk;
}

}  // namespace

int main(int argc, char** argv) {
  std::string scale = "demo";
  long raw = 100000;  // the mock keeps ~5 MiB per partition: 100k x 200 B over 6 fits
  uint32_t partitions = 6;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--scale")) scale = argv[i + 1];
    if (!std::strcmp(argv[i], "--raw")) raw = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--partitions")) partitions = static_cast<uint32_t>(std::atoi(argv[i + 1]));
  }

  // --- raw rates (rdkafka_performance style) on their own mock cluster -----------------------
  auto raw_cluster = kafka::MockCluster::Start(3, partitions, "raw.");
  if (!raw_cluster.ok()) return 1;
  const std::string rb = (*raw_cluster)->bootstraps();
  const std::string topic = "raw.events";
  std::string payload(200, 'x');
  {
    rd_kafka_t* p = Client(RD_KAFKA_PRODUCER, rb,
                           {{"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"partitioner", "murmur2_random"},
                            {"linger.ms", "5"}});
    auto t0 = Clock::now();
    for (long i = 0; i < raw; ++i) {
      std::string key = std::to_string(i % 1103);
      while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                               RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(p, 1);
      rd_kafka_poll(p, 0);
    }
    rd_kafka_flush(p, 60000);
    const double s = Since(t0);
    std::cout << "raw produce: " << raw << " messages of 200 B, idempotent acks=all, " << partitions
              << " partitions: " << static_cast<long>(raw / s) << " msg/s" << std::endl;
    rd_kafka_destroy(p);
  }
  {
    rd_kafka_t* c =
        Client(RD_KAFKA_CONSUMER, rb,
               {{"group.id", "raw"}, {"isolation.level", "read_committed"}, {"enable.auto.commit", "false"}});
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(static_cast<int>(partitions));
    for (uint32_t i = 0; i < partitions; ++i)
      rd_kafka_topic_partition_list_add(l, topic.c_str(), static_cast<int32_t>(i))->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    long n = 0;
    auto t0 = Clock::now();
    while (n < raw && Since(t0) < 120) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
      if (!m) continue;
      if (!m->err) ++n;
      rd_kafka_message_destroy(m);
    }
    const double s = Since(t0);
    std::cout << "raw consume: " << n << " messages, read_committed: " << static_cast<long>(n / s) << " msg/s"
              << std::endl;
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
  }

  // --- end to end --------------------------------------------------------------------------
  std::ostringstream gen;
  producers::GeneratorOptions go;
  go.data_dir = std::string(VEEDURIA_SOURCE_DIR) + "/../shared/data";
  go.campaigns_file = std::string(VEEDURIA_SOURCE_DIR) + "/ops/campaigns/2023.jsonl";
  go.scale = scale;
  auto gs = producers::Generate(go, gen);
  if (!gs.ok()) {
    std::cerr << "generator: " << gs.status().ToString() << "\n";
    return 1;
  }
  std::vector<events::Command> commands;
  commands.push_back(*events::ParseCommand("{\"command\":\"init\",\"command_id\":\"init\",\"actor\":\"admin@"
                                           "dnp.gov.co\",\"clock\":\"simulated\","
                                           "\"admin\":\"admin@dnp.gov.co\",\"partitions\":" +
                                               std::to_string(partitions) +
                                               ",\"at\":\"2023-01-02T08:00:00-05:00\"}",
                                           0)
                          .command);
  const std::string text = gen.str();
  for (const auto& l : events::SplitLines(text))
    if (auto p = events::ParseCommand(l.text, l.line_no); p.command)
      commands.push_back(std::move(*p.command));

  auto cluster = kafka::MockCluster::Start(3, partitions);
  if (!cluster.ok()) return 1;
  const kafka::KafkaConfig config = (*cluster)->Config();
  const auto dir =
      std::filesystem::temp_directory_path() / ("veeduria-kafka-bench-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  kafka::NodeOptions o;
  o.data_dir = (dir / "node").string();
  o.run_projectors = false;  // measured apart, below
  auto node = kafka::KafkaNode::Start(config, o);
  auto submitter = kafka::KafkaSubmitter::Open(config);
  if (!node.ok() || !submitter.ok()) return 1;
  // Not timed: the mock forms the group ~3 s after the first join.
  for (auto w = Clock::now(); (*node)->stats().assigned.size() < partitions && Since(w) < 60;)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto t0 = Clock::now();
  auto outcomes = (*submitter)->Submit(commands, std::chrono::milliseconds(120000));
  const double e2e = Since(t0);
  if (!outcomes.ok()) return 1;
  size_t timeouts = 0, directory = 0;
  std::map<std::string, int> statuses;
  for (const auto& x : *outcomes) {
    timeouts += x.value("status", "") == "timeout";
    ++statuses[x.value("status", "") + (x.value("reason", "").empty() ? "" : "/" + x.value("reason", ""))];
  }
  for (const auto& c : commands)
    directory += kafka::CommandKey(c.name, c.Has("entity") ? c.Str("entity") : "", "x") == "directory";
  const kafka::NodeStats ns = (*node)->stats();
  std::cout << "end to end (" << scale << "): " << commands.size() << " commands (" << directory
            << " directory commands) in " << e2e << " s: " << static_cast<long>(commands.size() / e2e)
            << " commands/s; " << ns.transactions << " transactions; outcomes:";
  for (const auto& [k, v] : statuses) std::cout << " " << k << " " << v;
  std::cout << "\n";

  kafka::NodeOptions po;
  po.data_dir = (dir / "projector").string();
  po.run_deciders = false;
  auto t1 = Clock::now();
  auto projector = kafka::KafkaNode::Start(config, po);
  if (!projector.ok()) return 1;
  size_t expected = 0;
  for (const auto& x : *outcomes) expected += x.contains("events") ? x["events"].size() : 0;
  Status w = (*projector)->WaitProjected(std::chrono::milliseconds(300000));
  while (w.ok() && (*projector)->stats().projected < expected && Since(t1) < 300)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the counter follows the batch
  const double proj = Since(t1);
  const uint64_t events = (*projector)->stats().projected;
  std::cout << "projected: " << events << " events from Kafka into a fresh ProjectionStore in " << proj
            << " s: " << static_cast<long>(events / proj) << " events/s"
            << (w.ok() ? "" : " (" + w.ToString() + ")") << "\n";
  (*projector)->Stop();
  (*node)->Stop();
  std::filesystem::remove_all(dir);
  return timeouts || !w.ok() ? 1 : 0;
}
