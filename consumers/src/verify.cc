#include "veeduria/consumers/verify.h"

#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "veeduria/events/decide.h"
#include "veeduria/events/render.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::consumers {

namespace s = veeduria::schema;
namespace merkle = events::merkle;

namespace {

// Computed for each event apart from the others.
struct Hashed {
  bool valid = false;   // the bytes are a valid event
  events::Hash sha{};   // SHA-256 of them, unless in the trusted prefix
  events::Hash leaf{};  // their Merkle leaf, when the tree needs it
};

// Entries read, in log order; their strings keep their capacity from batch to batch.
struct Batch {
  static constexpr size_t kEvents = 256;  // ~128 KiB: still in the caches when checked
  std::vector<events::LogEntry> entries;
  std::vector<Hashed> hashed;
  size_t size = 0;
  void Add(const events::LogEntry& e) {
    if (size == entries.size()) {
      entries.emplace_back();
      hashed.emplace_back();
    }
    events::LogEntry& to = entries[size++];
    to.position = e.position;
    to.hash = e.hash;
    to.bytes.assign(e.bytes);
  }
};

// A thread that runs `fn` on one batch at a time: Start hands it one, Wait returns once it is done.
class Hasher {
 public:
  explicit Hasher(std::function<void(Batch*)> fn) : fn_(std::move(fn)), thread_([this] { Run(); }) {}
  ~Hasher() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // REQUIRES: Wait() since the last Start.
  void Start(Batch* b) {
    {
      std::lock_guard<std::mutex> l(mu_);
      batch_ = b;
    }
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return batch_ == nullptr; });
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stopping_ || batch_ != nullptr; });
      if (batch_ == nullptr) return;
      Batch* b = batch_;
      l.unlock();
      fn_(b);
      l.lock();
      batch_ = nullptr;
      cv_.notify_all();
    }
  }
  std::function<void(Batch*)> fn_;
  std::mutex mu_;
  std::condition_variable cv_;
  Batch* batch_ = nullptr;  // GUARDED_BY(mu_): being hashed
  bool stopping_ = false;   // GUARDED_BY(mu_)
  std::thread thread_;      // last: it starts once the rest is built
};

}  // namespace

