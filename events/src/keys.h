#pragma once
// Keys of the decider state records (shared by decide and evolve; see state.h).

#include <string>
#include <string_view>

namespace veeduria::events::keys {

inline std::string Join(std::initializer_list<std::string_view> parts) {
  size_t size = parts.size();
  for (auto p : parts) size += p.size();
  std::string k;
  k.reserve(size);
  for (auto p : parts) {
    if (!k.empty()) k += '/';
    k += p;
  }
  return k;
}

inline const std::string kMeta = "meta";
// The latest Checkpoint event: {"tree_size", "root", "at"}.
inline const std::string kLastCheckpoint = "checkpoint";
inline std::string Stream(std::string_view s) { return Join({"s", s}); }
inline std::string CommandOutcome(std::string_view id) { return Join({"c", id}); }
inline std::string Entity(std::string_view e) { return Join({"e", e}); }
inline std::string Indicator(std::string_view code) { return Join({"k", code}); }
inline std::string CatalogVersion(std::string_view v) { return Join({"kv", v}); }
inline std::string Campaign(std::string_view c) { return Join({"p", c}); }
inline std::string User(std::string_view u) { return Join({"u", u}); }
inline std::string LeaderRequest(std::string_view id) { return Join({"lr", id}); }
inline std::string PendingLeader(std::string_view e, std::string_view email) {
  return Join({"lp", e, email});
}
inline std::string Plan(std::string_view e, std::string_view p) { return Join({"pl", e, p}); }
inline std::string Goal(std::string_view e, std::string_view p, std::string_view g) {
  return Join({"g", e, p, g});
}
// The payload of a goal's programming for one year (the goal record keeps only a summary).
inline std::string GoalYear(std::string_view e, std::string_view p, std::string_view g, int year) {
  return Join({"gy", e, p, g, std::to_string(year)});
}
inline std::string Progress(std::string_view e, std::string_view p, std::string_view g, std::string_view c,
                            std::string_view m) {
  return Join({"r", e, p, g, c, m});
}
inline std::string Submission(std::string_view e, std::string_view c, std::string_view m) {
  return Join({"sb", e, c, m});
}
inline std::string Gestion(std::string_view e, std::string_view c) { return Join({"gw", e, c}); }
inline std::string Validation(std::string_view e, std::string_view c, std::string_view m) {
  return Join({"v", e, c, m});
}
inline std::string AdjustmentRequest(std::string_view id) { return Join({"ar", id}); }
// The open adjustment requests of one report: a record {request_id: due}.
inline std::string OpenAdjustments(std::string_view e, std::string_view c, std::string_view m) {
  return Join({"ao", e, c, m});
}
inline std::string Mdm(std::string_view e, int vigencia) { return Join({"m", e, std::to_string(vigencia)}); }

}  // namespace veeduria::events::keys
