#include "veeduria/projections/view.h"

#include <algorithm>
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

// The rows of a projection folded for an as-of view, read by queries for the view's life. A
// record a fold updates in place (UpdateRecord: progress's goal rows, rewritten by a definition
// and one programming per year) stays decoded: no MessagePack per update, none for Record and
// ScanRecords, which hand it as it is; Get and Scan encode it on the fly, byte for byte what
// events::WriteRecord would have stored. Rows put as bytes stay bytes.
// Thread-safety: written by one fold, then only read (every const member is a pure read).
class AsOfRows : public Rows, public events::StateStore, public DecodedRecords {
 public:
  std::optional<std::string> Get(std::string_view key) const override {  // Rows and StateStore
    auto it = rows_.find(key);
    if (it == rows_.end()) return std::nullopt;
    return Bytes(it->second);
  }
  void Put(std::string_view key, std::string value) override {
    Row& row = At(key);
    row.bytes = std::move(value);
    row.record = nullptr;
    row.decoded = false;
  }
  void Delete(std::string_view key) override {
    auto it = rows_.find(key);
    if (it != rows_.end()) rows_.erase(it);
  }
  json& MutableRecord(std::string_view key) override {
    auto it = rows_.find(key);
    if (it == rows_.end()) {
      Row& row = rows_[std::string(key)];
      row.decoded = true;
      return row.record;
    }
    Row& row = it->second;
    if (!row.decoded) {
      row.record = json::from_msgpack(row.bytes);
      row.bytes.clear();
      row.decoded = true;
    }
    return row.record;
  }

  std::unique_ptr<Cursor> NewCursor(std::string_view limit) const override {
    return NewMapCursor(
        rows_, limit, [](const Row&) { return true; },
        [](const Row& row, std::string* buffer) -> std::string_view {
          if (!row.decoded) return row.bytes;
          return *buffer = Bytes(row);
        });
  }
  json Record(std::string_view key) const override {
    auto it = rows_.find(key);
    if (it == rows_.end()) return nullptr;
    return it->second.decoded ? it->second.record : json::from_msgpack(it->second.bytes);
  }
  void ScanRecords(std::string_view prefix,
                   const std::function<bool(std::string_view, const json&)>& fn) const override {
    for (auto it = rows_.lower_bound(prefix); it != rows_.end() && it->first.starts_with(prefix); ++it) {
      const Row& row = it->second;
      if (!(row.decoded ? fn(it->first, row.record) : fn(it->first, json::from_msgpack(row.bytes)))) break;
    }
  }

 private:
  struct Row {
    bool decoded = false;
    std::string bytes;  // the MessagePack, unless decoded
    json record;        // when decoded
  };
  static std::string Bytes(const Row& row) {
    if (!row.decoded) return row.bytes;
    const std::vector<uint8_t> v = json::to_msgpack(row.record);
    return std::string(v.begin(), v.end());
  }
  Row& At(std::string_view key) {
    auto it = rows_.find(key);
    if (it == rows_.end()) it = rows_.emplace(std::string(key), Row{}).first;
    return it->second;
  }
  std::map<std::string, Row, std::less<>> rows_;
};

// The index rows of a view: their bytes in one buffer (one allocation to fill, one to free, for
// thousands of rows), each row a range of it with its time key.
struct IndexRows {
  struct At {
    size_t tk, tk_size, row, row_size;
  };
  std::string bytes;
  std::vector<At> rows;  // in time order once AsOfView has merged them
  std::string_view tk(const At& a) const { return std::string_view(bytes).substr(a.tk, a.tk_size); }
  std::string_view row(const At& a) const { return std::string_view(bytes).substr(a.row, a.row_size); }
};

// A temporal projection's live rows as they were at t: the versions recorded up to t.
class RecordedBy : public Rows {
 public:
  RecordedBy(const Rows& rows, events::Micros t) : rows_(rows), limit_(Hex16(static_cast<uint64_t>(t))) {}
  std::optional<std::string> Get(std::string_view key) const override {
    if (!Visible(key)) return std::nullopt;
    return rows_.Get(key);
  }
  std::unique_ptr<Cursor> NewCursor(std::string_view limit) const override {
    return std::make_unique<VisibleCursor>(*this, rows_.NewCursor(limit));
  }

