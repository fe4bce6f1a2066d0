#pragma once
// The embedded ledger: the log, the decider state and the append path on one RocksDB
// database (DATA/log).
//
// Layout (column families):
//   log    (topic byte, partition u32 BE, offset u64 BE) -> lsn u64 BE | sha256 | event bytes
//   order  lsn u64 BE -> (topic byte, partition, offset): the log-wide append order
//   state  the decider state (events/state.h), written in the same batch as its events
//   default  "next/<topic>/<partition>" and "next_lsn" counters
//
// Append() is thread-safe. Concurrent callers are group-committed (leveldb's writer queue):
// the first waiting caller decides every queued command in order against an overlay of the
// state and writes all their events, state and counters in ONE WriteBatch with sync=true,
// so a command's events are durable and atomic before any outcome is returned, and a killed
// process never leaves half a command.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "veeduria/events/command.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/log.h"
#include "veeduria/events/state.h"
#include "veeduria/events/status.h"

namespace veeduria::producers {

class EmbeddedLedger : public events::LogReader {
 public:
  // Opens (creating if missing) the ledger under `data_dir`/log.
  static Result<std::unique_ptr<EmbeddedLedger>> Open(const std::string& data_dir);
  ~EmbeddedLedger() override;

  // Decides and appends `commands` in order. Returns one Decision per command, or an I/O
  // error (then nothing of this call was written).
  Result<std::vector<events::Decision>> Append(const std::vector<events::Command>& commands);

  // The clock of a system-clock ledger (µs since epoch); tests inject one.
  void SetClockForTesting(std::function<events::Micros()> clock);

  const events::StateStore& state() const;
  events::LedgerMeta meta() const { return events::ReadLedgerMeta(state()); }
  uint64_t end_lsn() const;

  // Drops the decider state and rebuilds it by evolving the whole log.
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

}  // namespace veeduria::producers
