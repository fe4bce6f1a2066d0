// `veeduria serve --kafka BROKERS` (issue 7): a Kafka node — the deciders of the commands
// partitions the group assigns to this process and the projectors of the whole log into
// DATA/projections — until SIGINT or SIGTERM; and `veeduria submit --kafka BROKERS FILE`.
// `serve --kafka-mock N` starts librdkafka's mock cluster (N brokers) inside the process and
// serves on it (demos and the end-to-end test; it prints the bootstrap string for submitters).

#include "kafka_commands.h"

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "service/kafka_backend.h"
#include "veeduria/events/command.h"
#include "veeduria/kafka/mock_cluster.h"
#include "veeduria/kafka/node.h"
#include "veeduria/kafka/submitter.h"
#include "veeduria/kafka/verify.h"

namespace veeduria::cli {
namespace {

struct KafkaFlags {
  std::string brokers, config_file;
  uint32_t partitions = 0;
  void Add(CLI::App* cmd) {
    cmd->add_option("--kafka", brokers, "Kafka bootstrap servers host:port,... (the Kafka backend)");
    cmd->add_option(
        "--kafka-config", config_file,
        "Kafka configuration JSON: brokers, partitions, topic_prefix, properties (SASL/SSL…; ops/kafka/)");
    cmd->add_option("--partitions", partitions,
                    "partitions of the commands/events topics (default: from the cluster)");
  }
  bool requested() const { return !brokers.empty() || !config_file.empty(); }
  Result<kafka::KafkaConfig> Config() const {
    kafka::KafkaConfig c;
    if (!config_file.empty()) {
      auto r = kafka::KafkaConfig::FromFile(config_file);
      if (!r.ok()) return r.status();
      c = *r;
      if (!brokers.empty()) c.brokers = brokers;
    } else {
      c = kafka::KafkaConfig::ForBrokers(brokers);
    }
    if (partitions) c.partitions = partitions;
    return c;
  }
};

}  // namespace

struct KafkaServe::Flags {
  KafkaFlags kafka;
  int mock_brokers = 0;
  double stats_every = 5;
};

KafkaServe::KafkaServe(CLI::App* serve, const std::string& data)
    : data_(data), cmd_(serve), flags_(std::make_unique<Flags>()) {
  flags_->kafka.Add(cmd_);
  cmd_->add_option(
      "--kafka-mock", flags_->mock_brokers,
      "start librdkafka's mock cluster with N brokers in this process and serve on it (tests, demos)");
  cmd_->add_option("--stats-every", flags_->stats_every,
                   "seconds between status lines on stderr (default 5)");
}
KafkaServe::~KafkaServe() = default;

bool KafkaServe::requested() const {
  return cmd_->parsed() && (flags_->kafka.requested() || flags_->mock_brokers > 0);
}

int KafkaServe::Run(ServeCli* http) {
  std::unique_ptr<kafka::MockCluster> mock;
  kafka::KafkaConfig config;
  if (flags_->mock_brokers > 0) {
    const uint32_t n = flags_->kafka.partitions ? flags_->kafka.partitions : 4;
    auto m = kafka::MockCluster::Start(flags_->mock_brokers, n);
    if (!m.ok()) {
      std::cerr << "serve: " << m.status().ToString() << "\n";
      return 1;
    }
    mock = std::move(*m);
    config = mock->Config();
    // With --http the first line on stdout is the "serving" one (scripts wait for it).
    (http ? std::cerr : std::cout) << "mock cluster: " << mock->bootstraps() << std::endl;
  } else if (flags_->kafka.requested()) {
    auto c = flags_->kafka.Config();
    if (!c.ok()) {
      std::cerr << "serve: " << c.status().ToString() << "\n";
      return 2;
    }
    config = *c;
  } else {
    std::cerr << "serve: give --kafka BROKERS (or --kafka-config FILE, or --kafka-mock N)\n";
    return 2;
  }
  // Block the stop signals before any thread starts, then wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  kafka::NodeOptions o;
  o.data_dir = data_;
  auto node = kafka::KafkaNode::Start(config, o);
  if (!node.ok()) {
    std::cerr << "serve: " << node.status().ToString() << "\n";
    return 1;
  }
  std::cerr << "serve: Kafka node on " << config.brokers << " (data " << data_ << "); SIGINT/SIGTERM to stop"
            << std::endl;
  if (http) {
    kafka::KafkaNode* raw = node->get();
    service::HttpService::BackendFactory factory = [raw, config](const service::ServiceOptions& o,
                                                                 service::Probes probes) {
      return service::OpenKafkaBackend(raw, config, o.data, std::chrono::milliseconds(o.command_timeout_ms),
                                       probes);
    };
    const int rc = http->RunHttp(data_, &factory, "kafka " + config.brokers);
    (*node)->Stop();
    std::cerr << "serve: stopped (left the group; the other nodes take the partitions)" << std::endl;
    return rc;
  }
  for (;;) {
    timespec every{static_cast<time_t>(flags_->stats_every), 0};
    const int sig = sigtimedwait(&stop, nullptr, &every);
    if (sig == SIGINT || sig == SIGTERM) break;
    const kafka::NodeStats s = (*node)->stats();
    std::cerr << "kafka: partitions [";
    for (size_t i = 0; i < s.assigned.size(); ++i) std::cerr << (i ? "," : "") << s.assigned[i];
    std::cerr << "] commands " << s.commands << " transactions " << s.transactions << " aborted " << s.aborted
              << " fenced " << s.fenced << " projected " << s.projected << " lag " << s.lag
              << (s.last_error.empty() ? "" : " last_error: " + s.last_error) << std::endl;
  }
  (*node)->Stop();
  std::cerr << "serve: stopped (left the group; the other nodes take the partitions)" << std::endl;
  return 0;
}

struct SubmitKafka::Flags {
  KafkaFlags kafka;
  double timeout = 30;
};

SubmitKafka::SubmitKafka(CLI::App* submit, const std::string& data, const std::string& file, const bool& json)
    : file_(file), json_(json), flags_(std::make_unique<Flags>()) {
  (void)data;
  flags_->kafka.Add(submit);
  submit->add_option("--timeout", flags_->timeout,
                     "with --kafka: seconds to wait for each outcome (default 30)");
}
SubmitKafka::~SubmitKafka() = default;

bool SubmitKafka::requested() const { return flags_->kafka.requested(); }

int SubmitKafka::Run() {
  auto config = flags_->kafka.Config();
  if (!config.ok()) {
    std::cerr << "submit: " << config.status().ToString() << "\n";
    return 2;
  }
  std::string body;
  if (file_ == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    body = ss.str();
  } else {
    std::ifstream in(file_, std::ios::binary);
    if (!in) {
      std::cerr << "submit: cannot read " << file_ << "\n";
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  }
  // Malformed lines are `invalid` here and never sent.
  struct Line {
    int no;
    nlohmann::json result;
    int command = -1;  // index in `commands`
  };
  std::vector<Line> lines;
  std::vector<events::Command> commands;
  for (const auto& l : events::SplitLines(body)) {
    events::ParsedLine p = events::ParseCommand(l.text, l.line_no);
    Line line{l.line_no, nullptr};
    if (p.command) {
      line.command = static_cast<int>(commands.size());
      commands.push_back(std::move(*p.command));
    } else {
      line.result = {{"status", "invalid"},
                     {"reason", p.error->reason},
                     {"field", p.error->field},
                     {"message", p.error->message},
                     {"events", nlohmann::json::array()}};
    }
    lines.push_back(std::move(line));
  }
  auto submitter = kafka::KafkaSubmitter::Open(*config);
  if (!submitter.ok()) {
    std::cerr << "submit: " << submitter.status().ToString() << "\n";
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto outcomes =
      (*submitter)->Submit(commands, std::chrono::milliseconds(static_cast<int64_t>(flags_->timeout * 1000)));
  if (!outcomes.ok()) {
    std::cerr << "submit: " << outcomes.status().ToString() << "\n";
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::map<std::string, int> count;
  for (Line& l : lines) {
    if (l.command >= 0) l.result = (*outcomes)[static_cast<size_t>(l.command)];
    nlohmann::json out = {{"line", l.no}};
    for (const char* k : {"command_id", "status", "reason", "field", "message", "events", "flags"})
      if (l.result.contains(k) && !(l.result[k].is_string() && l.result[k].get<std::string>().empty() &&
                                    std::string(k) != "command_id"))
        out[k] = l.result[k];
    const std::string status = l.result.value("status", "");
    ++count[status];
    if (json_) {
      std::cout << out.dump() << "\n";
    } else if (status != "accepted") {
      std::cout << "line " << l.no << ": " << status;
      if (!l.result.value("reason", "").empty())
        std::cout << " (" << l.result["reason"].get<std::string>() << ")";
      std::cout << " " << l.result.value("command_id", "") << ": " << l.result.value("message", "") << "\n";
    }
  }
  std::cerr << "submit --kafka: " << lines.size() << " lines: " << count["accepted"] << " accepted, "
            << count["rejected"] << " rejected, " << count["duplicate"] << " duplicate, " << count["invalid"]
            << " invalid, " << count["timeout"] << " timed out; " << commands.size() << " commands in "
            << secs << " s (" << (secs > 0 ? commands.size() / secs : 0) << " commands/s)\n";
  return count["timeout"] ? 3 : 0;
}

struct VerifyKafka::Flags {
  KafkaFlags kafka;
};

VerifyKafka::VerifyKafka(CLI::App* verify) : flags_(std::make_unique<Flags>()) { flags_->kafka.Add(verify); }
VerifyKafka::~VerifyKafka() = default;

bool VerifyKafka::requested() const { return flags_->kafka.requested(); }

int VerifyKafka::Run() {
  auto config = flags_->kafka.Config();
  if (!config.ok()) {
    std::cerr << "verify: " << config.status().ToString() << "\n";
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto r = kafka::VerifyTopics(*config);
  if (!r.ok()) {
    std::cerr << "verify: " << r.status().ToString() << "\n";
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r->ok) {
    std::cout << "verify: FAILED at " << config->Topic(r->topic) << "/" << r->partition << " offset "
              << r->offset;
    if (!r->stream.empty()) std::cout << ", stream " << r->stream << " seq " << r->stream_seq;
    std::cout << ": " << r->problem << "\n";
    return 1;
  }
  std::cout << "verify: ok: " << r->events << " events (" << r->redelivered << " exact re-deliveries) in "
            << r->streams << " streams of " << config->Topic(kafka::kDirectory) << " and "
            << config->Topic(kafka::kEvents) << ": every stream gap-free, in its partition, hash-chained, in "
            << secs << " s\n"
            << "verify: no Merkle checkpoint checked: Kafka has no log-wide order (checkpoints are the "
               "embedded log's)\n";
  return 0;
}

}  // namespace veeduria::cli
