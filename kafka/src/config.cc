#include "veeduria/kafka/config.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "veeduria/events/decide.h"
#include "veeduria/events/log.h"

namespace veeduria::kafka {

KafkaConfig KafkaConfig::ForBrokers(std::string brokers) {
  KafkaConfig c;
  c.brokers = std::move(brokers);
  if (const char* m = std::getenv("VEEDURIA_TIMEOUT_MULTIPLIER")) {
    const double v = std::atof(m);
    if (v > 0) c.timeout_multiplier = v;
  }
  return c;
}

Result<KafkaConfig> KafkaConfig::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read the Kafka configuration " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  if (!j.contains("brokers") || !j["brokers"].is_string())
    return Status::InvalidArgument(path + ": field 'brokers': a string \"host:port,...\" is required");
  KafkaConfig c = ForBrokers(j["brokers"].get<std::string>());
  if (j.contains("partitions")) {
    if (!j["partitions"].is_number_unsigned())
      return Status::InvalidArgument(path + ": field 'partitions': " + j["partitions"].dump() +
                                     " is not a positive integer");
    c.partitions = j["partitions"].get<uint32_t>();
  }
  if (j.contains("topic_prefix")) c.topic_prefix = j["topic_prefix"].get<std::string>();
  if (j.contains("properties")) {
    if (!j["properties"].is_object())
      return Status::InvalidArgument(path + ": field 'properties': must be an object of strings");
    for (const auto& [k, v] : j["properties"].items()) {
      if (!v.is_string())
        return Status::InvalidArgument(path + ": field 'properties." + k + "': " + v.dump() +
                                       " is not a string");
      c.properties[k] = v.get<std::string>();
    }
  }
  return c;
}

std::string CommandKey(std::string_view command_name, std::string_view entity,
                       std::string_view request_stream) {
  if (command_name == "answer_adjustment")
    return request_stream.empty() ? std::string(events::kDirectoryStream) : std::string(request_stream);
  if (events::WritesDirectoryStream(command_name) || entity.empty())
    return std::string(events::kDirectoryStream);
  return std::string(entity);
}

uint32_t PartitionOfKey(std::string_view key, uint32_t partitions) {
  return (events::Murmur2(key) & 0x7fffffff) % std::max<uint32_t>(1, partitions);
}

}  // namespace veeduria::kafka
