#include "veeduria/producers/embedded_ledger.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

namespace veeduria::producers {
namespace {

using events::Hash;
using events::LogEntry;

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::Unavailable(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

char TopicByte(std::string_view topic) { return topic == events::kDirectoryTopic ? 1 : 0; }
std::string TopicName(char b) { return std::string(b == 1 ? events::kDirectoryTopic : events::kEventsTopic); }

std::string LogKey(std::string_view topic, uint32_t partition, uint64_t offset) {
  std::string k(1, TopicByte(topic));
  PutU32(&k, partition);
  PutU64(&k, offset);
  return k;
}

std::string NextKey(std::string_view topic, uint32_t partition) {
  return "next/" + std::string(topic) + "/" + std::to_string(partition);
}

// Reads the decider state from the state column family through a write-through cache: the
// ledger is the state's only writer, so the cache is coherent once each committed group's
// writes are applied to it (Apply). Misses are cached too (most command_ids are new).
class DbState : public events::StateStore {
 public:
  DbState(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}
  std::optional<std::string> Get(std::string_view key) const override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, rocksdb::Slice(key.data(), key.size()), &v);
    // An I/O error reading our own database is fatal to the group being decided; Append
    // turns it into a Status at the boundary.
    if (!s.ok() && !s.IsNotFound()) throw std::runtime_error("state read failed: " + s.ToString());
    std::optional<std::string> value;
    if (s.ok()) value = std::move(v);
    Remember(std::string(key), value);
    return value;
  }
  void Put(std::string_view, std::string) override { std::abort(); }  // writes go through a batch
  void Delete(std::string_view) override { std::abort(); }

  // REQUIRES: `writes` were committed to the database.
  void Apply(const events::MemoryState& writes) {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [key, value] : writes.entries()) Remember(key, value);
  }

 private:
  static constexpr size_t kMaxEntries = 1 << 20;
  void Remember(std::string key, std::optional<std::string> value) const {
    if (cache_.size() >= kMaxEntries) cache_.clear();  // crude, but bounded and always correct
    cache_.insert_or_assign(std::move(key), std::move(value));
  }
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::optional<std::string>, Hash, std::equal_to<>>
      cache_;  // GUARDED_BY(mu_)
};

struct Writer {
  const std::vector<events::Command>* commands;
  Result<std::vector<events::Decision>> result = Status::Internal("not run");
  bool done = false;
  std::condition_variable cv;
};

}  // namespace

struct EmbeddedLedger::Impl {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* meta_cf = nullptr;
  rocksdb::ColumnFamilyHandle* log_cf = nullptr;
  rocksdb::ColumnFamilyHandle* order_cf = nullptr;
  rocksdb::ColumnFamilyHandle* state_cf = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::unique_ptr<DbState> state;
  std::function<events::Micros()> clock = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };

  std::mutex mu;
  std::deque<Writer*> writers;                  // GUARDED_BY(mu)
  uint64_t next_lsn = 0;                        // GUARDED_BY(mu) for writers; read by end_lsn()
  std::map<std::string, uint64_t> next_offset;  // used only by the committing writer

  ~Impl() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }

  uint64_t NextOffset(const std::string& key) {
    auto it = next_offset.find(key);
    if (it != next_offset.end()) return it->second;
    std::string v;
    uint64_t n = 0;
    if (db->Get(rocksdb::ReadOptions(), meta_cf, key, &v).ok() && v.size() == 8) n = GetU64(v.data());
    next_offset[key] = n;
    return n;
  }

  // Decides one group and writes it. REQUIRES: called by the group's leader, outside mu.
  Status CommitGroup(const std::vector<Writer*>& group, uint64_t* lsn_cursor) {
    events::OverlayState overlay(state.get());
    rocksdb::WriteBatch batch;
    std::map<std::string, uint64_t> offsets;
    uint64_t lsn = *lsn_cursor;
    uint32_t partitions = std::max<uint32_t>(1, events::ReadLedgerMeta(overlay).partitions);
    for (Writer* w : group) {
      std::vector<events::Decision> decisions;
      decisions.reserve(w->commands->size());
      for (const events::Command& c : *w->commands) {
        events::Decision d = events::Decide(overlay, c, clock());
        for (const events::SealedEvent& se : d.events) {
          if (!events::Evolve(overlay, se)) return Status::Internal("decide produced an unreadable event");
          if (se.type == "LedgerInitialized") partitions = events::ReadLedgerMeta(overlay).partitions;
          events::LogPosition pos = events::PartitionOf(se.stream, partitions);
          const std::string nk = NextKey(pos.topic, pos.partition);
          auto it = offsets.find(nk);
          if (it == offsets.end()) it = offsets.emplace(nk, NextOffset(nk)).first;
          const uint64_t offset = it->second++;
          std::string value;
          PutU64(&value, lsn);
          value.append(reinterpret_cast<const char*>(se.hash.data()), se.hash.size());
          value += se.bytes;
          const std::string key = LogKey(pos.topic, pos.partition, offset);
          batch.Put(log_cf, key, value);
          std::string lsn_key;
          PutU64(&lsn_key, lsn);
          batch.Put(order_cf, lsn_key, key);
          ++lsn;
        }
        decisions.push_back(std::move(d));
      }
      w->result = std::move(decisions);
    }
    for (const auto& [key, value] : overlay.writes().entries()) {
      if (value)
        batch.Put(state_cf, key, *value);
      else
        batch.Delete(state_cf, key);
    }
    for (const auto& [key, next] : offsets) {
      std::string v;
      PutU64(&v, next);
      batch.Put(meta_cf, key, v);
    }
    std::string v;
    PutU64(&v, lsn);
    batch.Put(meta_cf, "next_lsn", v);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    VEEDURIA_RETURN_IF_ERROR(FromRocks(db->Write(wo, &batch), "append"));
    state->Apply(overlay.writes());
    for (const auto& [key, next] : offsets) next_offset[key] = next;
    *lsn_cursor = lsn;
    return Status::Ok();
  }
};

