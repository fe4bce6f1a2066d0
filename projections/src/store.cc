#include "veeduria/projections/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <numeric>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "projections_internal.h"
#include "veeduria/events/render.h"
#include "veeduria/projections/projection.h"

namespace veeduria::projections {
namespace {

// RocksDB counts into a thread-local perf context at every step of a read (its default level,
// kEnableCount), which nothing here reads: each count is a look-up of that context through the
// shared library's TLS, 4% of the national as-of query (the store's cursors turn it off on their
// thread; docs/benchmarks.md, "As-of: a goal's lookup reused, RocksDB's perf counters off").
void NoPerfCounts() { rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable); }

// A RocksDB iterator; a limit is its upper bound, so a scan ends without reading the block after
// its range. Without fill_cache, the blocks it reads are not kept in the block cache.
class DbCursor : public Rows::Cursor {
 public:
  DbCursor(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view limit, bool fill_cache)
      : limit_(limit), bound_(limit_) {
    NoPerfCounts();
    rocksdb::ReadOptions options;
    if (!limit_.empty()) options.iterate_upper_bound = &bound_;
    options.fill_cache = fill_cache;
    it_.reset(db->NewIterator(options, cf));
  }
  void Seek(std::string_view key) override { it_->Seek(rocksdb::Slice(key.data(), key.size())); }
  bool Valid() const override { return it_->Valid(); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return it_->key().ToStringView(); }
  std::string_view value() const override { return it_->value().ToStringView(); }

 private:
  const std::string limit_;
  const rocksdb::Slice bound_;  // limit_'s bytes, for as long as the iterator lives
  std::unique_ptr<rocksdb::Iterator> it_;
};

// One projection's rows in its column family; also the base of the overlay during Apply.
class DbRows : public Rows, public events::StateStore {
 public:
  DbRows(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, bool scans_fill_cache)
      : db_(db), cf_(cf), scans_fill_cache_(scans_fill_cache) {}
  std::optional<std::string> Get(std::string_view key) const override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, rocksdb::Slice(key.data(), key.size()), &v);
    if (!s.ok()) return std::nullopt;
    return v;
  }
  std::unique_ptr<Cursor> NewCursor(std::string_view limit) const override {
    return std::make_unique<DbCursor>(db_, cf_, limit, scans_fill_cache_);
  }
  void Put(std::string_view, std::string) override { std::abort(); }  // writes go through a batch
  void Delete(std::string_view) override { std::abort(); }
  rocksdb::ColumnFamilyHandle* cf() const { return cf_; }
  void set_cf(rocksdb::ColumnFamilyHandle* cf) { cf_ = cf; }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  bool scans_fill_cache_;
};

// Chunks of memory for the writes-only logs' keys and values, kept from run to run by the store
// that owns the pool: a run's rows then land in pages earlier runs faulted in, packed. A string
// allocated for each row (the audit's index entry of every event, progress's rows), kept until
// its run was written, was a third of a department rebuild's page faults, in memory the allocator
// rounded up to its size classes (docs/benchmarks.md, "Runs' rows in pooled chunks"). The chunks
// are mapped and unmapped directly, not through the allocator: a gigabyte handed back to jemalloc
// at the end of a rebuild was purged by whatever allocated next, and the audit queries right after
// a rebuild took half as long again. Thread-safe.
class ChunkPool {
 public:
  static constexpr size_t kChunk = size_t{4} << 20;
  struct Unmap {
    void operator()(char* p) const { munmap(p, kChunk); }
  };
  using Chunk = std::unique_ptr<char, Unmap>;
  Chunk Get() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!free_.empty()) {
        Chunk c = std::move(free_.back());
        free_.pop_back();
        return c;
      }
    }
    void* p = mmap(nullptr, kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return Chunk(static_cast<char*>(p));
  }
  void Return(std::vector<Chunk>* chunks) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& c : *chunks) free_.push_back(std::move(c));
    chunks->clear();
  }
  // Unmaps the chunks not in use (a catch-up is over).
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    free_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<Chunk> free_;  // GUARDED_BY(mu_)
};

// The rows of a writes-only projection (Projection::writes_only) for one batch, in the order it
// wrote them: no ordered map; later writes of a key win when replayed into a batch. Keys and
// values are copied into chunks of a ChunkPool, a value bigger than a quarter of a chunk into an
// allocation of its own. A value equal to the last long one written is kept once: the audit index
// writes an event's bytes under its `o/` and its `i/` keys when it has both. An empty value is a
// mark (audit's a/ rows: this actor wrote events under this key about this object), under a key
// the projection never writes a value to nor deletes: a mark equal to one of the last few
// written is not written again, so the run of events one actor writes about one object (a plan's
// goals, reported one after another) leaves one row to sort.
class WriteLog : public events::StateStore {
 public:
  class Writes {
   public:
    explicit Writes(ChunkPool* pool = nullptr) : pool_(pool) {}
    Writes(Writes&& o) noexcept { *this = std::move(o); }
    Writes& operator=(Writes&& o) noexcept {
      if (this == &o) return *this;
      Free();
      pool_ = o.pool_;
      writes_ = std::move(o.writes_);
      chunks_ = std::move(o.chunks_);
      own_ = std::move(o.own_);
      at_ = std::exchange(o.at_, nullptr);
      left_ = std::exchange(o.left_, 0);
      o.writes_.clear();
      o.chunks_.clear();
      o.own_.clear();
      return *this;
    }
    ~Writes() { Free(); }
    size_t size() const { return writes_.size(); }
    // fn(key, value) for every write in order; value nullopt: a deletion.
    template <typename Fn>
    void ForEach(Fn&& fn) const {
      for (const Write& w : writes_)
        fn(w.key, w.deleted ? std::nullopt : std::optional<std::string_view>(w.value));
    }

   private:
    friend class WriteLog;
    struct Write {
      std::string_view key, value;
      bool deleted;
    };
    // `bytes` copied where they stay until this is freed.
    std::string_view Copy(std::string_view bytes) {
      if (bytes.empty()) return {};
      if (bytes.size() > ChunkPool::kChunk / 4) {
        own_.emplace_back(new char[bytes.size()]);
        std::memcpy(own_.back().get(), bytes.data(), bytes.size());
        return {own_.back().get(), bytes.size()};
      }
      if (bytes.size() > left_) {
        chunks_.push_back(pool_->Get());
        at_ = chunks_.back().get();
        left_ = ChunkPool::kChunk;
      }
      std::memcpy(at_, bytes.data(), bytes.size());
      const std::string_view out(at_, bytes.size());
      at_ += bytes.size();
      left_ -= bytes.size();
      return out;
    }
    void Free() {
      if (pool_ != nullptr && !chunks_.empty()) pool_->Return(&chunks_);
      chunks_.clear();
      own_.clear();
      writes_.clear();
      at_ = nullptr;
      left_ = 0;
    }
    ChunkPool* pool_ = nullptr;
    std::vector<Write> writes_;
    std::vector<ChunkPool::Chunk> chunks_;      // from pool_
    std::vector<std::unique_ptr<char[]>> own_;  // values too big for a chunk
    char* at_ = nullptr;                        // the free part of the last chunk
    size_t left_ = 0;
  };
  explicit WriteLog(ChunkPool* pool) : writes_(pool) {}
  std::optional<std::string> Get(std::string_view) const override { std::abort(); }
  void Put(std::string_view key, std::string value) override {
    if (value.empty()) {
      std::string_view& recent = recent_marks_[std::hash<std::string_view>{}(key) % kRecentMarks];
      if (recent == key) return;
      recent = writes_.Copy(key);
      writes_.writes_.push_back({recent, {}, false});
      return;
    }
    const std::string_view k = writes_.Copy(key);
    if (value.size() >= kShared && last_long_ == value) {
      writes_.writes_.push_back({k, last_long_, false});
      return;
    }
    const std::string_view v = writes_.Copy(value);
    if (value.size() >= kShared) last_long_ = v;
    writes_.writes_.push_back({k, v, false});
  }
  void Delete(std::string_view key) override { writes_.writes_.push_back({writes_.Copy(key), {}, true}); }
  const Writes& writes() const { return writes_; }
  Writes Take() {
    last_long_ = {};
    recent_marks_ = {};
    return std::exchange(writes_, Writes(writes_.pool_));
  }

