#include "veeduria/kafka/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "client.h"

namespace veeduria::kafka {

struct MockCluster::Impl {
  internal::Handle owner;  // the handle the mock cluster lives on
  rd_kafka_mock_cluster_t* mc = nullptr;
  ~Impl() {
    if (mc) rd_kafka_mock_cluster_destroy(mc);
  }
};

MockCluster::MockCluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MockCluster::~MockCluster() = default;

Result<std::unique_ptr<MockCluster>> MockCluster::Start(int brokers, uint32_t partitions,
                                                        const std::string& topic_prefix) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Without it every small request waits ~40 ms for Nagle (PLATFORM.md).
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) return Status::Internal(std::string("mock cluster handle: ") + err);
  auto impl = std::make_unique<Impl>();
  impl->owner.reset(rk);
  impl->mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!impl->mc) return Status::Internal("rd_kafka_mock_cluster_new failed");
  for (std::string_view t : {kCommands, kEvents, kOutcomes}) {
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(impl->mc, (topic_prefix + std::string(t)).c_str(),
                                                       static_cast<int>(partitions), std::min(brokers, 3));
    if (e) return internal::FromKafka(e, "creating a mock topic");
  }
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
      impl->mc, (topic_prefix + std::string(kDirectory)).c_str(), 1, std::min(brokers, 3));
  if (e) return internal::FromKafka(e, "creating the mock directory topic");
  std::unique_ptr<MockCluster> out(new MockCluster(std::move(impl)));
  out->bootstraps_ = rd_kafka_mock_cluster_bootstraps(out->impl_->mc);
  out->prefix_ = topic_prefix;
  out->partitions_ = partitions;
  return out;
}

KafkaConfig MockCluster::Config() const {
  KafkaConfig c = KafkaConfig::ForBrokers(bootstraps_);
  c.topic_prefix = prefix_;
  c.partitions = partitions_;
  c.properties["log_level"] = "0";  // injected failures are expected; keep test output readable
  return c;
}

void MockCluster::BrokerDown(int32_t id) { rd_kafka_mock_broker_set_down(impl_->mc, id); }
void MockCluster::BrokerUp(int32_t id) { rd_kafka_mock_broker_set_up(impl_->mc, id); }
void MockCluster::SetRtt(int32_t id, int rtt_ms) { rd_kafka_mock_broker_set_rtt(impl_->mc, id, rtt_ms); }
void MockCluster::ClearErrors(Api api) {
  rd_kafka_mock_clear_request_errors(impl_->mc, static_cast<int16_t>(api));
}

void MockCluster::PushRequestErrors(Api api, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> e;
  for (int x : errors) e.push_back(static_cast<rd_kafka_resp_err_t>(x));
  rd_kafka_mock_push_request_errors_array(impl_->mc, static_cast<int16_t>(api), e.size(), e.data());
}

void MockCluster::PushDelays(int32_t broker_id, Api api, int count, int rtt_ms) {
  for (int i = 0; i < count; ++i)
    rd_kafka_mock_broker_push_request_error_rtts(impl_->mc, broker_id, static_cast<int16_t>(api), 1,
                                                 RD_KAFKA_RESP_ERR_NO_ERROR, rtt_ms);
}

void MockCluster::SetLeader(const std::string& topic, int32_t partition, int32_t broker_id) {
  rd_kafka_mock_partition_set_leader(impl_->mc, topic.c_str(), partition, broker_id);
}

void MockCluster::SetTxnCoordinator(const std::string& transactional_id, int32_t broker_id) {
  rd_kafka_mock_coordinator_set(impl_->mc, "transaction", transactional_id.c_str(), broker_id);
}

}  // namespace veeduria::kafka
