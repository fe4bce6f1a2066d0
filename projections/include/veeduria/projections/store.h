#pragma once
// The projection database DATA/projections: one column family per projection, plus "meta"
// with each projection's version, the next offset of each topic partition it has applied and
// the head (sequence, hash) of each stream it has seen.
//
// Apply() checks each stream's sequence and hash chain (an exact re-delivery of an event already
// applied, at the head or below it, is skipped; a gap, or a different event at an applied
// sequence, stops with kCorruption naming both hashes) and writes the rows of every projection and
// their new offsets in ONE WriteBatch, so a crash at any point loses nothing and applies nothing
// twice. Projections have their own offsets, so one can be rebuilt while the others stay.
// "meta" also holds the chain index chain/<stream>/<seq> -> hash that the check below a head
// reads (shared by the projections; dropped only with all of them).
//
// Bulk mode (StoreOptions::bulk_events, for rebuilds and projectors far behind): the folds keep
// their rows in memory from batch to batch (no read of the database for a row folded before, and
// a row updated by many events is written once), and every bulk_events events, and at Flush(),
// they are written as sorted runs (SST files), rows with offsets, heads and chain entries,
// ingested in one atomic step. Every bulk_events events the run is written on a background thread
// while the next batches fold over its rows (at most one such run; Flush() waits for it). What
// was applied since the last run was ingested is neither durable nor visible to readers until
// then; a crash, a fold error or closing the store without Flush() drops what no run holds yet
// (a run being written is ingested first), and the next catch-up resumes from the stored offsets.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "veeduria/events/log.h"
#include "veeduria/events/state.h"
#include "veeduria/projections/rows.h"

namespace veeduria::projections {

struct StoreOptions {
  // 0 (default): every Apply commits its batch. N > 0: bulk mode, a sorted run every N events.
  // The rows held meanwhile are bounded by 2N, a run being written and the next being folded
  // (about 1–2 KB per event with the audit index).
  uint64_t bulk_events = 0;
  // A run's rows of a projection are cut into one file per core, written at once, when each holds
  // at least this many bytes of keys and values; tests make it small.
  size_t slice_bytes = size_t{64} << 20;
  // Tests only (null by default): called on the thread that writes a bulk run (`run` counts the
  // runs of this store from 0) once its files are written, before they are ingested; a failure
  // fails the run as an I/O error would.
  std::function<Status(uint64_t run)> before_ingest;
  // Tests only (null by default): called on the thread of the merge a rebuild starts (Flush)
  // before it merges; a failure ends the merge there (the families keep their sorted runs, the
  // same rows) and is what FinishMerge returns.
  std::function<Status()> before_merge;
};
// What `veeduria rebuild` and the benchmarks use: ~1–2 GB held at most (two runs: one being
// written, one being folded).
inline constexpr uint64_t kRebuildBulkEvents = 1 << 19;

class ProjectionStore : public events::ProjectionTarget {
 public:
  static Result<std::unique_ptr<ProjectionStore>> Open(const std::string& data_dir,
                                                       const StoreOptions& options = {});
  // Opens DATA/projections for reading only, as a RocksDB secondary instance (its own files in
  // a temporary directory, removed on close), so it works while another process (a running
  // `serve --kafka`) writes: the secondary tails the writer's MANIFEST and WAL and keeps every
  // file open, and sees each Apply whole (one WriteBatch). A snapshot as of the open; no
  // Apply/Reset. kFailedPrecondition when a projection's version is not this binary's.
  static Result<std::unique_ptr<ProjectionStore>> OpenSecondary(const std::string& data_dir);
  ~ProjectionStore() override;

  uint64_t NextOffset(std::string_view topic, uint32_t partition) const override;
  Status Apply(const std::vector<events::LogEntry>& entries) override;
  // Bulk mode: writes what Apply holds in memory (a no-op otherwise, or when nothing is held),
  // then, when runs were written, starts merging the time-indexed projections' families (the audit
  // index) into one sorted run in the background and compacts the temporal ones into one.
  Status Flush() override;
  // True while that background merge runs. Closing the store stops it, leaving the families in
  // more sorted runs (the same rows).
  bool merging() const;
  // Waits for the background merge, if one was started, and says how it ended.
  Status FinishMerge();
  // The projections whose families hold runs of a bulk catch-up that no merge has merged: its
  // process ended first (a rebuild stopped while it merged, or while it caught up). Left so, a
  // family stays in as many sorted runs as the catch-up's levels, each a file its queries seek
  // (nationally the audit query's p99 ~1.4 ms instead of ~0.6).
  std::vector<std::string> PendingMerges() const;
  // Starts merging those in the background (merging(), FinishMerge()), and returns them: a store
  // that serves queries for long calls it once opened. Until then (Open holds them), RocksDB does
  // not compact those families, unless an Apply outside bulk mode comes first and lets them go.
  std::vector<std::string> ResumeMerge();
  // Turns bulk mode on (a run every n events) or off (0), writing first what it holds; e.g. after
  // Reset, for the replay that follows.
  Status SetBulkEvents(uint64_t n);

  // Read access to one projection's rows. REQUIRES: a known projection name.
  const Rows& rows(std::string_view projection) const;

  // Drops the rows, offsets and stream heads of `projection` (every projection when empty);
  // the next catch-up replays the log into it.
  Status Reset(std::string_view projection);
  // SHA-256 of each projection's rows (keys and values, in key order; not offsets, nor the log
  // positions a row records: see Projection::DigestValue).
  std::vector<std::pair<std::string, std::string>> Digests() const;
  // Projections dropped on Open because their stored version differed from the code's.
  const std::vector<std::string>& reset_on_open() const { return reset_on_open_; }
  // A RocksDB integer property summed over the column families (see EmbeddedLedger); 0 if
  // unknown. For metrics; thread-safe.
  uint64_t DbIntProperty(const std::string& name) const;
  // Events applied in this process (for progress reports).
  uint64_t applied() const { return applied_; }

 private:
  struct Impl;
  explicit ProjectionStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> reset_on_open_;
  uint64_t applied_ = 0;
};

}  // namespace veeduria::projections