 private:
  static constexpr size_t kShared = 256;  // shorter values are cheaper to copy than to compare
  static constexpr size_t kRecentMarks = 64;
  Writes writes_;
  std::string_view last_long_;                               // the last long value written, in writes_
  std::array<std::string_view, kRecentMarks> recent_marks_;  // by hash: the last marks written, in writes_
};

// A row of a sorted run: views into rows held elsewhere (value nullopt: a deletion).
using RunRow = std::pair<std::string_view, std::optional<std::string_view>>;
std::optional<std::string_view> ViewOf(const std::optional<std::string>& value) {
  return value ? std::optional<std::string_view>(*value) : std::nullopt;
}

// A run's rows, once sorted, are read in key order, not in the order they were written: each
// row's key and value are a cache miss (a national run is ~0.5 GB), so the loops that read them
// in key order ask for the row this many ahead.
constexpr size_t kPrefetchAhead = 8;
void Prefetch(const RunRow& row) {
  __builtin_prefetch(row.first.data());
  if (row.second) __builtin_prefetch(row.second->data());
}

// The bucket of a key in a run: the key up to its second '/' (i/<entity>/, o/<entity>/,
// chain/<stream>/, g/<entity>/…), or the whole key when it has fewer. Two buckets are
// never one a proper prefix of the other but when the shorter is a whole key (its only key), so
// the buckets in name order, each sorted by what follows its name, are the run in key order.
std::string_view BucketOf(std::string_view key) {
  const size_t first = key.find('/');
  if (first == std::string_view::npos) return key;
  const size_t second = key.find('/', first + 1);
  return second == std::string_view::npos ? key : key.substr(0, second + 1);
}

// Sorts `at[0, n)` (indices into `run`, in write order, every key starting with `prefix_size`
// shared bytes) by key, stably: by merging its ascending stretches (a natural merge sort). Folds
// write most of a bucket in order (an entity's index rows in time order, a stream's chain entries
// by sequence), which this sorts in about n comparisons; a bucket of many short stretches is
// sorted as a whole.
void SortBucket(const std::vector<RunRow>& run, size_t prefix_size, uint32_t* at, size_t n,
                std::vector<size_t>* bounds, std::vector<uint32_t>* buffer) {
  const auto less = [&](uint32_t a, uint32_t b) {
    return run[a].first.substr(prefix_size) < run[b].first.substr(prefix_size);
  };
  bounds->assign(1, 0);
  for (size_t i = 1; i < n; ++i)
    if (less(at[i], at[i - 1])) bounds->push_back(i);
  if (bounds->size() == 1) return;  // in order
  if (bounds->size() > n / 4) {
    std::stable_sort(at, at + n, less);
    return;
  }
  bounds->push_back(n);
  buffer->resize(n);
  std::vector<size_t> merged;
  while (bounds->size() > 2) {
    merged.assign(1, 0);
    for (size_t r = 0; r + 1 < bounds->size(); r += 2) {
      const size_t a = (*bounds)[r], b = (*bounds)[r + 1];
      const size_t c = r + 2 < bounds->size() ? (*bounds)[r + 2] : b;
      // std::merge takes from the second stretch only what is strictly less: stable.
      std::merge(at + a, at + b, at + b, at + c, buffer->data() + a, less);
      merged.push_back(c);
    }
    std::copy(buffer->begin(), buffer->begin() + n, at);
    bounds->swap(merged);
  }
}

// Sorts a run by key; of the rows with equal keys, the last one stays (they are in write order).
// The rows are grouped by bucket (BucketOf, a hash map of a few thousand names), the buckets
// sorted by name and each bucket on its own (SortBucket): an audit run holds millions of rows in a
// few hundred buckets, mostly written in order already.
void SortRun(std::vector<RunRow>* run) {
  const size_t n = run->size();
  std::unordered_map<std::string_view, uint32_t> ids;
  std::vector<std::string_view> names;
  std::vector<uint32_t> count;
  std::vector<uint32_t> bucket(n);
  for (size_t i = 0; i < n; ++i) {
    const auto [it, fresh] = ids.try_emplace(BucketOf((*run)[i].first), static_cast<uint32_t>(names.size()));
    if (fresh) {
      names.push_back(it->first);
      count.push_back(0);
    }
    bucket[i] = it->second;
    ++count[it->second];
  }
  std::vector<uint32_t> order(names.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return names[a] < names[b]; });
  std::vector<uint32_t> start(names.size());
  for (size_t i = 0, at = 0; i < order.size(); at += count[order[i]], ++i)
    start[order[i]] = static_cast<uint32_t>(at);
  std::vector<uint32_t> at(n);
  {
    std::vector<uint32_t> fill = start;
    for (size_t i = 0; i < n; ++i) at[fill[bucket[i]]++] = static_cast<uint32_t>(i);
  }
  std::vector<size_t> bounds;
  std::vector<uint32_t> buffer;
  for (uint32_t b : order)
    SortBucket(*run, names[b].size(), at.data() + start[b], count[b], &bounds, &buffer);
  std::vector<RunRow> sorted;
  sorted.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i + 2 * kPrefetchAhead < n) __builtin_prefetch(&(*run)[at[i + 2 * kPrefetchAhead]]);
    if (i + kPrefetchAhead < n) __builtin_prefetch((*run)[at[i + kPrefetchAhead]].first.data());
    if (i + 1 == n || (*run)[at[i + 1]].first != (*run)[at[i]].first) sorted.push_back((*run)[at[i]]);
  }
  *run = std::move(sorted);
}

// Jobs run by a few threads, each calling Work(); a job may queue more. Work returns once the
// queue is empty and no job is running (so none can queue another).
class JobQueue {
 public:
  void Push(std::function<void()> job) {
    std::lock_guard<std::mutex> l(mu_);
    jobs_.push_back(std::move(job));
    cv_.notify_one();
  }
  void Work() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return !jobs_.empty() || running_ == 0; });
      if (jobs_.empty()) {
        cv_.notify_all();
        return;
      }
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
      l.unlock();
      job();
      l.lock();
      --running_;
      if (running_ == 0 && jobs_.empty()) cv_.notify_all();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t running_ = 0;
};

// Hash and equality of std::string keys that look up by std::string_view (no temporary).
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view k) const { return std::hash<std::string_view>()(k); }
};
template <typename V>
using KeyMap = std::unordered_map<std::string, V, KeyHash, std::equal_to<>>;