Result<VerifyReport> VerifyLog(const events::LogReader& log, const VerifyOptions& options) {
  VerifyReport report;
  struct Head {
    uint64_t seq = 0;
    events::Hash hash{};
  };
  std::unordered_map<std::string, Head> heads;
  merkle::Frontier tree;  // recomputed from the bytes walked, never read from the ledger's tree
  const bool from_trusted = options.from_checkpoint.has_value();
  const uint64_t trusted = options.from_checkpoint.value_or(0);
  uint64_t expected_lsn = 0;
  Status error;
  auto fail = [&](const events::LogEntry& e, std::string stream, uint64_t seq, std::string problem,
                  bool at_checkpoint = false) {
    report.ok = false;
    report.position = e.position;
    report.stream = std::move(stream);
    report.stream_seq = seq;
    report.at_checkpoint = at_checkpoint;
    report.problem = std::move(problem);
    return false;
  };
  auto stream_of = [](const s::Envelope* env) {
    return env->stream() ? env->stream()->str() : std::string();
  };

  // A Checkpoint's size, root (against the tree of every event before it) and signature.
  auto check_checkpoint = [&](const events::LogEntry& e, const s::Event* ev, const std::string& stream,
                              uint64_t seq) {
    const auto* cp = ev->payload_as_Checkpoint();
    if (!cp->root_hash()) return fail(e, stream, seq, "checkpoint without a root_hash", true);
    if (cp->tree_size() != tree.size())
      return fail(e, stream, seq,
                  "checkpoint tree_size " + std::to_string(cp->tree_size()) + " but " +
                      std::to_string(tree.size()) +
                      " events precede it (a checkpoint covers every event before it)",
                  true);
    events::Hash root;
    std::memcpy(root.data(), cp->root_hash()->b()->data(), 32);
    const events::Hash want = tree.Root();
    if (root != want)
      return fail(
          e, stream, seq,
          "checkpoint root_hash " + events::ToHex(root) + " is not the Merkle root of the " +
              std::to_string(tree.size()) +
              " events before it (recomputed from the log: " + events::ToHex(want) +
              "): an event before it was changed, removed, added or reordered, or the root was edited",
          true);
    const std::string key_id = cp->key_id() ? cp->key_id()->str() : "";
    if (options.verify_signature) {
      const std::string_view sig =
          cp->signature() ? std::string_view(reinterpret_cast<const char*>(cp->signature()->data()),
                                             cp->signature()->size())
                          : std::string_view();
      if (!options.verify_signature(merkle::CheckpointSignedBytes(cp->tree_size(), root), sig, key_id))
        return fail(e, stream, seq,
                    "checkpoint signature does not verify with key '" + key_id +
                        "' (the signature, the root, the size or the key is wrong)",
                    true);
      ++report.signatures_checked;
    } else {
      ++report.signatures_unchecked;
    }
    ++report.checkpoints;
    report.last_checkpoint_lsn = e.position.lsn;
    return true;
  };

  // Checks one event, in log order, given what was computed for it apart (Hashed).
  auto check = [&](const events::LogEntry& e, const Hashed& x) {
    if (from_trusted && e.position.lsn <= trusted) {
      // The trusted prefix: read, not hashed (except for the leaves when no stored edge is given).
      if (e.position.lsn != expected_lsn || !x.valid)
        return fail(e, "", 0,
                    "the log before the trusted checkpoint is unreadable or has a gap at lsn " +
                        std::to_string(expected_lsn));
      const s::Event* ev = s::GetEvent(e.bytes.data());
      const std::string stream = stream_of(ev->envelope());
      if (e.position.lsn == trusted) {
        if (ev->payload_type() != s::Payload::Checkpoint ||
            ev->payload_as_Checkpoint()->tree_size() != trusted)
          return fail(e, stream, ev->envelope()->stream_seq(),
                      "lsn " + std::to_string(trusted) + " is not a checkpoint covering the events before it",
                      true);
        if (options.frontier_at) {
          auto f = options.frontier_at(trusted);
          if (!f.ok()) {
            error = f.status();
            return false;
          }
          tree = std::move(*f);
        }
        if (!check_checkpoint(e, ev, stream, ev->envelope()->stream_seq())) {
          report.problem = "the trusted " + report.problem;
          return false;
        }
        --report.checkpoints;  // trusted, not checked
      } else if (!options.frontier_at) {
        tree.Append(x.leaf);
      }
      Head& h = heads[stream];
      h.seq = ev->envelope()->stream_seq();
      h.hash = e.hash;
      if (e.position.lsn == trusted) tree.Append(x.leaf);
      ++report.skipped;
      ++expected_lsn;
      return true;
    }
    if (!x.valid) return fail(e, "", 0, "bytes are not a valid event");
    if (x.sha != e.hash) {
      const auto* ev = s::GetEvent(e.bytes.data());
      return fail(e, ev->envelope()->stream()->str(), ev->envelope()->stream_seq(),
                  "stored hash is not SHA-256 of the event's bytes (the bytes or the hash were changed)");
    }
    const s::Event* ev = s::GetEvent(e.bytes.data());
    const auto* env = ev->envelope();
    const std::string stream = stream_of(env);
    auto [it, fresh] = heads.try_emplace(stream);
    if (fresh) it->second.hash = events::GenesisHash(stream);
    Head& h = it->second;
    if (env->stream_seq() != h.seq + 1)
      return fail(e, stream, env->stream_seq(),
                  "stream_seq " + std::to_string(env->stream_seq()) + " follows " + std::to_string(h.seq) +
                      " (an event is missing, repeated or out of order)");
    if (!env->prev_hash() || std::memcmp(env->prev_hash()->b()->data(), h.hash.data(), 32) != 0)
      return fail(e, stream, env->stream_seq(),
                  "prev_hash is not the hash of the stream's previous event (the chain is broken)");
    if (e.position.lsn != expected_lsn)
      return fail(e, stream, env->stream_seq(),
                  "lsn " + std::to_string(e.position.lsn) + " where " + std::to_string(expected_lsn) +
                      " was expected (an event is missing from the log's order)");
    if (ev->payload_type() == s::Payload::Checkpoint && !check_checkpoint(e, ev, stream, env->stream_seq()))
      return false;
    h.seq = env->stream_seq();
    h.hash = e.hash;
    tree.Append(x.leaf);
    ++expected_lsn;
    ++report.events;
    return true;
  };

  // What each event needs apart from the others (its bytes verified, their SHA-256 and Merkle
  // leaf: two fifths of the walk's CPU) is computed on a second thread for one batch while the
  // next is read; the checks that follow the chains and the tree run in log order after it.
  auto hash_batch = [&](Batch* b) {
    for (size_t i = 0; i < b->size; ++i) {
      const events::LogEntry& e = b->entries[i];
      Hashed& x = b->hashed[i];
      x.valid = events::VerifyEventBytes(e.bytes);
      if (!x.valid) continue;
      const bool prefix = from_trusted && e.position.lsn <= trusted;
      if (!prefix) x.sha = events::Sha256(e.bytes);
      if (!prefix || !options.frontier_at || e.position.lsn == trusted) x.leaf = merkle::LeafHash(e.bytes);
    }
  };
  auto check_batch = [&](const Batch& b) {
    for (size_t i = 0; i < b.size; ++i)
      if (!check(b.entries[i], b.hashed[i])) return false;
    return true;
  };
  Batch batches[2];
  Batch* filling = &batches[0];
  Batch* hashed = &batches[1];
  Hasher hasher(hash_batch);
  // Hands the batch read to the second thread and checks the one it hashed before.
  auto next_batch = [&] {
    hasher.Wait();
    std::swap(filling, hashed);
    hasher.Start(hashed);
    const bool go_on = check_batch(*filling);
    filling->size = 0;
    return go_on;
  };
  bool checked = true;  // false once a check fails: what was read after it is not checked
  bool stopped = false;
  Status st = log.ScanLog(0, [&](const events::LogEntry& e) {
    if (filling->size == 0 && options.stop && options.stop->load(std::memory_order_relaxed)) {
      stopped = true;
      return false;
    }
    filling->Add(e);
    if (filling->size < Batch::kEvents) return true;
    return checked = next_batch();
  });
  if (st.ok() && checked && !stopped && next_batch()) {  // the last batch read
    hasher.Wait();
    check_batch(*hashed);
  }
  hasher.Wait();
  VEEDURIA_RETURN_IF_ERROR(st);
  VEEDURIA_RETURN_IF_ERROR(error);
  if (stopped && report.ok)
    return Status::Unavailable("verification stopped after " + std::to_string(report.events) +
                               " events, before the end of the log");
  if (report.ok && from_trusted && report.skipped <= trusted) {
    report.ok = false;
    report.position.lsn = trusted;
    report.at_checkpoint = true;
    report.problem = "the log has no event at lsn " + std::to_string(trusted) + " (the trusted checkpoint)";
  }
  report.streams = heads.size();
  return report;
}

}  // namespace veeduria::consumers
