#pragma once
// The decider's state as a key-value map (stream heads, entities, catalogue, campaigns,
// users and roles, plans and goals, open requests, deadlines, seen command_ids).
//
// decide() only reads it; evolve() is the only writer, and derives every record from the
// events, so the state can always be rebuilt by evolving the log from the start. The
// embedded ledger keeps it in the log's RocksDB, written after its events (producers/README.md).
// Most records are JSON objects stored as MessagePack; the hot ones (stream heads, meta, command
// outcomes, goal years, progress) are typed binary records (events/src/records.h).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace veeduria::events {

// The format of the decider state's records. A store holding another format (or none recorded:
// format 1, every record JSON) must be rebuilt by evolving the log, never read: the embedded
// ledger and the Kafka deciders record it beside their state and rebuild on a mismatch.
inline constexpr uint32_t kStateFormat = 3;

// A non-owning reference to a callable taking a record's bytes (what StateStore::Read calls).
class ValueVisitor {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ValueVisitor>>>
  ValueVisitor(F&& f)  // NOLINT: implicit, like std::function_ref; REQUIRES: f outlives the visitor
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, std::string_view v) { (*static_cast<std::remove_reference_t<F>*>(o))(v); }) {}
  void operator()(std::string_view value) const { call_(obj_, value); }

 private:
  void* obj_;
  void (*call_)(void*, std::string_view);
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual std::optional<std::string> Get(std::string_view key) const = 0;
  // Calls fn with a view of the value of `key` and returns true, or returns false when there is
  // none: the record is decoded where it lies instead of copied out. The view is valid only during
  // the call, and fn must not call into this store (a store may hold a lock meanwhile).
  virtual bool Read(std::string_view key, ValueVisitor fn) const {
    std::optional<std::string> v = Get(key);
    if (!v) return false;
    fn(*v);
    return true;
  }
  bool Contains(std::string_view key) const {
    return Read(key, [](std::string_view) {});
  }
  virtual void Put(std::string_view key, std::string value) = 0;
  virtual void Delete(std::string_view key) = 0;
};

// An in-memory StateStore: tests, and the overlay of a batch being decided.
//
// Its entries are kept sorted (entries()), and found through a hash index of them: a group's
// overlay holds thousands of keys with long common prefixes ("progress/<entity>/<goal>/..."), and
// the deciding thread looks up a dozen of them a command, most of them absent; a search of the
// sorted map compared a dozen keys to answer each (docs/benchmarks.md, "The group's writes found
// by hash").
class MemoryState : public StateStore {
 public:
  MemoryState() = default;
  MemoryState(const MemoryState& other) : map_(other.map_) { Reindex(); }
  MemoryState& operator=(const MemoryState& other) {
    if (this != &other) {
      map_ = other.map_;
      Reindex();
    }
    return *this;
  }
  // The map's nodes move with it, so the index still points at them.
  MemoryState(MemoryState&&) noexcept = default;
  MemoryState& operator=(MemoryState&&) noexcept = default;

  std::optional<std::string> Get(std::string_view key) const override;
  bool Read(std::string_view key, ValueVisitor fn) const override;
  void Put(std::string_view key, std::string value) override;
  void Delete(std::string_view key) override;
  // The pending write of `key` (nullopt: deleted), or null when it has none.
  const std::optional<std::string>* Find(std::string_view key) const;
  // Pending writes, sorted by key; a deleted key maps to nullopt.
  const std::map<std::string, std::optional<std::string>, std::less<>>& entries() const { return map_; }
  void Clear() {
    map_.clear();
    index_.clear();
  }
  // Sizes the index for `n` entries, so that it does not grow (and hash every key again) until
  // there are more.
  void Reserve(size_t n) {
    if (2 * (n + 1) > index_.size()) Reindex(n);
  }
  // Rebuilds an index reserved far beyond the entries it holds, as it would have grown for them.
  void ShrinkIndex() {
    if (index_.size() > 16 && index_.size() > 8 * (map_.size() + 1)) Reindex();
  }

 private:
  using Map = std::map<std::string, std::optional<std::string>, std::less<>>;
  struct Slot {
    size_t hash = 0;
    Map::value_type* entry = nullptr;  // null: empty
  };
  void Set(std::string_view key, std::optional<std::string> value);
  // The slot of `key`: its entry's, or the empty one where it would go. REQUIRES: !index_.empty().
  size_t SlotOf(std::string_view key, size_t hash) const;
  // Builds index_ from map_, with room for `n` entries (at least one more than map_ holds).
  void Reindex(size_t n = 0);
  Map map_;
  std::vector<Slot> index_;  // open addressing, linear probing, at most half full; empty until written
};

// A write-through overlay: reads fall back to `base` for keys it has not written.
class OverlayState : public StateStore {
 public:
  explicit OverlayState(const StateStore* base) : base_(base) {}
  std::optional<std::string> Get(std::string_view key) const override;
  bool Read(std::string_view key, ValueVisitor fn) const override;
  void Put(std::string_view key, std::string value) override { writes_.Put(key, std::move(value)); }
  void Delete(std::string_view key) override { writes_.Delete(key); }
  const MemoryState& writes() const { return writes_; }
  // Moves the writes out, leaving the overlay empty; their index is shrunk if Reserve oversized
  // it (a small group after a large one: the embedded ledger keeps a group's writes until they
  // are flushed).
  MemoryState TakeWrites() {
    MemoryState out = std::move(writes_);
    writes_.Clear();
    out.ShrinkIndex();
    return out;
  }
  // Room for `n` writes without growing the index (MemoryState::Reserve).
  void Reserve(size_t n) { writes_.Reserve(n); }
  void Clear() { writes_.Clear(); }

 private:
  const StateStore* base_;
  MemoryState writes_;
};

// True for the key of a command's outcome (the duplicate check's record): read when the command is
// decided and almost never again, so a cache of the state need not keep it after its group.
bool IsCommandOutcomeKey(std::string_view key);
// The prefix of those keys: the outcomes sort together.
std::string_view CommandOutcomePrefix();

// JSON record helpers: an absent key reads as null.
nlohmann::json ReadRecord(const StateStore& state, std::string_view key);
void WriteRecord(StateStore& state, std::string_view key, const nlohmann::json& record);

}  // namespace veeduria::events
