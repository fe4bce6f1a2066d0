#pragma once
// The embedded ledger: the log, the decider state and the append path on one RocksDB
// database (DATA/log).
//
// Layout (column families):
//   log    (topic byte, partition u32 BE, offset u64 BE) -> lsn u64 BE | sha256 | event bytes
//   order  lsn u64 BE -> (topic byte, partition, offset): the log-wide append order
//   state  the decider state (events/state.h) of the log's first "state_lsn" events, written
//          after its events, many groups at once (below)
//   default  "next/<topic>/<partition>", "next_lsn", "merkle_size" and "state_lsn" counters
//   merkle (level u8, index u64 BE) -> 32-byte hash: the Merkle tree over the log (events/merkle.h),
//            leaf i = the event at lsn i; every leaf hash (level 0) and every completed perfect
//            subtree node, written once in the same batch as the events that complete them
//
// Append() is thread-safe. Concurrent callers are group-committed (leveldb's writer queue):
// the first waiting caller decides the queued commands in order against an overlay of the
// state and a committing thread writes all their events, order entries, Merkle nodes and counters
// in ONE WriteBatch with sync=true, so a command's events are durable and atomic before any outcome is
// returned, and a killed process never leaves half a command. The next group is decided while one is written
// (pipelined: its decisions read the one before it from memory). A failed write fails its group and every
// append after it, since the memory is then ahead of the database: reopen the ledger.
//
// The decider state is a fold of the log, so it is not written with each group: it is kept in
// memory, and once the written groups' state covers 131,072 events (or 4,096 groups wait) a thread
// of its own merges it into one sorted file and ingests it with "state_lsn" (atomically), while
// appends go on. A clean close writes what is left; after a crash Open evolves the log from
// "state_lsn" to its end.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "veeduria/events/command.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/log.h"
#include "veeduria/events/merkle.h"
#include "veeduria/events/state.h"
#include "veeduria/events/status.h"

namespace veeduria::producers {

class EmbeddedLedger : public events::LogReader {
 public:
  using Hash = events::Hash;
  // Opens (creating if missing) the ledger under `data_dir`/log.
  static Result<std::unique_ptr<EmbeddedLedger>> Open(const std::string& data_dir);
  ~EmbeddedLedger() override;

  // Decides and appends `commands` in order. Returns one Decision per command, or an I/O
  // error (then nothing of this call was written).
  //
  // `queued`, if given, runs once the commands hold their place in the writer queue, before they
  // are decided (under the ledger's lock: it must not call the ledger). A caller whose batches
  // must keep their order lets the next batch enqueue from it instead of waiting for this one to
  // be durable, so that one batch is decided while the one before it is written: OrderedAppender.
  Result<std::vector<events::Decision>> Append(const std::vector<events::Command>& commands,
                                               const std::function<void()>& queued = {});

  // The clock of a system-clock ledger (µs since epoch); tests inject one.
  void SetClockForTesting(std::function<events::Micros()> clock);
  // Runs before each group's write; an error fails that write as the database's would. Tests
  // inject a failing disk with it. REQUIRES: no append in progress.
  void SetBeforeWriteForTesting(std::function<Status()> hook);
  // Writes the decider state every `events` events or `groups` groups instead of 131,072 or 4,096
  // (tests crash between flushes and during them); first waits for a write under way, so what is
  // appended next is written by the new numbers only. REQUIRES: no append in progress.
  void SetStateFlushForTesting(uint64_t events, size_t groups);
  // Clears the decider state's cache as filling it does (a term past its 8M records), which ends
  // its complete mode: later reads look for what it lacks in the unflushed groups, then the
  // database. REQUIRES: no append in progress.
  void ClearStateCacheForTesting();

  const events::StateStore& state() const;
  events::LedgerMeta meta() const { return events::ReadLedgerMeta(state()); }
  uint64_t end_lsn() const;
  // A RocksDB integer property summed over the column families (e.g.
  // "rocksdb.total-sst-files-size", "rocksdb.estimate-pending-compaction-bytes"); 0 if unknown.
  // For metrics (ops/src/service); thread-safe.
  uint64_t DbIntProperty(const std::string& name) const;

  // The Merkle tree over the log: leaves are the events in lsn order (leaf i = the event at
  // lsn i). Any tree size up to end_lsn(); O(log² N) node lookups, never a rescan.
  Result<Hash> RootAt(uint64_t tree_size) const;  // REQUIRES tree_size <= end_lsn()
  Result<std::vector<Hash>> InclusionProof(uint64_t lsn, uint64_t tree_size) const;
  Result<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;
  // The tree's right edge at `tree_size` from the stored nodes (for `verify --from-checkpoint`,
  // which accepts it only if it folds to the trusted checkpoint's root).
  Result<events::merkle::Frontier> FrontierAt(uint64_t tree_size) const;

  // Signs with `signer` (bytes -> 64-byte Ed25519 signature) and appends a Checkpoint event on the
  // directory stream covering every event before it (tree_size = its own lsn); returns it. The
  // signed bytes are merkle::CheckpointSignedBytes(tree_size, root). Serialized with Append.
  using Signer = std::function<std::string(std::string_view)>;
  Result<events::SealedEvent> AppendCheckpoint(const Signer& signer, const std::string& key_id);

  // Periodic checkpoints: after a committed group, when at least `every_events` events (0: never
  // by count) were appended since the last checkpoint, or `every_seconds` (0: never by time) of
  // wall-clock time passed since it (or since this call) and something was appended, a
  // Checkpoint is added at the end of that group's batch. An empty signer disables the policy.
  void SetCheckpointPolicy(uint64_t every_events, double every_seconds, Signer signer, std::string key_id);

  // Drops the decider state and rebuilds it by evolving the whole log, and records that it is in
  // events::kStateFormat. Open does this itself when the stored state is of another format (a
  // ledger written by an older version), so an old state is rebuilt, never misread.
  Status RebuildState();
  // Digest of the decider state (to compare a rebuilt state with the incremental one).
  std::string StateDigest() const;

  // events::LogReader
  uint32_t partitions(std::string_view topic) const override;
  Status ScanLog(uint64_t from_lsn, const std::function<bool(const events::LogEntry&)>& fn) const override;
  Status ScanPartition(std::string_view topic, uint32_t partition, uint64_t from_offset,
                       const std::function<bool(const events::LogEntry&)>& fn) const override;

 private:
  struct Impl;
  explicit EmbeddedLedger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Appends numbered batches (0, 1, 2…, each number once) from any threads in number order: batch
// k enters the ledger's writer queue as soon as batch k-1 holds its place there (Append's
// `queued`), so it is decided while the one before is written. A file's chunks keep its order this
// way (a simulated clock refuses a command earlier than the last). After Stop(why), batches not
// yet queued return `why` without being appended.
class OrderedAppender {
 public:
  explicit OrderedAppender(EmbeddedLedger& ledger) : ledger_(ledger) {}
  Result<std::vector<events::Decision>> Append(size_t k, const std::vector<events::Command>& commands);
  void Stop(Status why);

 private:
  void Next();  // the next batch's turn
  EmbeddedLedger& ledger_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t turn_ = 0;  // GUARDED_BY(mu_): the batch that may enqueue
  Status stopped_;   // GUARDED_BY(mu_)
};

}  // namespace veeduria::producers
