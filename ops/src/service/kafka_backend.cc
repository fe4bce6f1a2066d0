#include "kafka_backend.h"

#include <mutex>

#include "veeduria/kafka/submitter.h"
#include "veeduria/kafka/verify.h"

namespace veeduria::service {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// The decider's outcome (kafka/submitter.h) as the embedded ledger's Decision, so that the
// service prints the same `submit --json` line for both backends.
CommandOutcome OutcomeOf(const json& o) {
  CommandOutcome out;
  const std::string status = o.value("status", "");
  if (status == "timeout") {
    out.timed_out = true;
    return out;
  }
  events::Decision& d = out.decision;
  d.outcome = status == "accepted"    ? events::Outcome::kAccepted
              : status == "rejected"  ? events::Outcome::kRejected
              : status == "duplicate" ? events::Outcome::kDuplicate
                                      : events::Outcome::kInvalid;
  d.reason = o.value("reason", "");
  d.field = o.value("field", "");
  d.message = o.value("message", "");
  if (o.contains("events") && o["events"].is_array())
    d.event_ids = o["events"].get<std::vector<std::string>>();
  if (o.contains("flags") && o["flags"].is_array()) d.flags = o["flags"].get<std::vector<std::string>>();
  d.days_late = o.value("days_late", 0);
  return out;
}

class KafkaBackend : public Backend {
 public:
  KafkaBackend(kafka::KafkaNode* node, kafka::KafkaConfig config, std::string data,
               std::chrono::milliseconds timeout, Probes probes)
      : node_(node),
        config_(std::move(config)),
        data_(std::move(data)),
        timeout_(timeout),
        probes_(probes),
        kafka_probe_(probes.registry) {}

  Status Open() {
    auto config = producers::ReadLedgerConfig(data_);
    if (!config.ok()) return config.status();
    bands_ = cli::BandsOf(*config);
    auto s = kafka::KafkaSubmitter::Open(config_);
    if (!s.ok()) return s.status();
    submitter_ = std::move(*s);
    return Status::Ok();
  }

  Status CatchUp() override {
    Status s = node_->WaitProjected(timeout_);
    if (!s.ok() && ProjectorStopped()) {
      probes_.projector.OnChainError();
      return Status::Corruption(node_->stats().last_error);
    }
    return s;
  }

  json Readiness() const override {
    const kafka::NodeStats s = node_->stats();
    const char* status = ProjectorStopped()    ? "chain_broken"
                         : s.assigned.empty()  ? "not_assigned"
                         : !s.projector_looked ? "catching_up"
                         : s.lag > 0           ? "catching_up"
                                               : "ready";
    return json{{"status", status}, {"assigned", s.assigned}, {"lag", s.lag}, {"projected", s.projected}};
  }

  void ReadProjections(const std::function<void(const projections::ProjectionStore&)>& fn) const override {
    node_->WithProjections(fn);
  }

  json Record(const std::string& key) const override { return node_->DirectoryRecord(key); }

  Result<std::vector<CommandOutcome>> Decide(const std::vector<events::Command>& commands) override {
    std::lock_guard<std::mutex> one(submit_mu_);  // one Submit at a time (submitter.h)
    const auto t = Clock::now();
    auto r = submitter_->Submit(commands, timeout_);
    if (!r.ok())
      return Status::Unavailable("producing to Kafka failed (" + r.status().message() +
                                 "); resubmitting is safe: a retry is a duplicate");
    std::vector<CommandOutcome> out;
    std::vector<events::Decision> decided;
    for (const json& o : *r) {
      out.push_back(OutcomeOf(o));
      if (!out.back().timed_out) decided.push_back(out.back().decision);
    }
    probes_.ledger.OnAppend(decided, std::chrono::duration<double>(Clock::now() - t).count());
    return out;
  }

  void SampleMetrics() override {
    std::lock_guard<std::mutex> l(sample_mu_);
    const kafka::NodeStats s = node_->stats();
    for (const auto& pl : s.lags) kafka_probe_.SetLag(pl.topic, pl.partition, pl.lag);
    uint32_t partitions = 0;
    for (const auto& pl : s.lags)
      if (pl.topic == events::kEventsTopic) partitions = std::max(partitions, pl.partition + 1);
    kafka_probe_.SetAssigned(s.assigned, partitions);
    kafka_probe_.SetTotals(s.commands, s.transactions, s.aborted, s.fenced);
    probes_.projector.SetLag(s.lag);
    node_->WithProjections([&](const projections::ProjectionStore& store) {
      probes_.storage.SetDb("projections", store.DbIntProperty("rocksdb.live-sst-files-size"),
                            store.DbIntProperty("rocksdb.estimate-pending-compaction-bytes"));
    });
  }

  // verify --kafka's check of every stream (kafka/verify.h); no checkpoints on Kafka.
  Status Verify(const std::atomic<bool>& stop) override {
    const auto t = Clock::now();
    auto r = kafka::VerifyTopics(config_, &stop);
    if (!r.ok() && stop) return r.status();  // stopped: nothing was verified
    probes_.storage.OnVerification(r.ok() && r->ok, std::chrono::duration<double>(Clock::now() - t).count());
    if (!r.ok()) return r.status();
    if (!r->ok)
      return Status::Corruption(r->topic + "/" + std::to_string(r->partition) + " offset " +
                                std::to_string(r->offset) + ": " + r->problem);
    return Status::Ok();
  }

  Result<cli::EvidenceSummary> WriteEvidence(const cli::EvidenceOptions&) override {
    return Status::FailedPrecondition("evidence bundles " + std::string(kNoCheckpoints));
  }
  Result<std::string> Consistency(uint64_t, std::optional<uint64_t>) override {
    return Status::FailedPrecondition("consistency proofs " + std::string(kNoCheckpoints));
  }

  projections::SemaforoBands bands() const override { return bands_; }

 private:
  static constexpr std::string_view kNoCheckpoints =
      "need the embedded log's signed checkpoints and Merkle proofs; a Kafka log has no log-wide order to "
      "checkpoint (kafka/README.md)";
  // The projector stopped on a gap, a fork or unreadable bytes (it stays stopped).
  bool ProjectorStopped() const { return node_->stats().chain_broken; }

  kafka::KafkaNode* node_;
  const kafka::KafkaConfig config_;
  const std::string data_;
  const std::chrono::milliseconds timeout_;
  Probes probes_;
  KafkaProbe kafka_probe_;
  std::unique_ptr<kafka::KafkaSubmitter> submitter_;
  std::mutex submit_mu_;
  std::mutex sample_mu_;
  projections::SemaforoBands bands_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenKafkaBackend(kafka::KafkaNode* node, const kafka::KafkaConfig& config,
                                                  const std::string& data,
                                                  std::chrono::milliseconds command_timeout, Probes probes) {
  auto b = std::make_unique<KafkaBackend>(node, config, data, command_timeout, probes);
  VEEDURIA_RETURN_IF_ERROR(b->Open());
  return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace veeduria::service
