#pragma once
// What queries read: the rows of every projection, as of now or as of a past instant.

#include <memory>
#include <string>
#include <vector>

#include "veeduria/events/time.h"
#include "veeduria/projections/rows.h"
#include "veeduria/projections/store.h"

namespace veeduria::projections {

class View {
 public:
  virtual ~View() = default;
  virtual const Rows& rows(std::string_view projection) const = 0;
  // The instant the view describes: the --as-of time, or the present. Queries use it for
  // "overdue" and "missing" (a deadline passed before it).
  virtual events::Micros now() const = 0;
  virtual bool as_of() const = 0;
};

// The live projections.
std::unique_ptr<View> LiveView(const ProjectionStore& store, events::Micros now);

// What the ledger knew at `t` (by recorded_at) about the given index keys (entity codes,
// "*", "@<email>"; see IndexKeysOf): the events indexed under them up to `t`, folded in memory
// through a projection the first time rows() asks for it (thread-safe). It reads the audit
// projection's fold index (the events some non-temporal projection uses), never the whole log. A
// temporal projection (progress) is read from its live rows recorded up to `t` instead, and a
// time-indexed one (audit) is handed over live for its queries to read up to `t`, whatever the
// keys: a view that reads only those needs none.
Result<std::unique_ptr<View>> AsOfView(const ProjectionStore& store,
                                       const std::vector<std::string>& index_keys, events::Micros t);

}  // namespace veeduria::projections
