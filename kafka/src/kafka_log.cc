#include "veeduria/kafka/kafka_log.h"

#include "client.h"
#include "veeduria/events/sha256.h"

namespace veeduria::kafka {

struct KafkaLog::Impl {
  KafkaConfig config;
  internal::Handle consumer;
  uint32_t partitions = 1;
  mutable std::mutex mu;  // one scan at a time: the consumer's assignment is the scan's cursor

  std::string TopicOf(std::string_view log_topic) const {
    return config.Topic(log_topic == events::kDirectoryTopic ? kDirectory : kEvents);
  }
};

KafkaLog::KafkaLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaLog::~KafkaLog() = default;

Result<std::unique_ptr<KafkaLog>> KafkaLog::Open(const KafkaConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  auto c = internal::NewClient(RD_KAFKA_CONSUMER, config, internal::ReaderSettings(config));
  if (!c.ok()) return c.status();
  impl->consumer = std::move(*c);
  if (config.partitions) {
    impl->partitions = config.partitions;
  } else {
    auto n = internal::PartitionCount(impl->consumer.get(), config.Topic(kEvents), config.Ms(10000));
    if (!n.ok()) return n.status();
    impl->partitions = *n;
  }
  return std::unique_ptr<KafkaLog>(new KafkaLog(std::move(impl)));
}

uint32_t KafkaLog::partitions(std::string_view topic) const {
  return topic == events::kDirectoryTopic ? 1 : impl_->partitions;
}

Status KafkaLog::ScanLog(uint64_t, const std::function<bool(const events::LogEntry&)>&) const {
  return Status::FailedPrecondition(
      "Kafka has no log-wide order: read partition by partition (ScanPartition)");
}

Result<uint64_t> KafkaLog::EndOffset(std::string_view topic, uint32_t partition) const {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto hw = internal::HighWatermark(impl_->consumer.get(), impl_->TopicOf(topic),
                                    static_cast<int32_t>(partition), impl_->config.Ms(10000));
  if (!hw.ok()) return hw.status();
  return static_cast<uint64_t>(*hw);
}

Status KafkaLog::ScanPartition(std::string_view topic, uint32_t partition, uint64_t from_offset,
                               const std::function<bool(const events::LogEntry&)>& fn) const {
  std::lock_guard<std::mutex> l(impl_->mu);
  events::LogEntry e;
  e.position.topic = std::string(topic);
  e.position.partition = partition;
  return internal::ReadToEnd(impl_->consumer.get(), impl_->TopicOf(topic), static_cast<int32_t>(partition),
                             static_cast<int64_t>(from_offset), impl_->config.Ms(30000),
                             [&](const rd_kafka_message_t* m) {
                               e.position.offset = static_cast<uint64_t>(m->offset);
                               e.bytes.assign(static_cast<const char*>(m->payload), m->len);
                               e.hash = events::Sha256(e.bytes);
                               return fn(e);
                             });
}

}  // namespace veeduria::kafka
