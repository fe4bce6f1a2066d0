#pragma once
// A Kafka node (`veeduria serve --kafka`): the deciders of the commands partitions this process
// is assigned in the consumer group, and the projectors of the whole log into its own read
// models (DATA/projections). Several nodes share the partitions; when one leaves or dies the
// group gives its partitions to the others, whose deciders catch up before deciding.
//
// Deciders (DESIGN §2.1–2.2): per assigned partition p of <prefix>commands, a transactional
// producer with transactional.id "<prefix>decider-<p>" consume-transform-produces a batch of
// commands: their events (to <prefix>events partition p, or <prefix>directory), their outcomes
// (<prefix>outcomes partition p) and the commands offset, in ONE transaction. The decider state
// (events/state.h) of partition p = the fold of <prefix>directory and <prefix>events partition p;
// it lives in DATA/kafka-decider with the offsets it reflects, written after the commit. Before
// deciding, the decider reads both topics from those offsets to their end; it evolves a decision's
// events only once all of them are read (a decision cut short by a crash is decided again), skips
// exact re-deliveries and stops on a fork. A re-delivered command_id is a duplicate (no events).
//
// Projectors: every node projects every partition of events and directory into its own
// ProjectionStore, which stores its offsets with its rows (Kafka's committed offsets are never
// used) and checks each stream's sequence and hash chain.  A node that projects writes
// DATA/kafka-node.json ({"backend": "kafka", "brokers", "topic_prefix", "partitions"}; no secret
// properties), which tells the query commands that DATA holds a Kafka node's projections.
//
// Thread-safety: the public methods are thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "veeduria/events/status.h"
#include "veeduria/kafka/config.h"
#include "veeduria/projections/store.h"

namespace veeduria::kafka {

struct NodeOptions {
  std::string data_dir;                     // required: DATA (kafka-decider/ and projections/ under it)
  bool run_deciders = true;                 // join the deciders' group
  bool run_projectors = true;               // project the log into DATA/projections
  std::string group = "veeduria-deciders";  // the deciders' consumer group
  size_t max_batch = 500;                   // commands per transaction
  // Tests: called before each commit with (partition, transaction number in this node); true
  // makes the decider die there: its messages are flushed to the brokers, then it stops without
  // committing, aborting or writing its state, as a killed process would.
  std::function<bool(uint32_t, uint64_t)> kill_before_commit;
  // Tests: true aborts that transaction after its messages reached the brokers (as an abortable
  // error would); the decider then decides the batch again in a new transaction.
  std::function<bool(uint32_t, uint64_t)> abort_before_commit;
};

// Events not yet projected in one partition of events or directory.
struct PartitionLag {
  std::string topic;  // "events" or "directory"
  uint32_t partition = 0;
  uint64_t lag = 0;
};

struct NodeStats {
  std::vector<uint32_t> assigned;  // commands partitions this node decides now
  uint64_t commands = 0;           // commands decided (duplicates included)
  uint64_t transactions = 0;       // committed
  uint64_t aborted = 0;            // transactions aborted and retried
  // Catch-ups that read past messages of this node's own aborted transactions: 0 on a real
  // cluster (read_committed hides them); the mock shows them (PLATFORM.md).
  uint64_t aborted_seen = 0;
  uint64_t fenced = 0;             // producers re-initialized after a fatal error (fenced)
  uint64_t caught_up_events = 0;   // events evolved from the log by catch-up
  uint64_t projected = 0;          // events applied to the projections
  uint64_t lag = 0;                // events in the log not yet projected (at the last look)
  std::vector<PartitionLag> lags;  // the same per partition (at the last look)
  bool projector_looked = false;   // the projectors compared their offsets with the log once
  bool chain_broken = false;       // the projectors met a gap, a fork or unreadable bytes: stopped there
  bool killed = false;             // kill_before_commit fired
  std::string last_error;          // last error of a decider or projector ("" if none)
};

class KafkaNode {
 public:
  static Result<std::unique_ptr<KafkaNode>> Start(const KafkaConfig& config, NodeOptions options);
  ~KafkaNode();  // Stop()
  // Leaves the group (its partitions go to the other nodes) and stops the threads.
  void Stop();
  NodeStats stats() const;
  // Blocks until the projections have applied every partition to its end as of the call.
  Status WaitProjected(std::chrono::milliseconds timeout);
  // The projections' digests (ProjectionStore::Digests), taken between two batches.
  std::vector<std::pair<std::string, std::string>> Digests() const;
  // Runs fn with the projection store between two batches (queries while serving).
  void WithProjections(const std::function<void(const projections::ProjectionStore&)>& fn) const;
  // A record of the directory's decider state (events/state.h keys: "u/<user>", "e/<entity>"),
  // null when absent: the fold of the directory events the projectors have applied (so a
  // checked chain). The HTTP service's read scopes use it, as the embedded service uses its
  // ledger's state. REQUIRES: run_projectors.
  nlohmann::json DirectoryRecord(const std::string& key) const;

 private:
  struct Impl;
  explicit KafkaNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace veeduria::kafka
