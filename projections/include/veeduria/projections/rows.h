#pragma once
// Read access to one projection's rows: the live store, or an in-memory fold for --as-of.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "veeduria/events/state.h"

namespace veeduria::projections {

class Rows {
 public:
  virtual ~Rows() = default;
  virtual std::optional<std::string> Get(std::string_view key) const = 0;
  // Rows whose key starts with `prefix`, in key order; `fn` returns false to stop.
  virtual void Scan(std::string_view prefix,
                    const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;
  // Rows from the first key >= `start` on, while their key starts with `prefix`.
  virtual void ScanFrom(
      std::string_view start, std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;

  // The rows decoded from MessagePack; a view that keeps its rows decoded hands them as they are.
  virtual nlohmann::json Record(std::string_view key) const;  // null when absent
  virtual void ScanRecords(
      std::string_view prefix,
      const std::function<bool(std::string_view key, const nlohmann::json& value)>& fn) const;
};

// Rows folded in memory (as-of views, tests).
class MemoryRows : public Rows {
 public:
  events::MemoryState& state() { return state_; }
  std::optional<std::string> Get(std::string_view key) const override { return state_.Get(key); }
  void Scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  void ScanFrom(std::string_view start, std::string_view prefix,
                const std::function<bool(std::string_view, std::string_view)>& fn) const override;

 private:
  events::MemoryState state_;
};

}  // namespace veeduria::projections
