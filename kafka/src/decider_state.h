#pragma once
// The deciders' local database (DATA/kafka-decider): per commands partition p, the decider
// state (events/state.h) as the fold of <prefix>directory and <prefix>events partition p, the
// head (seq, hash) of every stream it has evolved, and the offsets it reflects:
//   's' p:u32 key          -> state value
//   'h' p:u32 stream       -> seq u64 BE | sha256
//   'o' p:u32 ('e'|'d'|'c') -> next offset u64 BE (events p, directory, commands p)
//   "F"                     -> events::kStateFormat u64 BE; on a mismatch Open empties the
//                              database, and the catch-up rebuilds every partition from the log
// Written only in whole batches (Commit), after the transaction that produced them committed or
// after a catch-up, so a crash leaves the previous consistent state.

#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "veeduria/events/decide.h"
#include "veeduria/events/state.h"
#include "veeduria/events/status.h"

namespace veeduria::kafka::internal {

class DeciderDb {
 public:
  static Result<std::unique_ptr<DeciderDb>> Open(const std::string& path);
  rocksdb::DB* db() { return db_.get(); }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

// One partition's state, read from the database, with pending writes in an overlay.
class PartitionState {
 public:
  PartitionState(DeciderDb* db, uint32_t partition);
  uint32_t partition() const { return partition_; }

  // The state to decide against: the stored one plus pending writes.
  events::OverlayState& overlay() { return overlay_; }
  uint64_t offset(char which) const;  // 'e' events, 'd' directory, 'c' commands (pending included)
  void set_offset(char which, uint64_t next) { offsets_[which] = next; }
  std::optional<std::pair<uint64_t, events::Hash>> head(const std::string& stream) const;
  void set_head(const std::string& stream, uint64_t seq, const events::Hash& h) { heads_[stream] = {seq, h}; }

  // Applies one event whose chain was checked: evolve, head. Returns false on unreadable bytes.
  bool Evolve(const events::SealedEvent& se);
  // Checks an event read from the log against the heads: +1 apply, 0 an exact re-delivery (skip),
  // an error on a gap or a fork. REQUIRES: verified bytes.
  Result<bool> ShouldApply(const std::string& bytes, const events::Hash& hash,
                           events::SealedEvent* out) const;

  Status Commit();  // writes pending state, heads and offsets in one batch
  void Discard();   // drops pending writes (an aborted transaction)

 private:
  class Stored : public events::StateStore {
   public:
    Stored(DeciderDb* db, std::string prefix) : db_(db), prefix_(std::move(prefix)) {}
    std::optional<std::string> Get(std::string_view key) const override;
    void Put(std::string_view, std::string) override { std::abort(); }
    void Delete(std::string_view) override { std::abort(); }

   private:
    DeciderDb* db_;
    std::string prefix_;
  };
  std::string Key(char kind, std::string_view rest) const;

  DeciderDb* db_;
  uint32_t partition_;
  Stored stored_;
  events::OverlayState overlay_;
  std::map<char, uint64_t> offsets_;
  std::map<std::string, std::pair<uint64_t, events::Hash>> heads_;
};

// Reads topic/kafka_partition from the state's offset `which` to its end and evolves every
// complete decision (headers vd-cmd, vd-i, vd-n) into `state`; see node.h. Counts evolved events.
// A decision of this partition's commands (headers vd-cpart, vd-coff) also moves the commands
// offset 'c' past its command: a re-delivered command message is then known as decided, even
// one whose outcome the state does not keep (a rejection for a reused command_id).
Status CatchUpTopic(rd_kafka_t* reader, const std::string& topic, int32_t kafka_partition, char which,
                    PartitionState& state, int timeout_ms, uint64_t* evolved);

}  // namespace veeduria::kafka::internal
