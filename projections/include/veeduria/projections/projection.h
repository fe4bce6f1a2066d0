#pragma once
// A projection (read model): a deterministic fold of events into rows of its own.
//
// Folds must not depend on how streams interleave (each stream arrives in stream_seq order,
// streams in any order) so that the embedded log (one order) and Kafka (per-partition order)
// give the same rows. Whatever depends on several streams (rollups, "missing" reports) is
// computed at query time.
//
// Rows are JSON records (events::ReadRecord/WriteRecord) under keys each projection documents.

#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/log.h"
#include "veeduria/events/state.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::projections {

struct EventRef {
  const schema::Event* event;   // verified
  const schema::Envelope* env;  // never null
  std::string_view bytes;
  const events::Hash& hash;
  const events::LogPosition& position;
};

class Projection {
 public:
  virtual ~Projection() = default;
  virtual std::string_view name() const = 0;
  // Bump when the fold or the row layout changes: a stored projection of another version is
  // dropped and rebuilt from the log when the store opens.
  virtual int version() const = 0;
  virtual void Apply(const EventRef& e, events::StateStore& rows) const = 0;
  // False when Apply leaves every row as it is for this event. An as-of view folds only the
  // events some non-temporal projection uses, so the audit index keeps only those in its
  // per-entity fold index (audit.cc); a projection that uses every event keeps the default.
  // A projection that starts using more events bumps the audit projection's version too: the
  // stored fold index must be rebuilt to hold them (tests/projections/view_test.cc pins, with that
  // version, the payload types each folded projection uses always, sometimes or never).
  virtual bool Uses(const EventRef&) const { return true; }
  // True when Apply only writes `rows` and never reads them: the store then hands it an
  // append-only sink (whose Get aborts) instead of an overlay over the stored rows.
  virtual bool writes_only() const { return false; }
  // True when every row is a version, never overwritten: <base key>'\0'<recorded_at hex16>
  // <stream_seq hex16> of the event that wrote it. The rows as of T are then the live rows
  // recorded up to T: an as-of view reads them instead of folding events, whatever its index keys.
  virtual bool temporal() const { return false; }
  // True when every row is keyed by its event's time key, and the projection's queries bound
  // what they read by the view's instant themselves (the audit index): an as-of view hands them
  // the live rows instead of folding events.
  virtual bool time_indexed() const { return false; }
  // What of a row the digest covers (ProjectionStore::Digests): its content, not the log
  // positions it records, which differ between the embedded log and Kafka (DESIGN §2.6).
  virtual std::string DigestValue(std::string_view value) const { return std::string(value); }
};

// progress, audit, reviews, compliance, users, mdm.
const std::vector<const Projection*>& AllProjections();
const Projection* FindProjection(std::string_view name);
// Those an as-of view folds from the audit's index: neither temporal nor time-indexed (reviews,
// compliance, users, mdm).
const std::vector<const Projection*>& FoldedAsOf();

// The keys an event is indexed under for as-of reconstruction and audit: its entity (the
// stream, or the entity a directory event concerns), "*" for ledger-wide facts (campaigns,
// catalogue, national roles) and "@<email>" for events about a user's own account.
std::vector<std::string> IndexKeysOf(const EventRef& e);

// The object an event changes, for audit filters: "<plan>/<goal>", "plan:<plan>",
// "report:<campaign>/<milestone>", "user:<email>", "entity:<code>", "mdm:<vigencia>",
// "campaign:<id>", "command:<name>" (refusals).
std::string ObjectOf(const EventRef& e);

inline std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// Fixed-width hex of a number, so that keys sort numerically.
std::string Hex16(uint64_t v);

}  // namespace veeduria::projections
