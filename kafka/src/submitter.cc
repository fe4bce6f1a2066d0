#include "veeduria/kafka/submitter.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "client.h"
#include "veeduria/events/decide.h"

namespace veeduria::kafka {

using internal::FromKafka;

struct KafkaSubmitter::Impl {
  KafkaConfig config;
  uint32_t partitions = 1;
  internal::Handle producer, consumer;
  std::thread poller;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::string session;  // unique per submitter: requests are session/i
  uint64_t next_request = 0;
  std::unordered_map<std::string, nlohmann::json> outcomes;  // GUARDED_BY(mu): first per request
  std::unordered_map<std::string, std::string> streams;      // GUARDED_BY(mu): command_id -> stream
  uint64_t directory_seq = 0;                                // GUARDED_BY(mu)

  void Poll() {
    while (!stop) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
      if (!m) continue;
      if (!m->err && m->payload) {
        auto j = nlohmann::json::parse(std::string_view(static_cast<const char*>(m->payload), m->len),
                                       nullptr, false);
        if (j.is_object() && j.contains("command_id") && j.contains("request")) {
          std::lock_guard<std::mutex> l(mu);
          const std::string id = j["command_id"].get<std::string>();
          const std::string request = j["request"].get<std::string>();
          directory_seq = std::max<uint64_t>(directory_seq, j.value("directory_seq", uint64_t{0}));
          if (j.value("stream", std::string()).size()) streams.emplace(id, j["stream"].get<std::string>());
          // The first outcome of a request wins (a re-delivered request is answered duplicate).
          if (request.starts_with(session)) outcomes.emplace(request, std::move(j));
          cv.notify_all();
        }
      }
      rd_kafka_message_destroy(m);
    }
  }
};

KafkaSubmitter::KafkaSubmitter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaSubmitter::~KafkaSubmitter() {
  impl_->stop = true;
  if (impl_->poller.joinable()) impl_->poller.join();
  if (impl_->producer) rd_kafka_flush(impl_->producer.get(), impl_->config.Ms(10000));
}

Result<std::unique_ptr<KafkaSubmitter>> KafkaSubmitter::Open(const KafkaConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  auto p = internal::NewClient(RD_KAFKA_PRODUCER, config,
                               {{"enable.idempotence", "true"},
                                {"acks", "all"},
                                {"partitioner", "murmur2_random"},
                                {"linger.ms", "1"}});
  if (!p.ok()) return p.status();
  impl->producer = std::move(*p);
  auto c = internal::NewClient(RD_KAFKA_CONSUMER, config, internal::ReaderSettings(config));
  if (!c.ok()) return c.status();
  impl->consumer = std::move(*c);
  const std::string topic = config.Topic(kOutcomes);
  if (config.partitions) {
    impl->partitions = config.partitions;
  } else {
    auto n = internal::PartitionCount(impl->consumer.get(), topic, config.Ms(10000));
    if (!n.ok()) return n.status();
    impl->partitions = *n;
  }
  // Outcomes from the end as it is now: every outcome of a command sent later is after it.
  rd_kafka_topic_partition_list_t* parts =
      rd_kafka_topic_partition_list_new(static_cast<int>(impl->partitions));
  for (uint32_t i = 0; i < impl->partitions; ++i) {
    auto hw = internal::HighWatermark(impl->consumer.get(), topic, static_cast<int32_t>(i), config.Ms(10000));
    if (!hw.ok()) {
      rd_kafka_topic_partition_list_destroy(parts);
      return hw.status();
    }
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), static_cast<int32_t>(i))->offset = *hw;
  }
  rd_kafka_resp_err_t e = rd_kafka_assign(impl->consumer.get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (e) return FromKafka(e, "assigning " + topic);
  impl->session = std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-" +
                  std::to_string(reinterpret_cast<uintptr_t>(impl.get())) + "/";
  Impl* raw = impl.get();
  impl->poller = std::thread([raw] { raw->Poll(); });
  return std::unique_ptr<KafkaSubmitter>(new KafkaSubmitter(std::move(impl)));
}

Result<std::vector<nlohmann::json>> KafkaSubmitter::Submit(const std::vector<events::Command>& commands,
                                                           std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  std::vector<nlohmann::json> out(commands.size());
  std::vector<std::chrono::steady_clock::time_point> sent(commands.size());
  std::vector<std::string> requests(commands.size());
  size_t answered = 0;  // outcomes [0, answered) are known
  const std::string topic = im.config.Topic(kCommands);
  bool previous_directory = false;

  // Waits for the outcomes of commands [answered, upto).
  auto wait_until = [&](size_t upto) {
    std::unique_lock<std::mutex> l(im.mu);
    for (; answered < upto; ++answered) {
      const std::string& id = commands[answered].command_id;
      const std::string& req = requests[answered];
      const bool got =
          im.cv.wait_until(l, sent[answered] + timeout, [&] { return im.outcomes.count(req) > 0; });
      out[answered] = got ? im.outcomes.at(req) : nlohmann::json{{"command_id", id}, {"status", "timeout"}};
      im.outcomes.erase(req);
    }
  };

  for (size_t i = 0; i < commands.size(); ++i) {
    const events::Command& c = commands[i];
    std::string request_stream;
    if (c.name == "answer_adjustment") {
      wait_until(i);  // the request may have been decided just now
      std::lock_guard<std::mutex> l(im.mu);
      if (auto it = im.streams.find(c.Str("request_id")); it != im.streams.end()) request_stream = it->second;
    }
    const std::string key = CommandKey(c.name, c.Has("entity") ? c.Str("entity") : "", request_stream);
    // A barrier where the stream kind changes: the directory's commands see every earlier
    // entity outcome, and entity commands every earlier directory outcome (its sequence).
    const bool directory = key == events::kDirectoryStream;
    if (i > 0 && directory != previous_directory) {
      rd_kafka_flush(im.producer.get(), im.config.Ms(30000));
      wait_until(i);
    }
    previous_directory = directory;
    uint64_t token;
    {
      std::lock_guard<std::mutex> l(im.mu);
      token = im.directory_seq;
    }
    const std::string value = c.body.dump();
    const std::string tok = std::to_string(token);
    requests[i] = im.session + std::to_string(im.next_request++);
    const std::string& req = requests[i];
    const int32_t partition = static_cast<int32_t>(PartitionOfKey(key, im.partitions));
    for (;;) {
      rd_kafka_headers_t* hdrs = rd_kafka_headers_new(3);
      rd_kafka_header_add(hdrs, "vd-dir", -1, tok.data(), static_cast<ssize_t>(tok.size()));
      rd_kafka_header_add(hdrs, "vd-req", -1, req.data(), static_cast<ssize_t>(req.size()));
      // The sender a front end authenticated travels beside the command, not in it (it is not
      // part of the command's canonical bytes): the decider enforces it (vd-auth, node.h).
      if (!c.authenticated_actor.empty())
        rd_kafka_header_add(hdrs, "vd-auth", -1, c.authenticated_actor.data(),
                            static_cast<ssize_t>(c.authenticated_actor.size()));
      rd_kafka_resp_err_t e = rd_kafka_producev(
          im.producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      rd_kafka_headers_destroy(hdrs);
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) return FromKafka(e, "producing a command to " + topic);
      rd_kafka_poll(im.producer.get(), 10);
    }
    sent[i] = std::chrono::steady_clock::now();
    rd_kafka_poll(im.producer.get(), 0);
  }
  rd_kafka_flush(im.producer.get(), im.config.Ms(30000));
  wait_until(commands.size());
  return out;
}

}  // namespace veeduria::kafka