std::string OffsetKey(std::string_view projection, std::string_view topic, uint32_t partition) {
  return "off/" + std::string(projection) + "/" + std::string(topic) + "/" + std::to_string(partition);
}
std::string HeadKey(std::string_view projection, std::string_view stream) {
  return "head/" + std::string(projection) + "/" + std::string(stream);
}
// Present while a family merged at the end of a bulk catch-up (ProjectionStore::Flush) holds runs
// not yet merged: ingested with each run, deleted when the family's merge completes. A process
// that ended before (a rebuild stopped while it merged) leaves it, and ResumeMerge merges then.
std::string MergeKey(std::string_view projection) { return "merge/" + std::string(projection); }
// The chain index, shared by all projections: chain/<stream>/<last seq, 8 bytes big-endian> ->
// the hashes (32 bytes each) of the events applied at the consecutive sequences that end there,
// one row per stretch of a stream that a batch or a bulk run applied (one row per event was a
// third of a national rebuild's rows). Written with the first projection that applies the event;
// read only for an event below a projection's head (a re-delivery, or a fork). Keyed by the last
// sequence: a projection reset and replayed writes its stretches again from the stream's first
// sequence on, so a replayed stretch that replaces a row of the same last sequence is shorter only
// where the replay's earlier rows cover the rest. A store written when each row held one event
// reads the same: each row is a stretch of one.
constexpr std::string_view kChainPrefix = "chain/";
constexpr std::string_view kChainMarker = "chain-index";  // present once the index is complete
std::string U64(uint64_t v);
std::string ChainKey(std::string_view stream, uint64_t seq) {
  std::string k(kChainPrefix);
  k += stream;
  k += '/';
  k += U64(seq);
  return k;
}
// An event a projection applied, for the chain index.
struct ChainEntry {
  std::string stream;
  uint64_t seq;
  events::Hash hash;
};
// The rows of the chain index that hold `entries` (in the order they were applied: of two at one
// sequence, a projection reset and replayed in the same run, the later is kept), in no order.
std::vector<std::pair<std::string, std::string>> ChainRows(const std::vector<ChainEntry>& entries) {
  std::unordered_map<std::string_view, std::vector<uint32_t>> by_stream;  // in the order applied
  for (uint32_t i = 0; i < entries.size(); ++i) by_stream[entries[i].stream].push_back(i);
  std::vector<std::pair<std::string, std::string>> rows;
  std::string hashes;
  for (auto& [stream, order] : by_stream) {
    const auto by_seq = [&](uint32_t a, uint32_t b) { return entries[a].seq < entries[b].seq; };
    if (!std::is_sorted(order.begin(), order.end(), by_seq))
      std::stable_sort(order.begin(), order.end(), by_seq);
    for (size_t i = 0; i < order.size(); ++i) {
      const ChainEntry& e = entries[order[i]];
      const ChainEntry* next = i + 1 < order.size() ? &entries[order[i + 1]] : nullptr;
      if (next && next->seq == e.seq) continue;
      hashes.append(reinterpret_cast<const char*>(e.hash.data()), e.hash.size());
      if (!next || next->seq != e.seq + 1)
        rows.emplace_back(ChainKey(stream, e.seq), std::exchange(hashes, {}));
    }
  }
  return rows;
}
std::string U64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}
uint64_t ReadU64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

// A row of FoldRows: its bytes, or the record decoded from them.
struct OverlayRow {
  std::optional<std::string> value;  // the stored bytes unless decoded; nullopt: deleted
  bool decoded = false;
  nlohmann::json record;  // when decoded
};
using OverlayMap = KeyMap<OverlayRow>;

// The rows one projection has folded and not yet written (one batch; in bulk mode a whole run),
// over its column family: a hash map, sorted once when written. A record a fold updates in place
// (UpdateRecord: reviews' r/ rows) stays decoded until then and is encoded once, byte for byte
// what events::WriteRecord would have stored at each update. In bulk mode, the rows of the run
// being written in the background (frozen: encoded, read-only) lie between it and the database.
class FoldRows : public events::StateStore, public DecodedRecords {
 public:
  explicit FoldRows(const DbRows* base) : base_(base) {}
  std::optional<std::string> Get(std::string_view key) const override {
    auto it = rows_.find(key);
    if (it == rows_.end()) return Below(key);
    if (it->second.decoded) return Encode(it->second.record);
    return it->second.value;
  }
  void Put(std::string_view key, std::string value) override {
    OverlayRow& row = At(key);
    row.value = std::move(value);
    row.decoded = false;
    row.record = nullptr;
  }
  void Delete(std::string_view key) override {
    OverlayRow& row = At(key);
    row.value.reset();
    row.decoded = false;
    row.record = nullptr;
  }
  nlohmann::json& MutableRecord(std::string_view key) override {
    auto it = rows_.find(key);
    if (it == rows_.end()) {
      OverlayRow& row = rows_[std::string(key)];
      if (auto v = Below(key)) row.record = nlohmann::json::from_msgpack(*v);
      row.decoded = true;
      return row.record;
    }
    OverlayRow& row = it->second;
    if (!row.decoded) {
      if (row.value) row.record = nlohmann::json::from_msgpack(*row.value);
      row.value.reset();
      row.decoded = true;
    }
    return row.record;
  }
  // fn(key, value) for every row, encoded, in no particular order (value null: a deletion), as
  // WriteLog::Writes::ForEach hands its writes.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    EncodeAll();
    for (const auto& [key, row] : rows_) fn(key, ViewOf(row.value));
  }
  // Hands every row over, encoded; the overlay is empty after.
  OverlayMap Take() {
    EncodeAll();
    return std::exchange(rows_, OverlayMap());
  }
  // Rows read below this overlay's and above the database's (null: none). REQUIRES: `frozen`
  // (encoded rows) is not modified while set.
  void SetFrozen(const OverlayMap* frozen) { frozen_ = frozen; }
  size_t size() const { return rows_.size(); }
  void Clear() { rows_.clear(); }

 private:
  static std::string Encode(const nlohmann::json& record) {
    const std::vector<uint8_t> v = nlohmann::json::to_msgpack(record);
    return std::string(v.begin(), v.end());
  }
  void EncodeAll() {
    for (auto& [key, row] : rows_)
      if (row.decoded) {
        row.value = Encode(row.record);
        row.record = nullptr;
        row.decoded = false;
      }
  }
  std::optional<std::string> Below(std::string_view key) const {
    if (frozen_) {
      auto it = frozen_->find(key);
      if (it != frozen_->end()) return it->second.value;
    }
    return base_->Get(key);
  }
  OverlayRow& At(std::string_view key) {
    auto it = rows_.find(key);
    if (it == rows_.end()) it = rows_.emplace(std::string(key), OverlayRow{}).first;
    return it->second;
  }
  const DbRows* base_;
  const OverlayMap* frozen_ = nullptr;
  OverlayMap rows_;
};

// One projection folding batches: its rows, the heads of the streams it has seen and, in bulk
// mode, what it has applied but not yet written (rows, offsets), kept between batches.
struct Target {
  Target(const Projection* p, const DbRows* base, ChunkPool* pool)
      : projection(p), log(pool), overlay(base) {}
  const Projection* projection;
  uint64_t next = 0;  // offset of the first entry of this batch's partition it has not applied
  WriteLog log;       // a writes-only projection's rows
  FoldRows overlay;   // the others
  KeyMap<std::pair<uint64_t, events::Hash>> heads;
  std::map<std::pair<std::string, uint32_t>, uint64_t> offsets;  // bulk: next offset, not yet written
  std::vector<char> applied;                                     // per entry of the batch
  Status status;
};

// What a sorted run writes: each projection's rows, and in "meta" their heads and offsets and
// the chain entries of the events they applied. Bulk mode freezes one every bulk_events events
// and writes it on a background thread while the next batches fold; those folds read its
// overlay rows (FoldRows::SetFrozen), so nothing of it changes until it is ingested.
struct Run {
  struct Part {
    Target* target;  // whose overlay reads `rows` meanwhile
    rocksdb::ColumnFamilyHandle* cf;
    OverlayMap rows;       // encoded
    WriteLog::Writes log;  // a writes-only projection's, which no fold reads
  };
  uint64_t number = 0;  // in this process (file names)
  std::vector<Part> parts;
  std::vector<std::pair<std::string, std::string>> meta;  // heads and offsets
  std::vector<ChainEntry> chain;
};

}  // namespace

struct ProjectionStore::Impl {
  // OpenSecondary's own directory, removed after the database closes (declared before it).
  struct SecondaryDir {
    std::string path;
    ~SecondaryDir() {
      std::error_code ec;
      if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
  } secondary;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::map<std::string, std::unique_ptr<DbRows>, std::less<>> rows;  // by projection name
  StoreOptions options;
  std::string bulk_dir;  // where sorted runs are written before they are ingested
  ChunkPool pool;        // the writes-only logs' memory (declared before what holds their chunks)
  // Bulk mode (options.bulk_events > 0): every projection's Target lives from batch to batch, and
  // so do the chain entries of what they applied; nothing is written until FlushBulk().
  std::map<std::string, std::unique_ptr<Target>, std::less<>> bulk;
  std::vector<ChainEntry> bulk_chain;
  uint64_t bulk_events = 0;     // applied since the last run was frozen
  uint64_t bulk_runs = 0;       // runs frozen by this process (file names)
  uint64_t compacted_runs = 0;  // bulk_runs when the temporal families were last compacted
  // The run being written and ingested by `writer` (at most one; null when none), and how that
  // ended (read after joining). Only the writer touches them meanwhile, and only to read, but for
  // the writes-only logs it frees once written.
  std::unique_ptr<Run> writing;
  std::thread writer;
  Status writer_status;
  // The background merge (StartMerge) of `merge_families`; while it runs, `merging` is true. How
  // it ended, once joined.
  std::vector<const Projection*> merge_families;
  std::thread merger;
  std::atomic<bool> merging{false};
  std::atomic<bool> stop_merge{false};
  Status merge_status;
  // Families opened held with a merge pending (Open), until ResumeMerge merges them or a write
  // outside bulk mode lets them go: a process that writes to them and never merges (`submit`,
  // `import`) would otherwise pile up level-0 files, which RocksDB neither compacts nor slows
  // writes for while a family is held.
  std::vector<const Projection*> held_at_open;

