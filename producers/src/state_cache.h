#pragma once
// StateCache: the embedded ledger's cache of decider-state records (key → value, or a remembered
// miss), an open-addressing table of single allocations.
//
// Each entry is one allocation holding its key and value side by side; the table holds a pointer
// and the key's hash per slot (linear probing, deletion by backward shift, no tombstones). A
// lookup is the slot (hash compared first), then the entry: two cache misses where a
// std::unordered_map<std::string, std::optional<std::string>> took four (bucket, node, key bytes,
// value bytes), and the value is lent as a view instead of copied.
//
// Thread-compatible: the caller serializes every call (DbState holds its mutex). A view returned
// by Find is valid until the next call that modifies the cache (Put, Erase, Clear, destruction).

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace veeduria::producers::internal {

class StateCache {
 public:
  // What Find returns: not cached; cached as absent (a remembered miss); or a lent value.
  struct Lookup {
    bool cached = false;
    bool present = false;
    std::string_view value;  // REQUIRES: valid only until the next modification of the cache
  };

  // At most `max_entries` entries (rounded up to a power of two); the table starts small and
  // doubles as it fills, and Put clears the cache when it is full — crude, but bounded and always
  // correct, since the database holds every record.
  explicit StateCache(size_t max_entries) {
    size_t cap = 16;
    while (cap < 2 * max_entries) cap <<= 1;  // load factor at most 1/2
    max_entries_ = cap / 2;
    Allocate(std::min(cap, kFirstSlots));
  }
  ~StateCache() {
    Clear();
    std::free(slots_);
  }
  StateCache(const StateCache&) = delete;
  StateCache& operator=(const StateCache&) = delete;

  Lookup Find(std::string_view key) const {
    const uint64_t h = HashOf(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.entry) return {};
      if (s.hash == h && s.entry->Key() == key)
        return {true, s.entry->present, s.entry->present ? s.entry->Value() : std::string_view()};
    }
  }

  // Remembers `value` (nullopt: a miss) for `key`, replacing what was cached; returns what a
  // Find of `key` would now return.
  Lookup Put(std::string_view key, std::optional<std::string_view> value) {
    const uint64_t h = HashOf(key);
    Entry* e = Entry::Make(key, value);
    const Lookup out{true, e->present, e->present ? e->Value() : std::string_view()};
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.entry) {
        if (size_ >= max_entries_) {
          Clear();
          ++clears_;
        } else if (2 * (size_ + 1) > mask_ + 1) {
          Grow();
        } else {
          s = Slot{h, e};
          ++size_;
          return out;
        }
        InsertIntoEmpty(e, h);
        return out;
      }
      if (s.hash == h && s.entry->Key() == key) {
        std::free(s.entry);
        s.entry = e;
        return out;
      }
    }
  }

  // Forgets `key` (a later Find is not cached).
  void Erase(std::string_view key) {
    const uint64_t h = HashOf(key);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.entry) return;
      if (s.hash == h && s.entry->Key() == key) break;
    }
    std::free(slots_[i].entry);
    slots_[i] = Slot{};
    --size_;
    // Backward-shift deletion: move up every later entry of the run that may sit at i.
    for (size_t j = (i + 1) & mask_; slots_[j].entry; j = (j + 1) & mask_) {
      const size_t home = slots_[j].hash & mask_;
      // Entry j may move to i when its home is not in the cyclic interval (i, j].
      const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      slots_[j] = Slot{};
      i = j;
    }
  }

  void Clear() {
    for (size_t i = 0; i <= mask_; ++i) {
      std::free(slots_[i].entry);
      slots_[i] = Slot{};
    }
    size_ = 0;
  }

  size_t size() const { return size_; }
  size_t max_entries() const { return max_entries_; }
  // How many times Put found the cache full and cleared it.
  uint64_t clears() const { return clears_; }

  // FNV-1a over 8-byte words, then a murmur3 finalizer: keys are short ASCII paths.
  static uint64_t HashOf(std::string_view key) {
    uint64_t h = 0xcbf29ce484222325ull ^ key.size();
    size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, key.data() + i, 8);
      h = (h ^ w) * 0x100000001b3ull;
    }
    uint64_t tail = 0;
    if (i < key.size()) std::memcpy(&tail, key.data() + i, key.size() - i);
    h = (h ^ tail) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
  }

 private:
  struct Entry {
    uint32_t key_len;
    uint32_t value_len;
    bool present;
    char* Data() { return reinterpret_cast<char*>(this + 1); }
    const char* Data() const { return reinterpret_cast<const char*>(this + 1); }
    std::string_view Key() const { return {Data(), key_len}; }
    std::string_view Value() const { return {Data() + key_len, value_len}; }
    static Entry* Make(std::string_view key, std::optional<std::string_view> value) {
      const size_t vlen = value ? value->size() : 0;
      auto* e = static_cast<Entry*>(std::malloc(sizeof(Entry) + key.size() + vlen));
      if (!e) std::abort();
      e->key_len = static_cast<uint32_t>(key.size());
      e->value_len = static_cast<uint32_t>(vlen);
      e->present = value.has_value();
      std::memcpy(e->Data(), key.data(), key.size());
      if (vlen) std::memcpy(e->Data() + key.size(), value->data(), vlen);
      return e;
    }
  };
  struct Slot {
    uint64_t hash = 0;
    Entry* entry = nullptr;
  };

  // Into a table with room for it and no entry of its key: the entry is already made.
  void InsertIntoEmpty(Entry* e, uint64_t h) {
    size_t i = h & mask_;
    while (slots_[i].entry) i = (i + 1) & mask_;
    slots_[i] = Slot{h, e};
    ++size_;
  }
  // An empty table of `cap` slots. The slots are probed at random: on 2 MiB pages (transparent
  // huge pages, where the kernel grants them) a probe costs one cache miss instead of a TLB walk
  // and a miss.
  void Allocate(size_t cap) {
    const size_t bytes = std::max<size_t>(cap * sizeof(Slot), kHugePage);
    slots_ = static_cast<Slot*>(std::aligned_alloc(kHugePage, bytes));
    if (!slots_) std::abort();
    madvise(slots_, bytes, MADV_HUGEPAGE);
    for (size_t i = 0; i < cap; ++i) slots_[i] = Slot{};
    mask_ = cap - 1;
  }
  // Twice the slots, the entries moved by their stored hashes.
  void Grow() {
    Slot* old = slots_;
    const size_t old_cap = mask_ + 1;
    Allocate(2 * old_cap);
    size_ = 0;
    for (size_t i = 0; i < old_cap; ++i)
      if (old[i].entry) InsertIntoEmpty(old[i].entry, old[i].hash);
    std::free(old);
  }

  static constexpr size_t kHugePage = 2 << 20;
  static constexpr size_t kFirstSlots = kHugePage / sizeof(Slot);  // one huge page
  Slot* slots_ = nullptr;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t max_entries_ = 0;
  uint64_t clears_ = 0;
};

// A set of 64-bit key hashes (open addressing): which keys may exist, with false positives only
// when two keys' hashes collide. Thread-compatible.
class HashSet {
 public:
  explicit HashSet(size_t max_entries) : max_entries_(max_entries) {}
  // False, adding nothing, when the set would have to grow although it holds max_entries or more
  // (it grows in powers of two, so it may hold up to twice max_entries).
  bool Insert(uint64_t h) {
    if (h == 0) h = 1;  // 0 marks an empty slot
    if (2 * (size_ + 1) > slots_.size()) {
      if (size_ >= max_entries_) return false;
      Grow();
    }
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i] == h) return true;
      if (slots_[i] == 0) {
        slots_[i] = h;
        ++size_;
        return true;
      }
    }
  }
  bool Contains(uint64_t h) const {
    if (h == 0) h = 1;
    if (slots_.empty()) return false;
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i] == h) return true;
      if (slots_[i] == 0) return false;
    }
  }
  size_t size() const { return size_; }

 private:
  void Grow() {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(std::max<size_t>(64, 2 * old.size()), 0);
    size_ = 0;
    for (uint64_t h : old)
      if (h) Insert(h);
  }
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
  size_t max_entries_;
};

}  // namespace veeduria::producers::internal
