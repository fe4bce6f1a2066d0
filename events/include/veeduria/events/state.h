#pragma once
// The decider's state as a key-value map (stream heads, entities, catalogue, campaigns,
// users and roles, plans and goals, open requests, deadlines, seen command_ids).
//
// decide() only reads it; evolve() is the only writer, and derives every record from the
// events, so the state can always be rebuilt by evolving the log from the start. The
// embedded ledger keeps it in the log's RocksDB, written in the same batch as the events.
// Records are JSON objects stored as MessagePack. Stores that sit on the hot path (the overlay of
// a batch, the ledger's cached state) also keep records decoded, so a record read and rewritten
// by many events of one batch is decoded once and encoded once.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace veeduria::events {

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual std::optional<std::string> Get(std::string_view key) const = 0;
  virtual void Put(std::string_view key, std::string value) = 0;
  virtual void Delete(std::string_view key) = 0;
  // The record under `key`, null when absent. Default: MessagePack through Get.
  virtual nlohmann::json GetRecord(std::string_view key) const;
  // Default: MessagePack through Put.
  virtual void PutRecord(std::string_view key, nlohmann::json record);
};

// An in-memory StateStore: tests, and the overlay of a batch being decided.
class MemoryState : public StateStore {
 public:
  std::optional<std::string> Get(std::string_view key) const override;
  void Put(std::string_view key, std::string value) override;
  void Delete(std::string_view key) override;
  // Pending writes; a deleted key maps to nullopt.
  const std::map<std::string, std::optional<std::string>, std::less<>>& entries() const { return map_; }
  void Clear() { map_.clear(); }

 private:
  std::map<std::string, std::optional<std::string>, std::less<>> map_;
};

// A write-through overlay: reads fall back to `base` for keys it has not written. Records
// written with PutRecord stay decoded until writes() encodes them (once per key).
// Not thread-safe.
class OverlayState : public StateStore {
 public:
  explicit OverlayState(const StateStore* base) : base_(base) {}
  std::optional<std::string> Get(std::string_view key) const override;
  void Put(std::string_view key, std::string value) override;
  void Delete(std::string_view key) override;
  nlohmann::json GetRecord(std::string_view key) const override;
  void PutRecord(std::string_view key, nlohmann::json record) override;
  // Every pending write, encoded.
  const MemoryState& writes() const;
  // The pending writes made with PutRecord that no later Put or Delete replaced, decoded.
  const std::map<std::string, nlohmann::json, std::less<>>& records() const { return records_; }
  void Clear();

 private:
  const StateStore* base_;
  mutable MemoryState writes_;
  std::map<std::string, nlohmann::json, std::less<>> records_;
  mutable std::set<std::string, std::less<>> unencoded_;  // keys of records_ not yet in writes_
};

// JSON record helpers: an absent key reads as null.
nlohmann::json ReadRecord(const StateStore& state, std::string_view key);
void WriteRecord(StateStore& state, std::string_view key, const nlohmann::json& record);

}  // namespace veeduria::events