  ~Impl() {
    if (writer.joinable()) writer.join();  // a run frozen is ingested whole, with its offsets
    // A merge under way is abandoned, leaving the families as they are: correct, in more sorted
    // runs, their markers kept. Closing is the one stop RocksDB 7.8 aborts a running CompactFiles
    // for (DisableManualCompaction only refuses the next one).
    if (merger.joinable()) rocksdb::CancelAllBackgroundWork(db.get(), /*wait=*/false);
    StopMerge();
    rows.clear();
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }
  // The column families of DATA/projections: "default" (meta), then one per projection.
  static std::vector<rocksdb::ColumnFamilyDescriptor> Families() {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, {}}};
    for (const Projection* p : AllProjections())
      cfs.push_back({std::string(p->name()), FamilyOptions(p->name())});
    return cfs;
  }
  // A projection's column family: LZ4 rather than RocksDB's default Snappy, which a rebuild spent
  // a seventh of its CPU compressing (the audit index holds every event twice) and as-of queries
  // decompressing. Audit's and progress's data blocks are 16 KiB (RocksDB's default: 4 KiB): their
  // queries read ranges of rows (an object's events, an entity's index, an entity's progress), so
  // fewer, larger blocks mean fewer block reads and a smaller index to search (the audit query's
  // CPU halved at department scale, 32 KiB did no better; the national as-of query's CPU fell by
  // a tenth). Every family shares one 256 MiB block cache (RocksDB's default: 8 MiB per family):
  // the national audit query's p50 fell fourfold. Files written before keep their blocks and
  // compression until rewritten (`veeduria rebuild`); the rows are the same (docs/benchmarks.md).
  static rocksdb::ColumnFamilyOptions FamilyOptions(std::string_view name) {
    static const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(size_t{256} << 20);
    rocksdb::ColumnFamilyOptions o;
    o.compression = rocksdb::kLZ4Compression;
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    if (name == "audit" || name == "progress") t.block_size = 16 * 1024;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    return o;
  }
  // Progress's scans read around the block cache: an entity's progress query, live or as of a
  // time, reads its thousands of rows once. Kept, they would evict the blocks the audit queries
  // reuse, and filling the cache took a tenth of the national as-of query's CPU.
  static bool ScansFillCache(std::string_view name) { return name != "progress"; }
  // Takes the database opened with Families() and its handles.
  void Attach(rocksdb::DB* opened) {
    db.reset(opened);
    meta = handles[0];
    for (size_t i = 0; i < AllProjections().size(); ++i)
      rows.emplace(
          std::string(AllProjections()[i]->name()),
          std::make_unique<DbRows>(opened, handles[i + 1], ScansFillCache(AllProjections()[i]->name())));
  }
  // The hash of the event applied at (stream, seq), from the chain index: the first row of the
  // stream whose last sequence is at or after `seq` and whose stretch reaches back to it.
  std::optional<events::Hash> ChainHash(std::string_view stream, uint64_t seq) const {
    const std::string prefix = std::string(kChainPrefix) + std::string(stream) + "/";
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), meta));
    for (it->Seek(ChainKey(stream, seq)); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const rocksdb::Slice k = it->key(), v = it->value();
      if (k.size() != prefix.size() + 8 || v.empty() || v.size() % 32 != 0) continue;
      const uint64_t last = ReadU64(std::string_view(k.data() + prefix.size(), 8));
      const uint64_t back = last - seq;     // >= 0: the row ends at or after seq
      if (back >= v.size() / 32) continue;  // begins after seq
      events::Hash h;
      std::memcpy(h.data(), v.data() + v.size() - 32 * (back + 1), 32);
      return h;
    }
    return std::nullopt;
  }
  std::optional<std::string> Meta(const std::string& key) const {
    std::string v;
    if (!db->Get(rocksdb::ReadOptions(), meta, key, &v).ok()) return std::nullopt;
    return v;
  }
  // Drops what bulk mode holds unwritten, as a crash would. A run being written is let finish:
  // ingested or not, the store then holds a consistent state, and offsets are read from it again.
  // The compactions held for the runs are let go.
  void DropBulk() {
    (void)Reap();
    bulk.clear();
    bulk_chain.clear();
    bulk_events = 0;
    (void)HoldCompactions(false);
  }
  // Takes what bulk mode holds (rows, chain entries) into a run, with a copy of the heads and
  // offsets as they are now; the folds go on in empty overlays.
  std::unique_ptr<Run> Freeze() {
    auto r = std::make_unique<Run>();
    r->number = bulk_runs++;
    for (auto& [name, t] : bulk) {
      for (const auto& [stream, head] : t->heads) {
        std::string v = U64(head.first);
        v.append(reinterpret_cast<const char*>(head.second.data()), 32);
        r->meta.emplace_back(HeadKey(name, stream), std::move(v));
      }
      for (const auto& [where, next] : t->offsets)
        r->meta.emplace_back(OffsetKey(name, where.first, where.second), U64(next));
      r->parts.push_back({t.get(), rows.at(name)->cf(), t->overlay.Take(), t->log.Take()});
      const Run::Part& part = r->parts.back();
      if (MergedAtTheEnd(*FindProjection(name)) && part.rows.size() + part.log.size() > 0)
        r->meta.emplace_back(MergeKey(name), "");
    }
    r->chain = std::exchange(bulk_chain, {});
    bulk_events = 0;
    return r;
  }
  // Writes rows[begin, end) of a sorted run (keys strictly increasing; null: a deletion) as the
  // file `path`.
  Status WriteSlice(rocksdb::ColumnFamilyHandle* cf, const std::vector<RunRow>& rows, size_t begin,
                    size_t end, const std::string& path) {
    // The file's pages stay in the page cache (RocksDB's default drops them every MB with an
    // fadvise, 1.6% of a rebuild's CPU): the file is read right after, by the digests and queries.
    rocksdb::SstFileWriter w(rocksdb::EnvOptions(), rocksdb::Options(db->GetDBOptions(), db->GetOptions(cf)),
                             cf, /*invalidate_page_cache=*/false);
    VEEDURIA_RETURN_IF_ERROR(FromRocks(w.Open(path), "opening " + path));
    for (size_t i = begin; i < end; ++i) {
      if (i + kPrefetchAhead < end) Prefetch(rows[i + kPrefetchAhead]);
      const auto& [key, value] = rows[i];
      rocksdb::Status s = value ? w.Put(key, *value) : w.Delete(key);
      VEEDURIA_RETURN_IF_ERROR(FromRocks(s, "writing " + path));
    }
    return FromRocks(w.Finish(), "finishing " + path);
  }
  // Writes a run as sorted SSTs, each column family's rows cut into one slice per thread (of at
  // least options.slice_bytes each) written in parallel, and ingests them all in one atomic step:
  // after a crash either all of it is there with its offsets, or none of it. A family's slices
  // never overlap, so its rows are one sorted run whatever the number of files. (One file per
  // family left the audit family's, every event's bytes twice, to one thread while the other core
  // idled: half of a department rebuild's wall clock.) No more slices than threads: RocksDB counts
  // level-0 files, not sorted runs, when it decides to slow or stop writes, and a rebuild's runs
  // overlap, so most are ingested into level 0. With `free_logs`, each writes-only log is freed
  // once its slices are written.
  Status WriteAndIngest(Run& r, size_t threads, bool free_logs) {
    std::error_code ec;
    std::filesystem::create_directories(bulk_dir, ec);
    // One sorted run per part, the last for "meta": the offsets and heads, and the chain index's
    // rows of the events the run applied (ChainRows).
    struct Sorted {
      rocksdb::ColumnFamilyHandle* cf = nullptr;
      std::vector<RunRow> rows;
      std::vector<std::pair<std::string, std::string>> chain;  // meta: the chain index's rows
      std::vector<std::string> paths;                          // of its slices, in key order
      std::atomic<size_t> unwritten{0};
      Status status;
    };
    std::vector<Sorted> sorted(r.parts.size() + 1);
    JobQueue queue;
    std::mutex failed_mu;
    // Cuts a sorted run into slices of about equal bytes and queues them; the last one written
    // frees a writes-only log.
    const auto slice = [&](size_t i) {
      Sorted& out = sorted[i];
      const auto size = [&](const RunRow& row) {
        return row.first.size() + (row.second ? row.second->size() : 0);
      };
      size_t total = 0;
      for (const RunRow& row : out.rows) total += size(row);
      const size_t n = std::clamp<size_t>(total / std::max<size_t>(options.slice_bytes, 1), 1, threads);
      std::vector<std::pair<size_t, size_t>> cuts;
      for (size_t begin = 0, end = 0, bytes = 0; end < out.rows.size();) {
        bytes += size(out.rows[end]);
        if (++end == out.rows.size() || (cuts.size() + 1 < n && bytes * n >= total * (cuts.size() + 1))) {
          cuts.emplace_back(begin, end);
          begin = end;
        }
      }
      out.paths.resize(cuts.size());
      out.unwritten = cuts.size();
      for (size_t c = 0; c < cuts.size(); ++c) {
        out.paths[c] = bulk_dir + "/" + out.cf->GetName() + "-" + std::to_string(r.number) + "-" +
                       std::to_string(c) + ".sst";
        queue.Push([&, i, c, cut = cuts[c]] {
          Sorted& out = sorted[i];
          Status s = WriteSlice(out.cf, out.rows, cut.first, cut.second, out.paths[c]);
          if (!s.ok()) {
            std::lock_guard<std::mutex> l(failed_mu);
            if (out.status.ok()) out.status = s;
          }
          if (--out.unwritten == 0 && free_logs && i < r.parts.size()) {
            std::vector<RunRow>().swap(out.rows);
            r.parts[i].log = WriteLog::Writes();  // its chunks back to the pool
          }
        });
      }
    };
    // The biggest parts first: their slices are the longest to write.
    std::vector<size_t> order(r.parts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return r.parts[a].rows.size() + r.parts[a].log.size() > r.parts[b].rows.size() + r.parts[b].log.size();
    });
    for (size_t i : order)
      queue.Push([&, i] {
        // The overlay's rows or the log's in the order written (a projection writes one of the
        // two), sorted by key; the last write of a key wins (stable sort, then the last of each
        // run of equal keys).
        Run::Part& part = r.parts[i];
        Sorted& out = sorted[i];
        out.cf = part.cf;
        out.rows.reserve(part.rows.size() + part.log.size());
        for (const auto& [key, row] : part.rows) out.rows.push_back({key, ViewOf(row.value)});
        part.log.ForEach([&](std::string_view key, std::optional<std::string_view> value) {
          out.rows.push_back({key, value});
        });
        SortRun(&out.rows);
        slice(i);
      });
    queue.Push([&] {
      Sorted& out = sorted.back();
      out.cf = meta;
      out.chain = ChainRows(r.chain);
      out.rows.reserve(r.meta.size() + out.chain.size());
      for (const auto& [key, value] : r.meta) out.rows.push_back({key, value});
      for (const auto& [key, value] : out.chain) out.rows.push_back({key, value});
      SortRun(&out.rows);
      slice(sorted.size() - 1);
    });
    std::vector<std::thread> pool;
    for (size_t i = 1; i < threads; ++i) pool.emplace_back([&] { queue.Work(); });
    queue.Work();
    for (auto& th : pool) th.join();
    std::vector<rocksdb::IngestExternalFileArg> args;
    Status failed;
    for (Sorted& out : sorted) {
      if (failed.ok() && !out.status.ok()) failed = out.status;
      if (out.paths.empty()) continue;
      rocksdb::IngestExternalFileArg arg;
      arg.column_family = out.cf;
      arg.external_files = std::move(out.paths);
      arg.options.move_files = true;
      args.push_back(std::move(arg));
    }
    if (failed.ok() && options.before_ingest) failed = options.before_ingest(r.number);
    const rocksdb::Status s = failed.ok() ? db->IngestExternalFiles(args) : rocksdb::Status::OK();
    for (const auto& a : args)
      for (const auto& f : a.external_files) std::filesystem::remove(f, ec);
    VEEDURIA_RETURN_IF_ERROR(failed);
    return FromRocks(s, "ingesting a sorted run of the projections");
  }
  // A run is written by as many threads as there are cores, in the background too: the folds of
  // the next batches then share the cores with it, and a flush that waits for it (the last run of
  // a catch-up) waits less (a department rebuild: 127k → 150k events/s against one writer).
  static size_t WriterThreads() { return std::max(1u, std::thread::hardware_concurrency()); }
  // Waits for the run being written, if any; how its writing ended.
  Status Reap() {
    if (!writer.joinable()) return Status::Ok();
    writer.join();
    for (auto& [name, t] : bulk) t->overlay.SetFrozen(nullptr);
    writing.reset();
    return std::exchange(writer_status, Status::Ok());
  }
  // Writes what bulk mode holds as a sorted run: now (Flush), or `background`, on a thread of its
  // own while the next batches fold (Apply, every bulk_events events). Runs are ingested in the
  // order they were frozen, one at a time, so the offsets stored are always those of the rows
  // stored. A run that fails drops what was folded over it.
  Status FlushBulk(bool background = false) {
    if (Status in_flight = Reap(); !in_flight.ok()) {
      DropBulk();
      return in_flight;
    }
    if (bulk_events == 0) return Status::Ok();
    StopMerge();  // the run is not in what it merges, and its marker must outlive it
    if (Status held = HoldCompactions(true); !held.ok()) {
      DropBulk();
      return held;
    }
    std::unique_ptr<Run> r = Freeze();
    if (!background) {
      Status s = WriteAndIngest(*r, WriterThreads(), false);
      if (!s.ok()) DropBulk();
      r.reset();
      pool.Release();  // the end of a catch-up: nothing folds into the chunks until the next one
      return s;
    }
    for (Run::Part& part : r->parts) part.target->overlay.SetFrozen(&part.rows);
    writing = std::move(r);
    writer = std::thread([this] { writer_status = WriteAndIngest(*writing, WriterThreads(), true); });
    return Status::Ok();
  }
  // Whether Flush merges a projection's family into one sorted run at the end of a catch-up that
  // wrote runs: the temporal ones at once, the time-indexed ones in the background.
  static bool MergedAtTheEnd(const Projection& p) { return p.temporal() || p.time_indexed(); }
  // While a catch-up writes runs, RocksDB's automatic compactions of the families merged at its
  // end are held (`hold`) and let go again (the merges let their families go when they end).
  // Every run spans every entity, so RocksDB would merge the runs level into level as they are
  // ingested, work that the one-pass merge at the end does again. Held, RocksDB neither compacts
  // those families nor slows or stops writes for their level-0 files.
  Status HoldCompactions(bool hold) {
    for (const Projection* p : AllProjections())
      if (MergedAtTheEnd(*p) && (hold || !merging || !InMerge(*p)))  // the merge lets it go
        VEEDURIA_RETURN_IF_ERROR(AutoCompactions(rows.at(std::string(p->name()))->cf(), !hold));
    return Status::Ok();
  }
  bool InMerge(const Projection& p) const {
    return std::find(merge_families.begin(), merge_families.end(), &p) != merge_families.end();
  }
  Status AutoCompactions(rocksdb::ColumnFamilyHandle* cf, bool on) {
    return FromRocks(db->SetOptions(cf, {{"disable_auto_compactions", on ? "false" : "true"}}),
                     (on ? "letting go the compactions of " : "holding the compactions of ") + cf->GetName());
  }
  // Merges every file of `cf` into its last level in one pass (none when they are all there: one
  // sorted run already), then deletes its MergeKey. Its automatic compactions are held meanwhile
  // and, with `let_go`, let go when it ends, whatever happened; the merge waits for a compaction
  // under way, since a file can be in one compaction only. `stop` (when given) ends the wait;
  // StopMerge ends the merge itself.
  Status CompactIntoOneRun(rocksdb::ColumnFamilyHandle* cf, const std::atomic<bool>* stop, bool let_go) {
    const std::string what = "compacting " + cf->GetName();
    Status out = AutoCompactions(cf, false);
    bool done = false;
    while (out.ok() && !(stop && *stop)) {
      rocksdb::ColumnFamilyMetaData m;
      db->GetColumnFamilyMetaData(cf, &m);
      std::vector<std::string> files;
      bool busy = false, above_last = false;
      for (const auto& level : m.levels)
        for (const auto& f : level.files) {
          files.push_back(f.name);
          busy = busy || f.being_compacted;
          above_last = above_last || level.level + 1 < static_cast<int>(m.levels.size());
        }
      if (busy) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      if (above_last) {
        rocksdb::CompactionOptions o;
        o.compression = rocksdb::kDisableCompressionOption;  // the family's own
        o.output_file_size_limit =
            db->GetOptions(cf).target_file_size_base;  // else one file, whatever its size
        out = FromRocks(db->CompactFiles(o, cf, files, static_cast<int>(m.levels.size()) - 1), what);
      }
      done = out.ok();
      break;
    }
    if (!done && out.ok()) out = Status::Unavailable(what + ": stopped before it merged");
    if (done)
      out = FromRocks(db->Delete(rocksdb::WriteOptions(), meta, MergeKey(cf->GetName())),
                      "recording the merge of " + cf->GetName());
    Status enabled = let_go ? AutoCompactions(cf, true) : Status::Ok();
    return out.ok() ? enabled : out;
  }
  // A full rebuild leaves a time-indexed family (the audit index: most of the store's bytes, read
  // by range, an object's events or an entity's index) in as many sorted runs as RocksDB's levels,
  // each a file a query's seek reads: nationally six, and merged into one the audit query's p99
  // fell by 42–53% (docs/benchmarks.md, "The audit index merged after a rebuild"). The merge is one
  // pass over the family, 20 s of one core nationally, so it runs after the rebuild, on a thread
  // of its own, beside whatever the process does next. So does a merge a process left undone
  // (ResumeMerge), of the temporal families too.
  void StartMerge(std::vector<const Projection*> families) {
    StopMerge();
    stop_merge = false;
    merge_families = std::move(families);
    for (const Projection* p : merge_families) std::erase(held_at_open, p);  // the merge lets them go
    merging = true;
    const auto let_go = [this] {
      for (const Projection* p : merge_families)
        (void)AutoCompactions(rows.at(std::string(p->name()))->cf(), true);
    };
    try {
      merger = std::thread([this, let_go] {
        Status s = options.before_merge ? options.before_merge() : Status::Ok();
        for (const Projection* p : merge_families)
          if (s.ok())
            s = CompactIntoOneRun(rows.at(std::string(p->name()))->cf(), &stop_merge, /*let_go=*/false);
        merge_status = s;
        // Then the families are let go, merged or not: after `merging` is false, so that a
        // DropBulk meanwhile, which leaves them to the merge while it runs, cannot leave them held.
        merging = false;
        let_go();
      });
    } catch (const std::system_error& e) {  // no thread to merge: the families stay as they are
      merge_status = Status::Internal(std::string("cannot start the merge: ") + e.what());
      merging = false;
      let_go();
    }
  }
  // Ends a merge: the families it has not begun are left as they are, and it waits for the one
  // under way, since RocksDB 7.8 aborts a running CompactFiles only when the database closes
  // (~Impl); DisableManualCompaction refuses the next one.
  void StopMerge() {
    if (!merger.joinable()) return;
    stop_merge = true;
    db->DisableManualCompaction();
    merger.join();
    db->EnableManualCompaction();
  }
  Status LetGoHeldAtOpen() {
    for (const Projection* p : held_at_open)
      VEEDURIA_RETURN_IF_ERROR(AutoCompactions(rows.at(std::string(p->name()))->cf(), true));
    held_at_open.clear();
    return Status::Ok();
  }
  Status DropRows(const std::string& name) {
    StopMerge();  // it may be merging the family dropped
    DbRows& r = *rows.at(name);
    rocksdb::ColumnFamilyHandle* old = r.cf();
    VEEDURIA_RETURN_IF_ERROR(FromRocks(db->DropColumnFamily(old), "dropping " + name));
    rocksdb::ColumnFamilyHandle* fresh = nullptr;
    VEEDURIA_RETURN_IF_ERROR(
        FromRocks(db->CreateColumnFamily(FamilyOptions(name), name, &fresh), "creating " + name));
    for (auto& h : handles)
      if (h == old) h = fresh;
    db->DestroyColumnFamilyHandle(old);
    r.set_cf(fresh);
    std::erase(held_at_open, FindProjection(name));  // a fresh family is not held
    // Offsets and heads of the projection, then its version.
    rocksdb::WriteBatch b;
    b.Delete(meta, MergeKey(name));  // a fresh family has nothing to merge
    for (const std::string& prefix : {"off/" + name + "/", "head/" + name + "/"}) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), meta));
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
        b.Delete(meta, it->key());
    }
    const Projection* p = FindProjection(name);
    b.Put(meta, "version/" + name, std::to_string(p->version()));
    return FromRocks(db->Write(rocksdb::WriteOptions(), &b), "resetting " + name);
  }
};

