#include "veeduria/events/state.h"

#include "keys.h"

namespace veeduria::events {

std::optional<std::string> MemoryState::Get(std::string_view key) const {
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

bool MemoryState::Read(std::string_view key, ValueVisitor fn) const {
  auto it = map_.find(key);
  if (it == map_.end() || !it->second) return false;
  fn(*it->second);
  return true;
}

// One search, and the key copied only when it is new: a group's overlay rewrites the same few
// keys (the ledger's meta, a stream's head) for every event.
void MemoryState::Set(std::string_view key, std::optional<std::string> value) {
  auto it = map_.lower_bound(key);
  if (it != map_.end() && it->first == key)
    it->second = std::move(value);
  else
    map_.emplace_hint(it, std::string(key), std::move(value));
}

void MemoryState::Put(std::string_view key, std::string value) { Set(key, std::move(value)); }

void MemoryState::Delete(std::string_view key) { Set(key, std::nullopt); }

std::optional<std::string> OverlayState::Get(std::string_view key) const {
  auto it = writes_.entries().find(key);
  if (it != writes_.entries().end()) return it->second;
  return base_ ? base_->Get(key) : std::nullopt;
}

bool OverlayState::Read(std::string_view key, ValueVisitor fn) const {
  auto it = writes_.entries().find(key);
  if (it != writes_.entries().end()) {
    if (!it->second) return false;
    fn(*it->second);
    return true;
  }
  return base_ && base_->Read(key, fn);
}

std::string_view CommandOutcomePrefix() {
  static const std::string prefix = keys::CommandOutcome("");
  return prefix;
}

bool IsCommandOutcomeKey(std::string_view key) { return key.starts_with(CommandOutcomePrefix()); }

nlohmann::json ReadRecord(const StateStore& state, std::string_view key) {
  nlohmann::json j;
  if (!state.Read(key, [&](std::string_view v) { j = nlohmann::json::from_msgpack(v); })) return nullptr;
  return j;
}

void WriteRecord(StateStore& state, std::string_view key, const nlohmann::json& record) {
  std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(record);
  state.Put(key, std::string(bytes.begin(), bytes.end()));
}

}  // namespace veeduria::events
