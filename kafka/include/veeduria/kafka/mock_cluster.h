#pragma once
// librdkafka's mock cluster (rdkafka_mock.h): Kafka brokers inside this process on loopback
// ports, for tests and benchmarks. See ../shared/PLATFORM.md for what the 2.0.2 mock does NOT
// do (read_committed filtering, transactional offsets, fencing, sequence de-duplication of
// non-transactional producers) — tests must not claim to test those.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "veeduria/events/status.h"
#include "veeduria/kafka/config.h"

namespace veeduria::kafka {

// Kafka API keys that tests inject failures on.
enum class Api : int16_t {
  kProduce = 0,
  kFetch = 1,
  kFindCoordinator = 10,
  kInitProducerId = 22,
  kAddPartitionsToTxn = 24,
  kAddOffsetsToTxn = 25,
  kEndTxn = 26,
  kTxnOffsetCommit = 28
};

// Kafka protocol error codes (a subset).
inline constexpr int kNotLeaderForPartition = 6;
inline constexpr int kRequestTimedOut = 7;
inline constexpr int kCoordinatorNotAvailable = 15;
inline constexpr int kNotCoordinator = 16;
inline constexpr int kNotEnoughReplicas = 19;
inline constexpr int kNotEnoughReplicasAfterAppend = 20;
inline constexpr int kConcurrentTransactions = 51;

class MockCluster {
 public:
  // `brokers` brokers; creates <prefix>commands, events and outcomes with `partitions` each,
  // and <prefix>directory with 1.
  static Result<std::unique_ptr<MockCluster>> Start(int brokers, uint32_t partitions,
                                                    const std::string& topic_prefix = "veeduria.");
  ~MockCluster();

  const std::string& bootstraps() const { return bootstraps_; }
  // A configuration for clients of this cluster (with $VEEDURIA_TIMEOUT_MULTIPLIER).
  KafkaConfig Config() const;

  void BrokerDown(int32_t broker_id);
  void BrokerUp(int32_t broker_id);
  // The next requests of `api` (any broker) fail with these error codes, in order.
  void PushRequestErrors(Api api, const std::vector<int>& errors);
  // The next requests of `api` to `broker_id` are answered after `rtt_ms` (error 0) each.
  void PushDelays(int32_t broker_id, Api api, int count, int rtt_ms);
  void SetRtt(int32_t broker_id, int rtt_ms);
  void ClearErrors(Api api);
  void SetLeader(const std::string& topic, int32_t partition, int32_t broker_id);
  // The transaction coordinator of a transactional.id.
  void SetTxnCoordinator(const std::string& transactional_id, int32_t broker_id);

 private:
  struct Impl;
  explicit MockCluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string bootstraps_;
  std::string prefix_;
  uint32_t partitions_ = 0;
};

}  // namespace veeduria::kafka