ProjectionStore::ProjectionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProjectionStore::~ProjectionStore() = default;

Result<std::unique_ptr<ProjectionStore>> ProjectionStore::Open(const std::string& data_dir,
                                                               const StoreOptions& store_options) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto impl = std::make_unique<Impl>();
  impl->options = store_options;
  // Runs written but not ingested when a process died: never part of the store.
  impl->bulk_dir = data_dir + "/projections.bulk";
  std::filesystem::remove_all(impl->bulk_dir, ec);
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // The families merged at the end of a bulk catch-up open with RocksDB's automatic compactions
  // held, and those without a merge pending (a rebuild stopped before its merge completed) are let
  // go once open: a pending family's runs are left for the merge (ResumeMerge), which lets it go,
  // unless a batch written outside bulk mode comes first (`held_at_open`). Let go at the open,
  // RocksDB would first merge its level-0 runs into level 1, a gigabyte or two nationally, that
  // the merge then rewrites (the option is not kept across an open).
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = Impl::Families();
  for (rocksdb::ColumnFamilyDescriptor& cf : cfs)
    if (const Projection* p = FindProjection(cf.name); p && Impl::MergedAtTheEnd(*p))
      cf.options.disable_auto_compactions = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, data_dir + "/projections", cfs, &impl->handles, &db);
  if (!s.ok()) return FromRocks(s, "opening " + data_dir + "/projections");
  impl->Attach(db);
  auto store = std::unique_ptr<ProjectionStore>(new ProjectionStore(std::move(impl)));
  // A store written before the chain index existed cannot tell a re-delivery from a fork below a
  // head: every projection is rebuilt (and the index with them).
  const bool chain = store->impl_->Meta(std::string(kChainMarker)).has_value();
  for (const Projection* p : AllProjections()) {
    const std::string name(p->name());
    auto v = store->impl_->Meta("version/" + name);
    if (chain && v && *v == std::to_string(p->version())) continue;
    if (v) store->reset_on_open_.push_back(name);
    VEEDURIA_RETURN_IF_ERROR(store->impl_->DropRows(name));
  }
  if (!chain)
    VEEDURIA_RETURN_IF_ERROR(FromRocks(
        store->impl_->db->Put(rocksdb::WriteOptions(), store->impl_->meta, std::string(kChainMarker), ""),
        "marking the chain index"));
  for (const Projection* p : AllProjections()) {
    if (!Impl::MergedAtTheEnd(*p)) continue;
    if (store->impl_->Meta(MergeKey(p->name())))
      store->impl_->held_at_open.push_back(p);
    else
      VEEDURIA_RETURN_IF_ERROR(
          store->impl_->AutoCompactions(store->impl_->rows.at(std::string(p->name()))->cf(), true));
  }
  return store;
}

