#include "veeduria/kafka/verify.h"

#include <cstring>
#include <map>
#include <vector>

#include "veeduria/events/decide.h"
#include "veeduria/events/render.h"
#include "veeduria/kafka/kafka_log.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::kafka {

Result<KafkaVerifyReport> VerifyTopics(const KafkaConfig& config, const std::atomic<bool>* stop) {
  auto log = KafkaLog::Open(config);
  if (!log.ok()) return log.status();
  KafkaVerifyReport r;
  std::map<std::string, std::vector<events::Hash>, std::less<>> chains;  // stream -> hash of seq i+1
  const uint32_t partitions = (*log)->partitions(events::kEventsTopic);
  for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic}) {
    for (uint32_t p = 0; p < (*log)->partitions(topic) && r.ok; ++p) {
      bool stopped = false;
      Status s = (*log)->ScanPartition(topic, p, 0, [&](const events::LogEntry& e) {
        if (stop && stop->load(std::memory_order_relaxed)) {
          stopped = true;
          return false;
        }
        ++r.events;
        auto bad = [&](std::string stream, uint64_t seq, std::string problem) {
          r.ok = false;
          r.topic = std::string(topic);
          r.partition = p;
          r.offset = e.position.offset;
          r.stream = std::move(stream);
          r.stream_seq = seq;
          r.problem = std::move(problem);
          return false;
        };
        if (!events::VerifyEventBytes(e.bytes)) return bad("", 0, "unreadable bytes (not a veeduria event)");
        const schema::Event* ev = schema::GetEvent(e.bytes.data());
        const std::string stream = ev->envelope()->stream()->str();
        const uint64_t seq = ev->envelope()->stream_seq();
        const bool directory = stream == events::kDirectoryStream;
        if (directory != (topic == events::kDirectoryTopic) ||
            (!directory && PartitionOfKey(stream, partitions) != p))
          return bad(stream, seq,
                     "in the wrong partition (stream " + stream + " belongs to " +
                         (directory ? std::string("directory/0")
                                    : "events/" + std::to_string(PartitionOfKey(stream, partitions))) +
                         ")");
        std::vector<events::Hash>& chain = chains[stream];
        if (seq == 0) return bad(stream, seq, "sequence 0 (sequences start at 1)");
        if (seq <= chain.size()) {
          if (chain[seq - 1] == e.hash) {
            ++r.redelivered;
            return true;
          }
          return bad(stream, seq,
                     "a different event with the sequence of an earlier one (a fork; the first is seq " +
                         std::to_string(seq) + " of this stream)");
        }
        if (seq > chain.size() + 1)
          return bad(
              stream, seq,
              "a gap: the stream's previous event in this partition is seq " + std::to_string(chain.size()));
        const events::Hash prev = chain.empty() ? events::GenesisHash(stream) : chain.back();
        if (std::memcmp(ev->envelope()->prev_hash()->b()->data(), prev.data(), prev.size()) != 0)
          return bad(stream, seq,
                     std::string("prev_hash is not the SHA-256 of the stream's previous event") +
                         (chain.empty() ? " (the genesis value for seq 1)" : ""));
        chain.push_back(e.hash);
        return true;
      });
      if (!s.ok()) return s;
      if (stopped)
        return Status::Unavailable("verification stopped before the end of " + std::string(topic) + "/" +
                                   std::to_string(p));
    }
  }
  r.streams = chains.size();
  return r;
}

}  // namespace veeduria::kafka
