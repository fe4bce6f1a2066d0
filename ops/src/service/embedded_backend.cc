// The HTTP service over the embedded ledger (backend.h): this process decides and appends
// (group commit) and applies the log to DATA/projections. Projections have one writer at a
// time: a catch-up holds store_mu_ exclusively, queries share it.

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <shared_mutex>

#include "backend.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/consumers/verify.h"
#include "veeduria/events/state.h"

namespace veeduria::service {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

events::Micros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Forwards to the projection store, timing each batch (the projector's probe).
class ObservedTarget : public events::ProjectionTarget {
 public:
  ObservedTarget(projections::ProjectionStore& store, ProjectorProbe& probe, uint64_t remaining)
      : store_(store), probe_(probe), remaining_(remaining) {}
  uint64_t NextOffset(std::string_view topic, uint32_t partition) const override {
    return store_.NextOffset(topic, partition);
  }
  Status Apply(const std::vector<events::LogEntry>& entries) override {
    const auto t = Clock::now();
    Status s = store_.Apply(entries);
    probe_.OnApply(entries.size(), Since(t));
    done_ += entries.size();
    const double secs = Since(start_);
    probe_.OnProgress(done_, secs > 0 ? done_ / secs : 0, remaining_ > done_ ? remaining_ - done_ : 0);
    return s;
  }

 private:
  projections::ProjectionStore& store_;
  ProjectorProbe& probe_;
  const uint64_t remaining_;
  uint64_t done_ = 0;
  const Clock::time_point start_ = Clock::now();
};

class EmbeddedBackend : public Backend {
 public:
  EmbeddedBackend(std::string data, Probes probes) : data_(std::move(data)), probes_(probes) {}

  Status Open() {
    auto ledger = cli::OpenLedger(data_, true);
    if (!ledger.ok()) return ledger.status();
    ledger_ = std::move(*ledger);
    auto store = projections::ProjectionStore::Open(data_);
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    for (const auto& name : store_->reset_on_open())
      std::cerr << "projection " << name << " changed version: rebuilding it from the log\n";
    for (const auto& name : store_->ResumeMerge())
      std::cerr << "projection " << name
                << ": merging the sorted runs a rebuild left unmerged, in the background\n";
    auto config = producers::ReadLedgerConfig(data_);
    if (!config.ok()) return config.status();
    bands_ = cli::BandsOf(*config);
    return Status::Ok();
  }

  Status CatchUp() override {
    std::lock_guard<std::mutex> one(catch_up_mu_);
    std::unique_lock<std::shared_mutex> lock(store_mu_);
    const uint64_t end = ledger_->end_lsn(), before = AppliedCount();
    ObservedTarget target(*store_, probes_.projector, end > before ? end - before : 0);
    auto r = consumers::CatchUp(*ledger_, target);
    const uint64_t now_applied = AppliedCount();
    applied_ = now_applied;
    const uint64_t tail = ledger_->end_lsn();
    probes_.projector.SetLag(tail > now_applied ? tail - now_applied : 0);
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kCorruption) {
        chain_broken_ = true;
        probes_.projector.OnChainError();
      }
      return r.status();
    }
    return Status::Ok();
  }

  json Readiness() const override {
    const uint64_t end = ledger_->end_lsn(), done = applied_.load();
    const char* status = chain_broken_ ? "chain_broken" : done >= end ? "ready" : "catching_up";
    return json{{"status", status}, {"log_events", end}, {"applied", done}};
  }

  void ReadProjections(const std::function<void(const projections::ProjectionStore&)>& fn) const override {
    std::shared_lock<std::shared_mutex> lock(store_mu_);
    fn(*store_);
  }

  json Record(const std::string& key) const override { return events::ReadRecord(ledger_->state(), key); }

  Result<std::vector<CommandOutcome>> Decide(const std::vector<events::Command>& commands) override {
    const auto t = Clock::now();
    auto decided = ledger_->Append(commands);
    if (!decided.ok()) return Status::Unavailable("the ledger could not append; nothing was written");
    probes_.ledger.OnAppend(*decided, Since(t));
    std::vector<CommandOutcome> out(decided->size());
    for (size_t i = 0; i < out.size(); ++i) out[i].decision = std::move((*decided)[i]);
    return out;
  }

  void SampleMetrics() override {
    for (auto [name, get] : {std::pair<std::string, std::function<uint64_t(const std::string&)>>{
                                 "log", [&](const std::string& p) { return ledger_->DbIntProperty(p); }},
                             {"projections", [&](const std::string& p) { return store_->DbIntProperty(p); }}})
      probes_.storage.SetDb(name, get("rocksdb.live-sst-files-size"),
                            get("rocksdb.estimate-pending-compaction-bytes"));
    const events::CheckpointInfo cp = events::ReadLastCheckpoint(ledger_->state());
    probes_.storage.SetCheckpoint(cp.present, cp.present ? (NowMicros() - cp.at) / 1e6 : 0);
    const uint64_t end = ledger_->end_lsn(), done = applied_.load();
    probes_.projector.SetLag(end > done ? end - done : 0);
  }

  Status Verify(const std::atomic<bool>& stop) override {
    const auto t = Clock::now();
    auto r = consumers::VerifyLog(*ledger_, {.stop = &stop});
    if (!r.ok() && stop) return r.status();  // stopped: nothing was verified
    probes_.storage.OnVerification(r.ok() && r->ok, Since(t));
    if (!r.ok()) return r.status();
    return r->ok ? Status::Ok() : Status::Corruption("the log failed verification");
  }

  Result<cli::EvidenceSummary> WriteEvidence(const cli::EvidenceOptions& options) override {
    return cli::WriteEvidence(*ledger_, data_, options);
  }
  Result<std::string> Consistency(uint64_t from_size, std::optional<uint64_t> to_size) override {
    return cli::ConsistencyDocument(*ledger_, data_, from_size, to_size);
  }

  projections::SemaforoBands bands() const override { return bands_; }

 private:
  uint64_t AppliedCount() const {
    uint64_t n = 0;
    for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic})
      for (uint32_t p = 0; p < ledger_->partitions(topic); ++p) n += store_->NextOffset(topic, p);
    return n;
  }

  const std::string data_;
  Probes probes_;
  std::unique_ptr<producers::EmbeddedLedger> ledger_;
  std::unique_ptr<projections::ProjectionStore> store_;
  mutable std::shared_mutex store_mu_;  // catch-up exclusive; queries shared
  std::mutex catch_up_mu_;              // one catch-up at a time
  projections::SemaforoBands bands_;
  std::atomic<bool> chain_broken_{false};
  std::atomic<uint64_t> applied_{0};
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenEmbeddedBackend(const std::string& data, Probes probes) {
  auto b = std::make_unique<EmbeddedBackend>(data, probes);
  VEEDURIA_RETURN_IF_ERROR(b->Open());
  return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace veeduria::service
