#include "veeduria/events/state.h"

#include <algorithm>

#include "keys.h"

namespace veeduria::events {

const std::optional<std::string>* MemoryState::Find(std::string_view key) const {
  if (index_.empty()) return nullptr;
  const Slot& s = index_[SlotOf(key, std::hash<std::string_view>{}(key))];
  return s.entry ? &s.entry->second : nullptr;
}

std::optional<std::string> MemoryState::Get(std::string_view key) const {
  const std::optional<std::string>* v = Find(key);
  return v ? *v : std::nullopt;
}

bool MemoryState::Read(std::string_view key, ValueVisitor fn) const {
  const std::optional<std::string>* v = Find(key);
  if (!v || !*v) return false;
  fn(**v);
  return true;
}

size_t MemoryState::SlotOf(std::string_view key, size_t hash) const {
  const size_t mask = index_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = index_[i];
    if (!s.entry || (s.hash == hash && s.entry->first == key)) return i;
  }
}

void MemoryState::Reindex(size_t n) {
  size_t cap = 16;
  while (cap < 2 * (std::max(n, map_.size()) + 1)) cap <<= 1;
  index_.assign(cap, Slot{});
  for (auto& entry : map_) {
    const size_t h = std::hash<std::string_view>{}(entry.first);
    index_[SlotOf(entry.first, h)] = Slot{h, &entry};
  }
}

// The key is searched in the map only when it is new: a group's overlay rewrites the same few
// keys (the ledger's meta, a stream's head) for every event.
void MemoryState::Set(std::string_view key, std::optional<std::string> value) {
  if (2 * (map_.size() + 1) > index_.size()) Reindex();
  const size_t h = std::hash<std::string_view>{}(key);
  Slot& s = index_[SlotOf(key, h)];
  if (s.entry) {
    s.entry->second = std::move(value);
    return;
  }
  s = Slot{h, &*map_.emplace(std::string(key), std::move(value)).first};
}

void MemoryState::Put(std::string_view key, std::string value) { Set(key, std::move(value)); }

void MemoryState::Delete(std::string_view key) { Set(key, std::nullopt); }

std::optional<std::string> OverlayState::Get(std::string_view key) const {
  if (const std::optional<std::string>* v = writes_.Find(key)) return *v;
  return base_ ? base_->Get(key) : std::nullopt;
}

bool OverlayState::Read(std::string_view key, ValueVisitor fn) const {
  if (const std::optional<std::string>* v = writes_.Find(key)) {
    if (!*v) return false;
    fn(**v);
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
