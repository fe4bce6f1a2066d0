#include "client.h"

#include <chrono>

namespace veeduria::kafka::internal {

void HandleDeleter::operator()(rd_kafka_t* rk) const {
  if (rk) rd_kafka_destroy(rk);
}

Status FromKafka(rd_kafka_resp_err_t err, const std::string& what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  std::string m = what + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
      return Status::Unavailable(m);
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
      return Status::FailedPrecondition(m);
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Status::NotFound(m);
    default:
      return Status::IOError(m);
  }
}

Status FromKafkaError(rd_kafka_error_t* error, const std::string& what) {
  if (!error) return Status::Ok();
  Status st = FromKafka(rd_kafka_error_code(error), what + " (" + rd_kafka_error_string(error) + ")");
  if (rd_kafka_error_txn_requires_abort(error))
    st = Status(StatusCode::kAborted, st.message());
  else if (rd_kafka_error_is_fatal(error))
    st = Status::FailedPrecondition(st.message());
  else if (rd_kafka_error_is_retriable(error))
    st = Status::Unavailable(st.message());
  rd_kafka_error_destroy(error);
  return st;
}

Result<Handle> NewClient(rd_kafka_type_t type, const KafkaConfig& config,
                         const std::vector<std::pair<std::string, std::string>>& settings,
                         const std::function<void(rd_kafka_conf_t*)>& conf_hook) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      return Status::InvalidArgument("Kafka property " + k + "=" + v + ": " + err);
    return Status::Ok();
  };
  std::vector<std::pair<std::string, std::string>> all = {{"bootstrap.servers", config.brokers},
                                                          {"socket.nagle.disable", "true"}};
  for (const auto& kv : config.properties) all.push_back(kv);
  for (const auto& kv : settings) all.push_back(kv);
  for (const auto& [k, v] : all) {
    Status st = set(k, v);
    if (!st.ok()) {
      rd_kafka_conf_destroy(conf);
      return st;
    }
  }
  if (conf_hook) conf_hook(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("creating a Kafka client: ") + err);
  }
  return Handle(rk);
}

Result<uint32_t> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
  rd_kafka_topic_destroy(t);
  if (e) return FromKafka(e, "metadata of " + topic);
  Result<uint32_t> r = Status::NotFound("topic " + topic + " does not exist (create it: ops/kafka/topics)");
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
      md->topics[0].partition_cnt > 0)
    r = static_cast<uint32_t>(md->topics[0].partition_cnt);
  rd_kafka_metadata_destroy(md);
  return r;
}

Result<int64_t> HighWatermark(rd_kafka_t* rk, const std::string& topic, int32_t partition, int timeout_ms) {
  int64_t lo = 0, hi = 0;
  rd_kafka_resp_err_t e =
      rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &lo, &hi, timeout_ms);
  if (e) return FromKafka(e, "watermarks of " + topic + "/" + std::to_string(partition));
  return hi;
}

std::string Header(const rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return "";
  const void* v = nullptr;
  size_t n = 0;
  if (rd_kafka_header_get_last(hdrs, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v) return "";
  return std::string(static_cast<const char*>(v), n);
}

std::vector<std::pair<std::string, std::string>> ReaderSettings(const KafkaConfig& config) {
  return {{"group.id", "veeduria-reader"},  // never joins: assign() only, nothing committed
          {"enable.auto.commit", "false"},
          {"enable.auto.offset.store", "false"},
          {"isolation.level", "read_committed"},
          {"enable.partition.eof", "true"},
          {"auto.offset.reset", "earliest"},
          {"fetch.wait.max.ms", "10"},
          {"session.timeout.ms", std::to_string(config.Ms(6000))}};
}

Status ReadToEnd(rd_kafka_t* consumer, const std::string& topic, int32_t partition, int64_t from,
                 int timeout_ms, const std::function<bool(const rd_kafka_message_t*)>& fn) {
  Result<int64_t> hw = HighWatermark(consumer, topic, partition, timeout_ms);
  if (!hw.ok()) return hw.status();
  if (from >= *hw) return Status::Ok();
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), partition)->offset = from;
  rd_kafka_resp_err_t e = rd_kafka_assign(consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (e) return FromKafka(e, "assigning " + topic + "/" + std::to_string(partition));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  Status st;
  bool done = false;
  while (!done) {
    if (std::chrono::steady_clock::now() > deadline) {
      st = Status::Unavailable("reading " + topic + "/" + std::to_string(partition) + " to offset " +
                               std::to_string(*hw) + " timed out");
      break;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      done = m->offset >= *hw || true;  // the end (the last stable offset under read_committed)
    } else if (m->err) {
      // Transient fetch errors are retried by librdkafka; report only the fatal ones.
      if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT && m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN &&
          m->err != RD_KAFKA_RESP_ERR__TIMED_OUT) {
        st = FromKafka(m->err, "reading " + topic + "/" + std::to_string(partition));
        done = true;
      }
    } else if (m->offset >= from) {
      if (!fn(m)) done = true;
      if (m->offset + 1 >= *hw) done = true;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(consumer, nullptr);
  return st;
}

}  // namespace veeduria::kafka::internal

namespace veeduria::kafka {

Status CreateTopics(const KafkaConfig& config, uint32_t partitions, int replication, int min_insync) {
  auto admin = internal::NewClient(RD_KAFKA_PRODUCER, config, {});
  if (!admin.ok()) return admin.status();
  std::vector<rd_kafka_NewTopic_t*> topics;
  char err[256];
  const std::string isr = std::to_string(min_insync);
  for (std::string_view t : {kCommands, kEvents, kOutcomes, kDirectory}) {
    const int n = t == kDirectory ? 1 : static_cast<int>(partitions);
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(config.Topic(t).c_str(), n, replication, err, sizeof err);
    if (!nt) return Status::InvalidArgument(std::string("topic ") + config.Topic(t) + ": " + err);
    rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
    rd_kafka_NewTopic_set_config(nt, "retention.bytes", "-1");
    rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", isr.c_str());
    rd_kafka_NewTopic_set_config(nt, "compression.type", "zstd");
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete");
    rd_kafka_NewTopic_set_config(nt, "unclean.leader.election.enable", "false");
    topics.push_back(nt);
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(admin->get());
  rd_kafka_CreateTopics(admin->get(), topics.data(), topics.size(), nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, config.Ms(30000));
  Status st;
  if (!ev) {
    st = Status::Unavailable("CreateTopics: no answer from the cluster");
  } else if (rd_kafka_event_error(ev)) {
    st = internal::FromKafka(rd_kafka_event_error(ev), "CreateTopics");
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n && st.ok(); ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        st = internal::FromKafka(e, std::string("creating ") + rd_kafka_topic_result_name(res[i]));
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  for (auto* t : topics) rd_kafka_NewTopic_destroy(t);
  return st;
}

}  // namespace veeduria::kafka
