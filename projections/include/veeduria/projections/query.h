#pragma once
// The queries of DESIGN §2.6 over a View (live or as-of). Each returns a Table; the CLI and
// the HTTP API print it as a table, JSON or CSV.

#include <optional>
#include <string>
#include <vector>

#include "veeduria/events/status.h"
#include "veeduria/events/time.h"
#include "veeduria/projections/table.h"
#include "veeduria/projections/view.h"

namespace veeduria::projections {

// Semáforo bands (configuration; DESIGN §2.6 defaults): below `bajo` is Crítico, then Bajo,
// Medio, Satisfactorio, and from `sobresaliente` on Sobresaliente.
struct SemaforoBands {
  double bajo = 40, medio = 60, satisfactorio = 70, sobresaliente = 80;
};
std::string Semaforo(double percent, const SemaforoBands& bands);

struct AuditParams {
  std::string entity;  // an entity (or "*", "@<email>"); empty: every entity, given an actor
  std::string object;  // "IP-155" (any plan), "<plan>/IP-155", "report:KPT-2023/Q2", "user:…", …
  std::string actor;   // one of entity and actor is required
  std::string type;    // event type, e.g. "ProgressReported"
  std::optional<events::Micros> from, to;
};
// One line per event concerning the entity: time, actor, role, type, object, what changed
// (before → after), event id, log position. Without an entity, the actor's events across
// entities, each with the entity it concerns.
Result<Table> AuditQuery(const View& view, const AuditParams& params);

struct ProgressParams {
  std::string entity, department;  // one of entity, department, national
  bool national = false;
  std::string campaign, milestone;  // the cut; default: each goal's latest report
  SemaforoBands bands;
};
Result<Table> ProgressQuery(const View& view, const ProgressParams& params);

struct ReviewsParams {
  std::string entity, department;  // one of them
  std::string campaign, milestone;
  std::string status;  // "", "open" or "overdue"
};
Result<Table> ReviewsQuery(const View& view, const ReviewsParams& params);

struct ComplianceParams {
  std::string campaign, milestone;  // required
  std::string department;
};
Result<Table> ComplianceQuery(const View& view, const ComplianceParams& params);

struct UsersParams {
  std::string entity;  // required
};
Result<Table> UsersQuery(const View& view, const UsersParams& params);

// The index keys an as-of view needs for a query scope: the entity itself, or every entity of
// a department, or every entity (national), plus "*" (campaigns, catalogue); for users, the
// "@<email>" keys of everyone who led or held a role in the entity.
std::vector<std::string> AsOfKeysForEntity(const ProjectionStore& store, const std::string& entity,
                                           bool with_users);
std::vector<std::string> AsOfKeysForDepartment(const ProjectionStore& store, const std::string& department);
std::vector<std::string> AsOfKeysNational(const ProjectionStore& store);

}  // namespace veeduria::projections
