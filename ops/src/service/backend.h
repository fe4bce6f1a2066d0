#pragma once
// What the HTTP service (http_service.h) needs from the ledger behind it, so that one service
// serves either backend: the embedded log (EmbeddedBackend: this process decides, appends and
// projects) or a Kafka node (KafkaBackend, kafka_backend.h: the node's deciders decide, its
// projectors project, commands go through the submitter).
//
// Thread-safety: every method may be called from any thread, concurrently.

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../cli.h"
#include "probes.h"
#include "veeduria/events/command.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/status.h"
#include "veeduria/projections/store.h"

namespace veeduria::service {

// The outcome of one command: its decision, or no outcome within the backend's timeout (the
// command may still be decided later; resubmitting it is safe: a retry is a duplicate).
struct CommandOutcome {
  events::Decision decision;
  bool timed_out = false;
};

// The probes a backend reports to (owned by the service; they outlive the backend).
struct Probes {
  prometheus::Registry& registry;  // for a backend's own probes
  LedgerProbe& ledger;
  ProjectorProbe& projector;
  StorageProbe& storage;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Brings the projections at least to what the log held when called: the embedded backend
  // applies the log (the first call may rebuild); the Kafka backend waits for its node's
  // projectors. kCorruption: a broken chain (a gap or fork); kUnavailable: not in time.
  virtual Status CatchUp() = 0;
  // /readyz: {"status": "ready" | …, figures…}. Ready only when status is "ready".
  virtual nlohmann::json Readiness() const = 0;
  // Runs fn with the projections, with no writer applying meanwhile.
  virtual void ReadProjections(const std::function<void(const projections::ProjectionStore&)>& fn) const = 0;
  // A record of the decider state's directory (events/state.h keys: "u/<user>", "e/<entity>"),
  // null when absent: who may read what.
  virtual nlohmann::json Record(const std::string& key) const = 0;
  // Decides `commands` (authenticated_actor set): one outcome each, in order. An error means
  // nothing was written (or, on Kafka, that producing failed: resubmitting is safe).
  virtual Result<std::vector<CommandOutcome>> Decide(const std::vector<events::Command>& commands) = 0;
  // Samples the backend's metrics (before each scrape and in the maintenance loop).
  virtual void SampleMetrics() = 0;
  // The periodic integrity check (`--verify-every`); kFailedPrecondition where it does not apply,
  // kUnavailable (nothing reported) when `stop` became true before it ended.
  virtual Status Verify(const std::atomic<bool>& stop) = 0;
  // The evidence bundle of `veeduria evidence` into options.out.
  virtual Result<cli::EvidenceSummary> WriteEvidence(const cli::EvidenceOptions& options) = 0;
  // The consistency proof document of `veeduria consistency` (consumers/consistency.h).
  virtual Result<std::string> Consistency(uint64_t from_size, std::optional<uint64_t> to_size) = 0;
  virtual projections::SemaforoBands bands() const = 0;
};

// The embedded ledger and projections in `data` (must exist: `veeduria init`).
Result<std::unique_ptr<Backend>> OpenEmbeddedBackend(const std::string& data, Probes probes);

}  // namespace veeduria::service
