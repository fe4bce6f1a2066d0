#pragma once
// librdkafka at one boundary: client construction from KafkaConfig, error translation, and
// reading one partition up to its end. Internal to veeduria::kafka.

#include <librdkafka/rdkafka.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "veeduria/events/status.h"
#include "veeduria/kafka/config.h"

namespace veeduria::kafka::internal {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// A producer or consumer with the config's brokers and pass-through properties, then `settings`
// (which win). `conf_hook` may add callbacks before the handle is created.
Result<Handle> NewClient(rd_kafka_type_t type, const KafkaConfig& config,
                         const std::vector<std::pair<std::string, std::string>>& settings,
                         const std::function<void(rd_kafka_conf_t*)>& conf_hook = {});

Status FromKafka(rd_kafka_resp_err_t err, const std::string& what);
// Takes ownership of `error` (may be null: Ok).
Status FromKafkaError(rd_kafka_error_t* error, const std::string& what);

// Partition count of a topic from the cluster's metadata.
Result<uint32_t> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms);
// The high watermark (the offset after the last message) of a partition, asked of its leader.
Result<int64_t> HighWatermark(rd_kafka_t* rk, const std::string& topic, int32_t partition, int timeout_ms);

// Reads topic/partition from `from` to the end it has at the call (its high watermark; or, with
// read_committed on a real cluster, the last stable offset), calling fn for each message; fn
// returns false to stop. `consumer` is a consumer without a group subscription; its assignment
// is replaced. kUnavailable when the end is not reached within `timeout_ms`.
Status ReadToEnd(rd_kafka_t* consumer, const std::string& topic, int32_t partition, int64_t from,
                 int timeout_ms, const std::function<bool(const rd_kafka_message_t*)>& fn);

// A header's value as a string ("" when absent).
std::string Header(const rd_kafka_message_t* m, const char* name);

// Settings shared by every consumer the backend creates for reading whole partitions.
std::vector<std::pair<std::string, std::string>> ReaderSettings(const KafkaConfig& config);

}  // namespace veeduria::kafka::internal
