#pragma once
// The HTTP service over a Kafka node (`serve --kafka|--kafka-mock N … --http`, backend.h):
// queries read the node's own projections (DATA/projections); POST /v1/commands produces
// through a KafkaSubmitter (the token's user as authenticated actor, header vd-auth), waits for
// each outcome by its request, then until the node's projectors reached the end of the log as of
// then (read-your-writes). Read scopes use the directory state the node folds from the events
// it projected. The periodic verification is verify --kafka's (every stream's sequence and chain,
// kafka/verify.h). Not available on Kafka: evidence bundles (signed checkpoints and Merkle proofs
// need the embedded log's total order; kafka/README.md).

#include <chrono>
#include <memory>
#include <string>

#include "backend.h"
#include "veeduria/kafka/config.h"
#include "veeduria/kafka/node.h"

namespace veeduria::service {

// REQUIRES: `node` runs projectors and outlives the backend. `data` is the node's data
// directory (DATA/config.json's semáforo bands, when present).
Result<std::unique_ptr<Backend>> OpenKafkaBackend(kafka::KafkaNode* node, const kafka::KafkaConfig& config,
                                                  const std::string& data,
                                                  std::chrono::milliseconds command_timeout, Probes probes);

}  // namespace veeduria::service