EmbeddedLedger::EmbeddedLedger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedLedger::~EmbeddedLedger() = default;

Result<std::unique_ptr<EmbeddedLedger>> EmbeddedLedger::Open(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Status::IOError("cannot create data directory " + data_dir + ": " + ec.message());
  auto impl = std::make_unique<Impl>();
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  rocksdb::ColumnFamilyOptions cfo;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, cfo}, {"log", cfo}, {"order", cfo}, {"state", cfo}};
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, data_dir + "/log", cfs, &impl->handles, &db);
  if (!s.ok()) return FromRocks(s, "opening " + data_dir + "/log");
  impl->db.reset(db);
  impl->meta_cf = impl->handles[0];
  impl->log_cf = impl->handles[1];
  impl->order_cf = impl->handles[2];
  impl->state_cf = impl->handles[3];
  impl->state = std::make_unique<DbState>(db, impl->state_cf);
  std::string v;
  if (db->Get(rocksdb::ReadOptions(), impl->meta_cf, "next_lsn", &v).ok() && v.size() == 8)
    impl->next_lsn = GetU64(v.data());
  return std::unique_ptr<EmbeddedLedger>(new EmbeddedLedger(std::move(impl)));
}

void EmbeddedLedger::SetClockForTesting(std::function<events::Micros()> clock) {
  impl_->clock = std::move(clock);
}

const events::StateStore& EmbeddedLedger::state() const { return *impl_->state; }

uint64_t EmbeddedLedger::end_lsn() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->next_lsn;
}

Result<std::vector<events::Decision>> EmbeddedLedger::Append(const std::vector<events::Command>& commands) {
  Writer w;
  w.commands = &commands;
  std::unique_lock<std::mutex> l(impl_->mu);
  impl_->writers.push_back(&w);
  w.cv.wait(l, [&] { return w.done || impl_->writers.front() == &w; });
  if (w.done) return std::move(w.result);
  // This writer leads a group of everything queued so far.
  std::vector<Writer*> group(impl_->writers.begin(), impl_->writers.end());
  uint64_t lsn = impl_->next_lsn;
  Status st;
  // Only the front writer commits, so the state, offsets and counters need no lock while it
  // does; later arrivals queue behind it and form the next group.
  l.unlock();
  try {
    st = impl_->CommitGroup(group, &lsn);
  } catch (const std::exception& e) {
    st = Status::IOError(e.what());
  }
  l.lock();
  if (st.ok()) impl_->next_lsn = lsn;
  for (Writer* member : group) {
    if (!st.ok()) member->result = st;
    impl_->writers.pop_front();
    if (member != &w) {
      member->done = true;
      member->cv.notify_one();
    }
  }
  if (!impl_->writers.empty()) impl_->writers.front()->cv.notify_one();
  return std::move(w.result);
}

