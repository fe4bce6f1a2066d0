#include "veeduria/projections/view.h"

#include <map>
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

class AsOf : public View {
 public:
  explicit AsOf(events::Micros t) : t_(t) {
    for (const Projection* p : AllProjections()) rows_[std::string(p->name())];
  }
  const Rows& rows(std::string_view projection) const override { return rows_.find(projection)->second; }
  events::Micros now() const override { return t_; }
  bool as_of() const override { return true; }
  MemoryRows& mutable_rows(const std::string& projection) { return rows_[projection]; }

 private:
  events::Micros t_;
  std::map<std::string, MemoryRows, std::less<>> rows_;
};

}  // namespace

std::unique_ptr<View> LiveView(const ProjectionStore& store, events::Micros now) {
  return std::make_unique<Live>(store, now);
}

Result<std::unique_ptr<View>> AsOfView(const ProjectionStore& store,
                                       const std::vector<std::string>& index_keys, events::Micros t) {
  const std::string limit = Hex16(static_cast<uint64_t>(t));
  // time key → entry; the same event may be indexed under several keys.
  std::map<std::string, json> events_in_order;
  for (const std::string& key : index_keys) {
    const std::string prefix = "i/" + key + "/";
    store.rows("audit").ScanRecords(prefix, [&](std::string_view k, const json& entry) {
      const std::string_view tk = k.substr(prefix.size());
      if (tk.substr(0, 16) > limit) return false;  // recorded after t
      events_in_order.emplace(std::string(tk), entry);
      return true;
    });
  }
  auto view = std::make_unique<AsOf>(t);
  for (const auto& [tk, entry] : events_in_order) {
    const auto& bytes = entry["bytes"].get_binary();
    const auto& hash = entry["hash"].get_binary();
    events::Hash h;
    std::copy(hash.begin(), hash.end(), h.begin());
    const std::string_view b(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (!events::VerifyEventBytes(b))
      return Status::Corruption("unreadable event in the audit index at " + tk);
    events::LogPosition pos;
    pos.topic = entry["topic"].get<std::string>();
    pos.partition = entry["partition"].get<uint32_t>();
    pos.offset = entry["offset"].get<uint64_t>();
    pos.lsn = entry["lsn"].get<uint64_t>();
    const s::Event* ev = s::GetEvent(bytes.data());
    EventRef ref{ev, ev->envelope(), b, h, pos};
    for (const Projection* p : AllProjections())
      p->Apply(ref, view->mutable_rows(std::string(p->name())).state());
  }
  return std::unique_ptr<View>(std::move(view));
}

std::vector<std::string> AsOfKeysForEntity(const ProjectionStore& store, const std::string& entity,
                                           bool with_users) {
  std::vector<std::string> keys = {entity, "*"};
  if (!with_users) return keys;
  std::set<std::string> users;
  store.rows("audit").ScanRecords("i/" + entity + "/", [&](std::string_view, const json& entry) {
    const auto& bytes = entry["bytes"].get_binary();
    const s::Event* ev = s::GetEvent(bytes.data());
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
