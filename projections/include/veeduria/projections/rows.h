#pragma once
// Read access to one projection's rows: the live store, or an in-memory fold for --as-of.

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "veeduria/events/state.h"

namespace veeduria::projections {

class Rows {
 public:
  // A position in the rows, for a walk that skips ahead (Seek) as well as steps (Next): on the live
  // store one RocksDB iterator for the whole walk, where a Scan per stretch opens one each.
  // Not thread-safe; valid while its Rows is.
  class Cursor {
   public:
    virtual ~Cursor() = default;
    // To the first row whose key is >= `key` (any key: forward or back).
    virtual void Seek(std::string_view key) = 0;
    // False past the last row below the cursor's limit.
    virtual bool Valid() const = 0;
    // REQUIRES: Valid().
    virtual void Next() = 0;
    // REQUIRES: Valid(); the views last until the cursor moves.
    virtual std::string_view key() const = 0;
    virtual std::string_view value() const = 0;
  };

  virtual ~Rows() = default;
  virtual std::optional<std::string> Get(std::string_view key) const = 0;
  // A cursor over the rows whose key is below `limit` (empty: no limit); unpositioned until Seek.
  // A limit lets the live store stop at the end of a range without reading the block after it.
  virtual std::unique_ptr<Cursor> NewCursor(std::string_view limit) const = 0;

  // Rows whose key starts with `prefix`, in key order; `fn` returns false to stop.
  void Scan(std::string_view prefix,
            const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  // The rows decoded from MessagePack; a view that keeps its rows decoded hands them as they are.
  virtual nlohmann::json Record(std::string_view key) const;  // null when absent
  virtual void ScanRecords(
      std::string_view prefix,
      const std::function<bool(std::string_view key, const nlohmann::json& value)>& fn) const;
};

// Rows folded in memory (tests, and the MDM benchmark).
class MemoryRows : public Rows {
 public:
  events::MemoryState& state() { return state_; }
  std::optional<std::string> Get(std::string_view key) const override { return state_.Get(key); }
  std::unique_ptr<Cursor> NewCursor(std::string_view limit) const override;

 private:
  events::MemoryState state_;
};

}  // namespace veeduria::projections
