#include "veeduria/events/state.h"

namespace veeduria::events {

nlohmann::json StateStore::GetRecord(std::string_view key) const {
  auto v = Get(key);
  if (!v) return nullptr;
  return nlohmann::json::from_msgpack(*v);
}

void StateStore::PutRecord(std::string_view key, nlohmann::json record) {
  std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(record);
  Put(key, std::string(bytes.begin(), bytes.end()));
}

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
  if (unencoded_.count(key)) writes();
  auto it = writes_.entries().find(key);
  if (it != writes_.entries().end()) return it->second;
  return base_ ? base_->Get(key) : std::nullopt;
}

void OverlayState::Put(std::string_view key, std::string value) {
  if (auto it = records_.find(key); it != records_.end()) records_.erase(it);
  if (auto it = unencoded_.find(key); it != unencoded_.end()) unencoded_.erase(it);
  writes_.Put(key, std::move(value));
}

void OverlayState::Delete(std::string_view key) {
  if (auto it = records_.find(key); it != records_.end()) records_.erase(it);
  if (auto it = unencoded_.find(key); it != unencoded_.end()) unencoded_.erase(it);
  writes_.Delete(key);
}

nlohmann::json OverlayState::GetRecord(std::string_view key) const {
  if (auto it = records_.find(key); it != records_.end()) return it->second;
  auto it = writes_.entries().find(key);
  if (it != writes_.entries().end())
    return it->second ? nlohmann::json::from_msgpack(*it->second) : nlohmann::json(nullptr);
  return base_ ? base_->GetRecord(key) : nlohmann::json(nullptr);
}

void OverlayState::PutRecord(std::string_view key, nlohmann::json record) {
  records_.insert_or_assign(std::string(key), std::move(record));
  unencoded_.emplace(key);
}

const MemoryState& OverlayState::writes() const {
  for (const std::string& key : unencoded_) {
    std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(records_.find(key)->second);
    writes_.Put(key, std::string(bytes.begin(), bytes.end()));
  }
  unencoded_.clear();
  return writes_;
}

void OverlayState::Clear() {
  writes_.Clear();
  records_.clear();
  unencoded_.clear();
}

nlohmann::json ReadRecord(const StateStore& state, std::string_view key) { return state.GetRecord(key); }

void WriteRecord(StateStore& state, std::string_view key, const nlohmann::json& record) {
  state.PutRecord(key, record);
}

}  // namespace veeduria::events