 private:
  // Recorded at or before t; the version's recorded_at is the first half of its last 32 bytes.
  bool Visible(std::string_view key) const {
    return key.size() >= kVersionSize && key.substr(key.size() - kVersionSize + 1, 16) <= limit_;
  }
  // The base cursor, stepping over the versions recorded after t.
  class VisibleCursor : public Cursor {
   public:
    VisibleCursor(const RecordedBy& rows, std::unique_ptr<Cursor> base)
        : rows_(rows), base_(std::move(base)) {}
    void Seek(std::string_view key) override {
      base_->Seek(key);
      Skip();
    }
    bool Valid() const override { return base_->Valid(); }
    void Next() override {
      base_->Next();
      Skip();
    }
    std::string_view key() const override { return base_->key(); }
    std::string_view value() const override { return base_->value(); }

   private:
    void Skip() {
      while (base_->Valid() && !rows_.Visible(base_->key())) base_->Next();
    }
    const RecordedBy& rows_;
    std::unique_ptr<Cursor> base_;
  };
  const Rows& rows_;
  const std::string limit_;
};

// The events of the index keys up to t, folded through a projection the first time a query
// reads it (a query reads one or two of the six); a temporal projection's rows are read live,
// below t, with no fold.
class AsOf : public View {
 public:
  AsOf(const ProjectionStore& store, events::Micros t, IndexRows rows)
      : store_(store), t_(t), index_(std::move(rows)) {}
  Status Decode() {
    entries_.reserve(index_.rows.size());
    for (const IndexRows::At& at : index_.rows) {
      IndexEntry entry;
      if (!DecodeIndexEvent(index_.row(at), &entry))
        return Status::Corruption("unreadable event in the audit index at " + std::string(index_.tk(at)));
      entries_.push_back(std::move(entry));
    }
    return Status::Ok();
  }
  const Rows& rows(std::string_view projection) const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = folded_.find(projection); it != folded_.end()) return it->second;
    if (auto it = recorded_by_.find(projection); it != recorded_by_.end()) return it->second;
    const Projection* p = FindProjection(projection);
    if (p->time_indexed()) return store_.rows(projection);  // its queries bound it by t_ themselves
    if (p->temporal())
      return recorded_by_.try_emplace(std::string(projection), store_.rows(projection), t_).first->second;
    // What is left is one of FoldedAsOf().
    AsOfRows& rows = folded_[std::string(projection)];
    for (const IndexEntry& entry : entries_) {
      const s::Event* ev = s::GetEvent(entry.bytes.data());
      p->Apply(EventRef{ev, ev->envelope(), entry.bytes, entry.hash, entry.position}, rows);
    }
    return rows;
  }
  events::Micros now() const override { return t_; }
  bool as_of() const override { return true; }

 private:
  const ProjectionStore& store_;
  events::Micros t_;
  IndexRows index_;                  // time key, index row: in time order
  std::vector<IndexEntry> entries_;  // views into index_
  mutable std::mutex mu_;
  mutable std::map<std::string, AsOfRows, std::less<>> folded_;         // guarded by mu_
  mutable std::map<std::string, RecordedBy, std::less<>> recorded_by_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<View> LiveView(const ProjectionStore& store, events::Micros now) {
  return std::make_unique<Live>(store, now);
}

Result<std::unique_ptr<View>> AsOfView(const ProjectionStore& store,
                                       const std::vector<std::string>& index_keys, events::Micros t) {
  const std::string limit = Hex16(static_cast<uint64_t>(t));
  // Each key's rows come in time order: appended one key after the other, merged, then the same
  // event indexed under several keys is kept once (one entry per time key).
  IndexRows index;
  std::vector<size_t> runs;  // where each key's rows begin
  for (const std::string& key : index_keys) {
    runs.push_back(index.rows.size());
    const std::string prefix = "i/" + key + "/";
    store.rows("audit").Scan(prefix, [&](std::string_view k, std::string_view row) {
      const std::string_view tk = k.substr(prefix.size());
      if (tk.substr(0, 16) > limit) return false;  // recorded after t
      index.rows.push_back({index.bytes.size(), tk.size(), index.bytes.size() + tk.size(), row.size()});
      index.bytes.append(tk).append(row);
      return true;
    });
  }
  const auto by_time = [&](const IndexRows::At& a, const IndexRows::At& b) {
    return index.tk(a) < index.tk(b);
  };
  auto& rows = index.rows;
  for (size_t i = 1; i < runs.size(); ++i)
    std::inplace_merge(
        rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(runs[i]),
        rows.begin() + static_cast<std::ptrdiff_t>(i + 1 < runs.size() ? runs[i + 1] : rows.size()), by_time);
  rows.erase(
      std::unique(rows.begin(), rows.end(),
                  [&](const IndexRows::At& a, const IndexRows::At& b) { return index.tk(a) == index.tk(b); }),
      rows.end());
  auto view = std::make_unique<AsOf>(store, t, std::move(index));
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
    if (!DecodeIndexEvent(row, &entry)) return true;
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
