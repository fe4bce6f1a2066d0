#pragma once
// Where the Kafka cluster is and how to talk to it. Every client the backend creates (deciders'
// transactional producers, consumers, the submitter) gets `brokers` and every pass-through
// property (security.protocol, sasl.*, ssl.*, client.id…), then the settings the backend needs
// for its guarantees (enable.idempotence, acks=all, isolation.level=read_committed…), which a
// pass-through property cannot override.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "veeduria/events/status.h"

namespace veeduria::kafka {

struct KafkaConfig {
  std::string brokers;                            // bootstrap.servers; required
  std::map<std::string, std::string> properties;  // passed through to every client; default none
  std::string topic_prefix = "veeduria.";         // topics <prefix>commands|events|directory|outcomes
  // Partitions of commands, events and outcomes (directory has 1). 0 (the default): read from the
  // cluster's metadata. ops/kafka/topics creates them.
  uint32_t partitions = 0;
  // Every timeout of the backend is multiplied by this (slow machines, sanitizers); default 1,
  // or $VEEDURIA_TIMEOUT_MULTIPLIER.
  double timeout_multiplier = 1.0;

  std::string Topic(std::string_view name) const { return topic_prefix + std::string(name); }
  // Milliseconds scaled by timeout_multiplier.
  int Ms(int ms) const { return static_cast<int>(ms * timeout_multiplier); }

  // {"brokers": "...", "partitions": N, "topic_prefix": "...", "properties": {"k": "v"}} (ops/kafka/).
  static Result<KafkaConfig> FromFile(const std::string& path);
  // `brokers` and the environment ($VEEDURIA_TIMEOUT_MULTIPLIER).
  static KafkaConfig ForBrokers(std::string brokers);
};

// Topic names without the prefix.
inline constexpr std::string_view kCommands = "commands";
inline constexpr std::string_view kEvents = "events";
inline constexpr std::string_view kDirectory = "directory";
inline constexpr std::string_view kOutcomes = "outcomes";

// The key a command is produced with, and so its commands partition: the stream its events go
// to (an entity code, or "directory"). answer_adjustment goes to its request's entity, which the
// caller resolves (`request_stream`, empty when unknown: then the directory, which refuses it as
// unknown_request exactly as the embedded ledger does).
std::string CommandKey(std::string_view command_name, std::string_view entity,
                       std::string_view request_stream);
// Kafka's murmur2 partition of a key (the Java client's and librdkafka's murmur2_random).
uint32_t PartitionOfKey(std::string_view key, uint32_t partitions);

}  // namespace veeduria::kafka

namespace veeduria::kafka {
// Creates <prefix>commands, events and outcomes with `partitions` partitions and <prefix>directory
// with 1, with the production settings of ops/kafka/topics (retention.ms=-1, min.insync.replicas,
// compression.type=zstd, cleanup.policy=delete). Topics that exist already are left as they are.
// (The mock cluster does not serve CreateTopics: use MockCluster.)
Status CreateTopics(const KafkaConfig& config, uint32_t partitions, int replication, int min_insync);
}  // namespace veeduria::kafka
