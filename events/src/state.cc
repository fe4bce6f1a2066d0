#include "veeduria/events/state.h"

#include "keys.h"

namespace veeduria::events {

std::optional<std::string> MemoryState::Get(std::string_view key) const {
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void MemoryState::Put(std::string_view key, std::string value) {
  map_.insert_or_assign(std::string(key), std::optional<std::string>(std::move(value)));
}

void MemoryState::Delete(std::string_view key) { map_.insert_or_assign(std::string(key), std::nullopt); }

std::optional<std::string> OverlayState::Get(std::string_view key) const {
  auto it = writes_.entries().find(key);
  if (it != writes_.entries().end()) return it->second;
  return base_ ? base_->Get(key) : std::nullopt;
}

bool IsCommandOutcomeKey(std::string_view key) { return key.starts_with(keys::CommandOutcome("")); }

nlohmann::json ReadRecord(const StateStore& state, std::string_view key) {
  auto v = state.Get(key);
  if (!v) return nullptr;
  return nlohmann::json::from_msgpack(*v);
}

void WriteRecord(StateStore& state, std::string_view key, const nlohmann::json& record) {
  std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(record);
  state.Put(key, std::string(bytes.begin(), bytes.end()));
}

}  // namespace veeduria::events