Result<std::unique_ptr<ProjectionStore>> ProjectionStore::OpenSecondary(const std::string& data_dir) {
  const std::string path = data_dir + "/projections";
  if (!std::filesystem::exists(path + "/CURRENT")) return Status::NotFound("no projections in " + path);
  auto impl = std::make_unique<Impl>();
  std::string tmpl = (std::filesystem::temp_directory_path() / "veeduria-secondary-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return Status::IOError("cannot create a directory for a secondary instance");
  impl->secondary.path = tmpl;
  rocksdb::DBOptions options;
  options.max_open_files = -1;  // a secondary keeps every file open: the primary may delete them
  const std::vector<rocksdb::ColumnFamilyDescriptor> cfs = Impl::Families();
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenAsSecondary(options, path, tmpl, cfs, &impl->handles, &db);
  if (!s.ok()) return FromRocks(s, "opening " + path + " as a secondary instance");
  // Opening recovers the primary's MANIFEST and WAL as they are now: no TryCatchUpWithPrimary
  // (RocksDB 7.8's crashes on the column families Reset dropped).
  impl->Attach(db);
  auto store = std::unique_ptr<ProjectionStore>(new ProjectionStore(std::move(impl)));
  for (const Projection* p : AllProjections()) {
    auto v = store->impl_->Meta("version/" + std::string(p->name()));
    if (!v || *v != std::to_string(p->version()))
      return Status::FailedPrecondition(path + ": projection " + std::string(p->name()) + " is at version " +
                                        (v ? *v : std::string("(none)")) + ", this binary reads version " +
                                        std::to_string(p->version()) + ": let its writer rebuild it first");
  }
  return store;
}

uint64_t ProjectionStore::DbIntProperty(const std::string& name) const {
  uint64_t v = 0;
  return impl_->db->GetAggregatedIntProperty(name, &v) ? v : 0;
}

uint64_t ProjectionStore::NextOffset(std::string_view topic, uint32_t partition) const {
  uint64_t min = UINT64_MAX;
  for (const Projection* p : AllProjections()) {
    if (auto b = impl_->bulk.find(p->name()); b != impl_->bulk.end()) {
      auto o = b->second->offsets.find({std::string(topic), partition});
      if (o != b->second->offsets.end()) {
        min = std::min(min, o->second);
        continue;
      }
    }
    auto v = impl_->Meta(OffsetKey(p->name(), topic, partition));
    min = std::min<uint64_t>(min, v ? ReadU64(*v) : 0);
  }
  return min;
}

const Rows& ProjectionStore::rows(std::string_view projection) const {
  return *impl_->rows.find(projection)->second;
}

Status ProjectionStore::Apply(const std::vector<events::LogEntry>& entries) {
  const std::string topic = entries.front().position.topic;
  const uint32_t partition = entries.front().position.partition;
  std::vector<EventRef> refs;
  refs.reserve(entries.size());
  for (const events::LogEntry& e : entries) {
    if (!events::VerifyEventBytes(e.bytes))
      return Status::Corruption("unreadable event at " + topic + "/" + std::to_string(partition) +
                                " offset " + std::to_string(e.position.offset));
    const schema::Event* ev = schema::GetEvent(e.bytes.data());
    refs.push_back(EventRef{ev, ev->envelope(), e.bytes, e.hash, e.position});
  }
  const bool bulk = impl_->options.bulk_events > 0;
  if (!bulk) VEEDURIA_RETURN_IF_ERROR(impl_->LetGoHeldAtOpen());
  std::vector<std::unique_ptr<Target>> owned;  // this batch's targets, when not in bulk mode
  std::vector<Target*> targets;
  for (const Projection* p : AllProjections()) {
    const DbRows* base = impl_->rows.at(std::string(p->name())).get();
    Target* t;
    if (bulk) {
      auto& b = impl_->bulk[std::string(p->name())];
      if (!b) b = std::make_unique<Target>(p, base, &impl_->pool);
      t = b.get();
    } else {
      owned.push_back(std::make_unique<Target>(p, base, &impl_->pool));
      t = owned.back().get();
    }
    auto o = t->offsets.find({topic, partition});
    if (o != t->offsets.end()) {
      t->next = o->second;
    } else {
      auto v = impl_->Meta(OffsetKey(p->name(), topic, partition));
      t->next = v ? ReadU64(*v) : 0;
    }
    t->status = Status::Ok();
    targets.push_back(t);
  }
  // The hash of the event applied at (stream, seq) before refs[upto]: from the chain index (an
  // earlier batch; in bulk mode maybe not written yet), else the first event of this batch at
  // that sequence (one applied it, or the batch stopped there). Only events below a head ask, so
  // the hot path never reads it.
  auto applied_hash = [&](std::string_view stream, uint64_t seq, size_t upto) -> std::optional<events::Hash> {
    if (auto h = impl_->ChainHash(stream, seq)) return h;
    auto find = [&](const std::vector<ChainEntry>& chain) -> std::optional<events::Hash> {
      for (auto it = chain.rbegin(); it != chain.rend(); ++it)
        if (it->seq == seq && it->stream == stream) return it->hash;
      return std::nullopt;
    };
    if (auto h = find(impl_->bulk_chain)) return h;
    if (impl_->writing)  // the run being written: not in the index yet
      if (auto h = find(impl_->writing->chain)) return h;
    for (size_t i = 0; i < upto; ++i)
      if (refs[i].env->stream_seq() == seq && Str(refs[i].env->stream()) == stream) return refs[i].hash;
    return std::nullopt;
  };
  // Each projection folds the batch on its own (they share nothing but the read-only events), so
  // they run on up to one thread per core.
  auto fold = [&](Target& t) {
    t.applied.assign(refs.size(), 0);
    for (size_t i = 0; i < refs.size(); ++i) {
      const EventRef& ref = refs[i];
      if (ref.position.offset < t.next) continue;  // applied before
      // The stream's sequence and hash chain, so that a re-delivered or forked stream (Kafka)
      // can never corrupt the rows: skip an exact duplicate of what was applied at that
      // sequence, stop on anything else.
      const std::string_view stream =
          ref.env->stream() ? ref.env->stream()->string_view() : std::string_view();
      auto it = t.heads.find(stream);
      if (it == t.heads.end()) {
        std::pair<uint64_t, events::Hash> h{0, events::GenesisHash(stream)};
        if (auto v = impl_->Meta(HeadKey(t.projection->name(), stream)); v && v->size() == 40) {
          h.first = ReadU64(*v);
          std::memcpy(h.second.data(), v->data() + 8, 32);
        }
        it = t.heads.emplace(std::string(stream), h).first;
      }
      const uint64_t seq = ref.env->stream_seq();
      const auto where = [&] {
        return "stream " + std::string(stream) + " at seq " + std::to_string(seq) + " (" + topic + "/" +
               std::to_string(partition) + " offset " + std::to_string(ref.position.offset) + ")";
      };
      if (seq <= it->second.first) {
        // At or below the head: a re-delivery (Kafka: a transaction retried after an abort whose
        // messages the consumer still sees, or a producer retry) if it is the very event applied
        // at that sequence; a fork otherwise.
        const std::optional<events::Hash> known = seq == it->second.first
                                                      ? std::optional<events::Hash>(it->second.second)
                                                      : applied_hash(stream, seq, i);
        if (known && *known == ref.hash) continue;
        t.status = Status::Corruption(
            where() + " forks: applied " + (known ? events::ToHex(*known) : "(unknown)") + ", got " +
            events::ToHex(ref.hash) + "; projection " + std::string(t.projection->name()) + " stopped");
        return;
      }
      if (seq != it->second.first + 1 || !ref.env->prev_hash() ||
          std::memcmp(ref.env->prev_hash()->b()->data(), it->second.second.data(), 32) != 0) {
        t.status =
            Status::Corruption(where() + " forks or has a gap after seq " + std::to_string(it->second.first) +
                               "; projection " + std::string(t.projection->name()) + " stopped");
        return;
      }
      if (t.projection->writes_only())
        t.projection->Apply(ref, t.log);
      else
        t.projection->Apply(ref, t.overlay);
      it->second = {seq, ref.hash};
      t.applied[i] = 1;
    }
  };
  std::atomic<size_t> next_target{0};
  auto worker = [&] {
    for (size_t i; (i = next_target++) < targets.size();) fold(*targets[i]);
  };
  const size_t threads = std::min<size_t>(targets.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (size_t i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  for (Target* t : targets)
    if (!t->status.ok()) {
      // Bulk mode folded part of this batch into what it keeps: drop all it holds unwritten, as a
      // crash would (the stored offsets say where to resume). `t` is one of what it drops.
      Status failed = std::move(t->status);
      if (bulk) impl_->DropBulk();
      return failed;
    }

  const uint64_t next = entries.back().position.offset + 1;
  auto chained = [&](size_t i) {
    for (Target* t : targets)
      if (!t->applied.empty() && t->applied[i]) return true;
    return false;
  };
  if (bulk) {
    for (Target* t : targets)
      if (next > t->next) t->offsets[{topic, partition}] = next;
    for (size_t i = 0; i < refs.size(); ++i)
      if (chained(i))
        impl_->bulk_chain.push_back({Str(refs[i].env->stream()), refs[i].env->stream_seq(), refs[i].hash});
    impl_->bulk_events += entries.size();
    applied_ += entries.size();
    if (impl_->bulk_events >= impl_->options.bulk_events) return impl_->FlushBulk(/*background=*/true);
    return Status::Ok();
  }

  rocksdb::WriteBatch batch;
  for (Target* t : targets) {
    if (next <= t->next) continue;
    rocksdb::ColumnFamilyHandle* cf = impl_->rows.at(std::string(t->projection->name()))->cf();
    auto put = [&](std::string_view key, std::optional<std::string_view> value) {
      if (value)
        batch.Put(cf, key, *value);
      else
        batch.Delete(cf, key);
    };
    t->overlay.ForEach(put);
    t->log.writes().ForEach(put);
    for (const auto& [stream, head] : t->heads) {
      std::string v = U64(head.first);
      v.append(reinterpret_cast<const char*>(head.second.data()), 32);
      batch.Put(impl_->meta, HeadKey(t->projection->name(), stream), v);
    }
    batch.Put(impl_->meta, OffsetKey(t->projection->name(), topic, partition), U64(next));
  }
  std::vector<ChainEntry> chain;
  for (size_t i = 0; i < refs.size(); ++i)
    if (chained(i)) chain.push_back({Str(refs[i].env->stream()), refs[i].env->stream_seq(), refs[i].hash});
  for (const auto& [key, hashes] : ChainRows(chain)) batch.Put(impl_->meta, key, hashes);
  // With the WAL (not synced): a killed projector keeps every batch it committed, so one that is
  // killed over and over still progresses (without it, each restart began at the last flush).
  VEEDURIA_RETURN_IF_ERROR(
      FromRocks(impl_->db->Write(rocksdb::WriteOptions(), &batch), "writing projections"));
  applied_ += entries.size();
  return Status::Ok();
}

// After runs were ingested, a temporal projection's family is compacted into one sorted run: every
// run of a rebuild spans every entity, and an as-of query scans all of one entity's versions, so
// left to RocksDB's background compactions (minutes, on the queries' cores) it would read each
// entity from every level (the national as-of query's CPU p99: 7.2 ms settled, 4.9 ms compacted).
// All its files are merged in one pass into the last level, on this thread (CompactIntoOneRun).
// RocksDB's CompactRange merges level into level, L0 into L1, then L1 into L2… each pass
// rewriting everything above, and it waits for a background slot (one compaction at a time with
// the default two background jobs): nationally 23 s of one thread after up to 16 s of waiting for
// the audit family's compaction, against 4 s in one pass (docs/benchmarks.md).
Status ProjectionStore::Flush() {
  VEEDURIA_RETURN_IF_ERROR(impl_->FlushBulk());
  if (impl_->compacted_runs == impl_->bulk_runs) return Status::Ok();
  impl_->compacted_runs = impl_->bulk_runs;
  std::vector<const Projection*> time_indexed;
  for (const Projection* p : AllProjections())
    if (p->time_indexed()) time_indexed.push_back(p);
  impl_->StartMerge(std::move(time_indexed));  // first: the two merges are one thread each, on two cores
  for (const Projection* p : AllProjections())
    if (p->temporal())
      VEEDURIA_RETURN_IF_ERROR(
          impl_->CompactIntoOneRun(impl_->rows.at(std::string(p->name()))->cf(), nullptr, /*let_go=*/true));
  return Status::Ok();
}

bool ProjectionStore::merging() const { return impl_->merging; }

std::vector<std::string> ProjectionStore::PendingMerges() const {
  std::vector<std::string> names;
  for (const Projection* p : AllProjections())
    if (Impl::MergedAtTheEnd(*p) && impl_->Meta(MergeKey(p->name()))) names.emplace_back(p->name());
  return names;
}

std::vector<std::string> ProjectionStore::ResumeMerge() {
  // Not beside a bulk catch-up (it merges at its end what it wrote), nor on a secondary instance.
  if (impl_->options.bulk_events > 0 || impl_->writer.joinable() || !impl_->secondary.path.empty()) return {};
  std::vector<std::string> names = PendingMerges();
  std::vector<const Projection*> pending;
  for (const std::string& name : names) pending.push_back(FindProjection(name));
  if (!pending.empty()) impl_->StartMerge(std::move(pending));  // which lets them go when it ends
  return names;
}

Status ProjectionStore::FinishMerge() {
  if (!impl_->merger.joinable()) return Status::Ok();
  impl_->merger.join();
  return impl_->merge_status;
}

Status ProjectionStore::SetBulkEvents(uint64_t n) {
  VEEDURIA_RETURN_IF_ERROR(impl_->FlushBulk());
  impl_->options.bulk_events = n;
  if (n == 0) impl_->DropBulk();  // only caches of what is stored now
  return Status::Ok();
}

Status ProjectionStore::Reset(std::string_view projection) {
  if (Status in_flight = impl_->Reap(); !in_flight.ok()) {
    impl_->DropBulk();
    return in_flight;
  }
  if (projection.empty()) impl_->DropBulk();
  for (const Projection* p : AllProjections())
    if (projection.empty() || p->name() == projection) {
      if (!projection.empty()) impl_->bulk.erase(std::string(projection));
      VEEDURIA_RETURN_IF_ERROR(impl_->DropRows(std::string(p->name())));
    }
  // The chain index describes the log, not a projection: it goes only with all of them (a store
  // then replays a log from scratch, maybe another one).
  if (projection.empty())
    VEEDURIA_RETURN_IF_ERROR(FromRocks(
        impl_->db->DeleteRange(rocksdb::WriteOptions(), impl_->meta, std::string(kChainPrefix), "chain0"),
        "dropping the chain index"));
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> ProjectionStore::Digests() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Projection* p : AllProjections()) {
    std::string all;
    rows(p->name()).Scan("", [&](std::string_view k, std::string_view stored) {
      const std::string v = p->DigestValue(stored);
      all += U64(k.size());
      all += k;
      all += U64(v.size());
      all += v;
      if (all.size() > (1 << 20))
        all = std::string(reinterpret_cast<const char*>(events::Sha256(all).data()), 32);
      return true;
    });
    out.emplace_back(std::string(p->name()), events::ToHex(events::Sha256(all)));
  }
  return out;
}

}  // namespace veeduria::projections
