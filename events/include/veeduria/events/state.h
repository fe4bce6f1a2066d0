#pragma once
// The decider's state as a key-value map (stream heads, entities, catalogue, campaigns,
// users and roles, plans and goals, open requests, deadlines, seen command_ids).
//
// decide() only reads it; evolve() is the only writer, and derives every record from the
// events, so the state can always be rebuilt by evolving the log from the start. The
// embedded ledger keeps it in the log's RocksDB, written in the same batch as the events.
// Most records are JSON objects stored as MessagePack; the hot ones (stream heads, meta, command
// outcomes, goal years, progress) are typed binary records (events/src/records.h).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace veeduria::events {

// The format of the decider state's records. A store holding another format (or none recorded:
// format 1, every record JSON) must be rebuilt by evolving the log, never read: the embedded
// ledger and the Kafka deciders record it beside their state and rebuild on a mismatch.
inline constexpr uint32_t kStateFormat = 2;

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual std::optional<std::string> Get(std::string_view key) const = 0;
  virtual void Put(std::string_view key, std::string value) = 0;
  virtual void Delete(std::string_view key) = 0;
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

// A write-through overlay: reads fall back to `base` for keys it has not written.
class OverlayState : public StateStore {
 public:
  explicit OverlayState(const StateStore* base) : base_(base) {}
  std::optional<std::string> Get(std::string_view key) const override;
  void Put(std::string_view key, std::string value) override { writes_.Put(key, std::move(value)); }
  void Delete(std::string_view key) override { writes_.Delete(key); }
  const MemoryState& writes() const { return writes_; }
  void Clear() { writes_.Clear(); }

 private:
  const StateStore* base_;
  MemoryState writes_;
};

// True for the key of a command's outcome (the duplicate check's record): read when the command is
// decided and almost never again, so a cache of the state need not keep it after its group.
bool IsCommandOutcomeKey(std::string_view key);

// JSON record helpers: an absent key reads as null.
nlohmann::json ReadRecord(const StateStore& state, std::string_view key);
void WriteRecord(StateStore& state, std::string_view key, const nlohmann::json& record);

}  // namespace veeduria::events
