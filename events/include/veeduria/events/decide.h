#pragma once
// decide(state, command) -> events | rejection, and evolve(state, event).
//
// Decide is a pure, deterministic function of the decider state, the command and the
// ledger clock: the same inputs give byte-identical events (event ids derive from the
// command fingerprint and the event index). It performs, in this order: the duplicate
// check by command_id, the clock rules, then the command's authorization and rules
// (DESIGN §2.4). A refused command yields one CommandRejected event, so every attempt is
// recorded; an `invalid` outcome (malformed) and a `duplicate` yield no event.
//
// Evolve is the only writer of the state: the caller applies each sealed event of a
// decision, in order, before deciding the next command.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/command.h"
#include "veeduria/events/sha256.h"
#include "veeduria/events/state.h"
#include "veeduria/events/time.h"

namespace veeduria::events {

inline constexpr std::string_view kDirectoryStream = "directory";
inline constexpr uint16_t kSchemaVersion = 1;

// One event as stored: its canonical bytes (a FlatBuffers `Event`) and SHA-256 of them.
struct SealedEvent {
  std::string stream;
  uint64_t stream_seq = 0;
  std::string event_id;
  std::string type;  // "GoalDefined"
  std::string bytes;
  Hash hash{};
};

enum class Outcome { kAccepted, kRejected, kDuplicate, kInvalid };
const char* OutcomeName(Outcome o);

struct Decision {
  Outcome outcome = Outcome::kInvalid;
  std::string reason;                  // reason code; empty when accepted
  std::string field;                   // the field at fault, when one is
  std::string message;                 // names the field and the value
  std::vector<SealedEvent> events;     // the new events (none for duplicate/invalid)
  std::vector<std::string> event_ids;  // new events, or for a duplicate the original ones
  std::vector<std::string> flags;      // late, warnings… over all events of the decision
  int days_late = 0;
};

// `now` is the ledger's clock for this command in a system-clock ledger (ignored in a
// simulated ledger, which takes the command's `at`). `partitions` is recorded by init.
Decision Decide(const StateStore& state, const Command& command, Micros now);

// Applies one event to the decider state. REQUIRES: events of a stream in stream_seq order.
// Returns false for bytes that are not a valid event.
bool Evolve(StateStore& state, const SealedEvent& event);

// Reads the envelope fields the log needs from stored bytes (REQUIRES: verified bytes).
SealedEvent DescribeEvent(std::string_view bytes, const Hash& hash);

// A Checkpoint event (DESIGN §2.7) sealed on the directory stream, chained after its head:
// the Merkle root (events/merkle.h) of the log's first `tree_size` events and the Ed25519
// signature of merkle::CheckpointSignedBytes(tree_size, root) by `key_id`. Its actor is
// "system" with role platform, scope "national"; its event id derives from tree_size and root.
// Apply it with Evolve like any event (it records the latest checkpoint, see LastCheckpoint).
SealedEvent SealCheckpoint(const StateStore& state, uint64_t tree_size, const Hash& root, std::string key_id,
                           std::string signature, Micros at);

// The latest checkpoint the state has seen (tree_size 0 and at 0 when none).
struct CheckpointInfo {
  uint64_t tree_size = 0;
  Hash root{};
  Micros at = 0;
  bool present = false;
};
CheckpointInfo ReadLastCheckpoint(const StateStore& state);

// Whether a command's events (or its rejection) go to the directory stream rather than its
// entity's (answer_adjustment goes to the stream of the request it answers). The Kafka backend
// routes commands by this.
bool WritesDirectoryStream(std::string_view command_name);

// Every reason code decide() can return, for documentation and tests.
const std::vector<std::string>& ReasonCodes();

// The clock mode and last recorded time of an initialized ledger (mode "" if none).
struct LedgerMeta {
  std::string clock;
  Micros last_at = 0;
  uint32_t partitions = 0;
};
LedgerMeta ReadLedgerMeta(const StateStore& state);

}  // namespace veeduria::events
