#include "veeduria/projections/view.h"

#include <map>
#include <mutex>
#include <set>

#include "projections_internal.h"
#include "veeduria/events/render.h"
#include "veeduria/projections/query.h"

namespace veeduria::projections {
namespace {

namespace s = veeduria::schema;
using nlohmann::json;

class Live : public View {
 public:
  Live(const ProjectionStore& store, events::Micros now) : store_(store), now_(now) {}
  const Rows& rows(std::string_view projection) const override { return store_.rows(projection); }
  events::Micros now() const override { return now_; }
  bool as_of() const override { return false; }

 private:
  const ProjectionStore& store_;
  events::Micros now_;
};

// The events of the index keys up to t, folded through a projection the first time a query
// reads it (a query reads one or two of the six).
class AsOf : public View {
 public:
  AsOf(events::Micros t, std::map<std::string, std::string> rows) : t_(t), index_rows_(std::move(rows)) {}
  Status Decode() {
    for (const auto& [tk, row] : index_rows_) {
      IndexEntry entry;
      if (!DecodeIndexEntry(row, &entry) || !events::VerifyEventBytes(entry.bytes))
        return Status::Corruption("unreadable event in the audit index at " + tk);
      entries_.push_back(std::move(entry));
    }
    return Status::Ok();
  }
  const Rows& rows(std::string_view projection) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = folded_.find(projection);
    if (it != folded_.end()) return it->second;
    const Projection* p = FindProjection(projection);
    MemoryRows& rows = folded_[std::string(projection)];
    for (const IndexEntry& entry : entries_) {
      const s::Event* ev = s::GetEvent(entry.bytes.data());
      p->Apply(EventRef{ev, ev->envelope(), entry.bytes, entry.hash, entry.position}, rows.state());
    }
    return rows;
  }
  events::Micros now() const override { return t_; }
  bool as_of() const override { return true; }

 private:
  events::Micros t_;
  std::map<std::string, std::string> index_rows_;  // time key → index row, in time order
  std::vector<IndexEntry> entries_;                // views into index_rows_
  mutable std::mutex mu_;
  mutable std::map<std::string, MemoryRows, std::less<>> folded_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<View> LiveView(const ProjectionStore& store, events::Micros now) {
  return std::make_unique<Live>(store, now);
}

Result<std::unique_ptr<View>> AsOfView(const ProjectionStore& store,
                                       const std::vector<std::string>& index_keys, events::Micros t) {
  const std::string limit = Hex16(static_cast<uint64_t>(t));
  // The same event may be indexed under several keys: one entry per time key.
  std::map<std::string, std::string> rows;
  for (const std::string& key : index_keys) {
    const std::string prefix = "i/" + key + "/";
    store.rows("audit").Scan(prefix, [&](std::string_view k, std::string_view row) {
      const std::string_view tk = k.substr(prefix.size());
      if (tk.substr(0, 16) > limit) return false;  // recorded after t
      rows.emplace(std::string(tk), std::string(row));
      return true;
    });
  }
  auto view = std::make_unique<AsOf>(t, std::move(rows));
  VEEDURIA_RETURN_IF_ERROR(view->Decode());
  return std::unique_ptr<View>(std::move(view));
}

std::vector<std::string> AsOfKeysForEntity(const ProjectionStore& store, const std::string& entity,
                                           bool with_users) {
  std::vector<std::string> keys = {entity, "*"};
  if (!with_users) return keys;
  std::set<std::string> users;
  store.rows("audit").Scan("i/" + entity + "/", [&](std::string_view, std::string_view row) {
    IndexEntry entry;
    if (!DecodeIndexEntry(row, &entry) || !events::VerifyEventBytes(entry.bytes)) return true;
    const s::Event* ev = s::GetEvent(entry.bytes.data());
    if (const auto* p = ev->payload_as_LeaderActivated()) users.insert(Str(p->email()));
    if (const auto* p = ev->payload_as_LeaderRequested()) users.insert(Str(p->email()));
    if (const auto* p = ev->payload_as_RoleGranted()) users.insert(Str(p->user()));
    return true;
  });
  for (const auto& u : users) keys.push_back("@" + u);
  return keys;
}

std::vector<std::string> AsOfKeysForDepartment(const ProjectionStore& store, const std::string& department) {
  std::vector<std::string> keys = {"*"};
  store.rows("compliance").ScanRecords("e/", [&](std::string_view k, const json& e) {
    if (e.value("department", "") == department) keys.emplace_back(k.substr(2));
    return true;
  });
  return keys;
}

std::vector<std::string> AsOfKeysNational(const ProjectionStore& store) {
  std::vector<std::string> keys = {"*"};
  store.rows("compliance").Scan("e/", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k.substr(2));
    return true;
  });
  return keys;
}

std::string Semaforo(double percent, const SemaforoBands& b) {
  if (percent < b.bajo) return "Crítico";
  if (percent < b.medio) return "Bajo";
  if (percent < b.satisfactorio) return "Medio";
  if (percent < b.sobresaliente) return "Satisfactorio";
  return "Sobresaliente";
}

}  // namespace veeduria::projections
