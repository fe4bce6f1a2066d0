#include "veeduria/events/log.h"

#include "veeduria/events/decide.h"

namespace veeduria::events {

uint32_t Murmur2(std::string_view key) {
  const uint32_t seed = 0x9747b28c, m = 0x5bd1e995;
  const int r = 24;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  size_t length = key.size();
  uint32_t h = seed ^ static_cast<uint32_t>(length);
  size_t i = 0;
  for (; i + 4 <= length; i += 4) {
    uint32_t k =
        data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (static_cast<uint32_t>(data[i + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(data[i + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(data[i + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= data[i];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

LogPosition PartitionOf(std::string_view stream, uint32_t partitions) {
  LogPosition p;
  if (stream == kDirectoryStream) {
    p.topic = std::string(kDirectoryTopic);
    return p;
  }
  p.topic = std::string(kEventsTopic);
  p.partition = (Murmur2(stream) & 0x7fffffff) % (partitions ? partitions : 1);
  return p;
}

}  // namespace veeduria::events