uint32_t EmbeddedLedger::partitions(std::string_view topic) const {
  if (topic == events::kDirectoryTopic) return 1;
  return std::max<uint32_t>(1, meta().partitions);
}

Status EmbeddedLedger::ScanLog(uint64_t from_lsn, const std::function<bool(const LogEntry&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->order_cf));
  std::string start;
  PutU64(&start, from_lsn);
  LogEntry e;
  std::string value;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->value();
    rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->log_cf, key, &value);
    if (!s.ok()) return FromRocks(s, "reading the log at lsn " + std::to_string(GetU64(it->key().data())));
    if (value.size() < 40)
      return Status::Corruption("log entry too short at lsn " + std::to_string(GetU64(it->key().data())));
    e.position.topic = TopicName(key.data()[0]);
    e.position.partition = GetU32(key.data() + 1);
    e.position.offset = GetU64(key.data() + 5);
    e.position.lsn = GetU64(value.data());
    std::memcpy(e.hash.data(), value.data() + 8, 32);
    e.bytes.assign(value.data() + 40, value.size() - 40);
    if (!fn(e)) break;
  }
  return FromRocks(it->status(), "scanning the log");
}

Status EmbeddedLedger::ScanPartition(std::string_view topic, uint32_t partition, uint64_t from_offset,
                                     const std::function<bool(const LogEntry&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->log_cf));
  const std::string start = LogKey(topic, partition, from_offset);
  const std::string prefix = start.substr(0, 5);
  LogEntry e;
  e.position.topic = std::string(topic);
  e.position.partition = partition;
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const rocksdb::Slice v = it->value();
    if (v.size() < 40) return Status::Corruption("log entry too short");
    e.position.offset = GetU64(it->key().data() + 5);
    e.position.lsn = GetU64(v.data());
    std::memcpy(e.hash.data(), v.data() + 8, 32);
    e.bytes.assign(v.data() + 40, v.size() - 40);
    if (!fn(e)) break;
  }
  return FromRocks(it->status(), "scanning partition");
}

Status EmbeddedLedger::RebuildState() {
  std::lock_guard<std::mutex> l(impl_->mu);  // no appends meanwhile
  rocksdb::DB* db = impl_->db.get();
  VEEDURIA_RETURN_IF_ERROR(FromRocks(db->DropColumnFamily(impl_->state_cf), "dropping the decider state"));
  db->DestroyColumnFamilyHandle(impl_->state_cf);
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  VEEDURIA_RETURN_IF_ERROR(FromRocks(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "state", &cf),
                                     "creating the decider state"));
  impl_->handles[3] = impl_->state_cf = cf;
  impl_->state = std::make_unique<DbState>(db, cf);
  // Evolve in batches: the overlay reads through to what was already written.
  events::OverlayState overlay(impl_->state.get());
  Status st;
  size_t pending = 0;
  auto flush = [&]() -> Status {
    rocksdb::WriteBatch batch;
    for (const auto& [key, value] : overlay.writes().entries()) {
      if (value)
        batch.Put(cf, key, *value);
      else
        batch.Delete(cf, key);
    }
    // The cache remembered misses of keys this batch now writes: keep it coherent.
    impl_->state->Apply(overlay.writes());
    overlay.Clear();
    pending = 0;
    return FromRocks(db->Write(rocksdb::WriteOptions(), &batch), "writing the decider state");
  };
  Status scan = ScanLog(0, [&](const LogEntry& e) {
    if (!events::Evolve(overlay, events::DescribeEvent(e.bytes, e.hash))) {
      st = Status::Corruption("unreadable event at lsn " + std::to_string(e.position.lsn));
      return false;
    }
    if (++pending >= 4096) {
      st = flush();
      if (!st.ok()) return false;
    }
    return true;
  });
  VEEDURIA_RETURN_IF_ERROR(scan);
  VEEDURIA_RETURN_IF_ERROR(st);
  VEEDURIA_RETURN_IF_ERROR(flush());
  rocksdb::FlushOptions fo;
  return FromRocks(db->Flush(fo, cf), "flushing the decider state");
}

std::string EmbeddedLedger::StateDigest() const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->state_cf));
  std::string all;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    all += events::ToHex(events::Sha256(it->key().ToStringView()));
    all += events::ToHex(events::Sha256(it->value().ToStringView()));
  }
  return events::ToHex(events::Sha256(all));
}

}  // namespace veeduria::producers
