// The query subcommands: audit, progress, reviews, compliance, users. Each catches the
// projections up, answers from the live view or, with --as-of, from a view folded from the
// per-entity index (progress, temporal: from its rows recorded by then), and prints a table,
// JSON or CSV. The *Table functions are shared with the HTTP API (serve), so both answer with
// the same bytes.

#include <chrono>
#include <iostream>

#include "cli.h"
#include "veeduria/events/time.h"
#include "veeduria/producers/keys.h"
#include "veeduria/projections/view.h"

namespace veeduria::cli {
namespace {

events::Micros Now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs `query` on the view `as_of` asks for; `keys` gives the index keys of an as-of view.
template <typename Query, typename Keys>
Result<projections::Table> Answer(const projections::ProjectionStore& store, const std::string& as_of,
                                  Keys keys, Query query) {
  std::unique_ptr<projections::View> view;
  if (as_of.empty()) {
    view = projections::LiveView(store, Now());
  } else {
    auto t = events::ParseInstant(as_of);
    if (!t)
      return Status::InvalidArgument("--as-of: expected an RFC 3339 time or a date YYYY-MM-DD, got '" +
                                     as_of + "'");
    auto v = projections::AsOfView(store, keys(store), *t);
    if (!v.ok()) return Status(v.status().code(), v.status().ToString());
    view = std::move(*v);
  }
  return query(*view);
}

int Print(const std::string& data, const QueryOptions& options,
          const std::function<Result<projections::Table>(const projections::ProjectionStore&)>& table_of) {
  auto opened = OpenProjections(data);
  if (!opened.ok()) return Fail(opened.status().ToString());
  Result<projections::Table> table = table_of(*opened->store);
  if (!table.ok()) return Fail(table.status().message());
  std::cout << projections::Render(*table, options.format);
  return 0;
}

}  // namespace

Result<projections::Table> AuditTable(const projections::ProjectionStore& store,
                                      const projections::AuditParams& params, const std::string& from,
                                      const std::string& to, const std::string& as_of) {
  projections::AuditParams p = params;
  for (auto [text, slot] : {std::pair{&from, &p.from}, std::pair{&to, &p.to}}) {
    if (text->empty()) continue;
    auto t = events::ParseInstant(*text);
    if (!t)
      return Status::InvalidArgument("expected an RFC 3339 time or a date YYYY-MM-DD, got '" + *text + "'");
    *slot = *t;
  }
  return Answer(
      store, as_of,
      // The audit index is read live, up to T: an as-of view folds nothing for it.
      [](const projections::ProjectionStore&) { return std::vector<std::string>(); },
      [&](const projections::View& v) { return projections::AuditQuery(v, p); });
}

Result<projections::Table> ProgressTable(const projections::ProjectionStore& store,
                                         const projections::ProgressParams& params,
                                         const std::string& as_of) {
  return Answer(
      store, as_of,
      // progress is temporal: an as-of view reads its rows recorded up to T, no index to fold.
      [](const projections::ProjectionStore&) { return std::vector<std::string>(); },
      [&](const projections::View& v) { return projections::ProgressQuery(v, params); });
}

Result<projections::Table> ReviewsTable(const projections::ProjectionStore& store,
                                        const projections::ReviewsParams& params, const std::string& as_of) {
  return Answer(
      store, as_of,
      [&](const projections::ProjectionStore& s) {
        return params.entity.empty() ? projections::AsOfKeysForDepartment(s, params.department)
                                     : projections::AsOfKeysForEntity(s, params.entity, false);
      },
      [&](const projections::View& v) { return projections::ReviewsQuery(v, params); });
}

Result<projections::Table> ComplianceTable(const projections::ProjectionStore& store,
                                           const projections::ComplianceParams& params,
                                           const std::string& as_of) {
  return Answer(
      store, as_of,
      [&](const projections::ProjectionStore& s) {
        return params.department.empty() ? projections::AsOfKeysNational(s)
                                         : projections::AsOfKeysForDepartment(s, params.department);
      },
      [&](const projections::View& v) { return projections::ComplianceQuery(v, params); });
}

Result<projections::Table> UsersTable(const projections::ProjectionStore& store,
                                      const projections::UsersParams& params, const std::string& as_of) {
  return Answer(
      store, as_of,
      [&](const projections::ProjectionStore& s) {
        return projections::AsOfKeysForEntity(s, params.entity, true);
      },
      [&](const projections::View& v) { return projections::UsersQuery(v, params); });
}

projections::SemaforoBands BandsOf(const producers::LedgerConfig& config) {
  return {config.semaforo_bajo, config.semaforo_medio, config.semaforo_satisfactorio,
          config.semaforo_sobresaliente};
}

int RunAudit(const std::string& data, const projections::AuditParams& params, const std::string& from,
             const std::string& to, const QueryOptions& options) {
  return Print(data, options, [&](const projections::ProjectionStore& s) {
    return AuditTable(s, params, from, to, options.as_of);
  });
}

int RunProgress(const std::string& data, const projections::ProgressParams& given,
                const QueryOptions& options) {
  auto config = producers::ReadLedgerConfig(data);  // the semáforo bands are configuration
  if (!config.ok()) return Fail(config.status().ToString());
  projections::ProgressParams params = given;
  params.bands = BandsOf(*config);
  return Print(data, options, [&](const projections::ProjectionStore& s) {
    return ProgressTable(s, params, options.as_of);
  });
}

int RunReviews(const std::string& data, const projections::ReviewsParams& params,
               const QueryOptions& options) {
  return Print(data, options,
               [&](const projections::ProjectionStore& s) { return ReviewsTable(s, params, options.as_of); });
}

int RunCompliance(const std::string& data, const projections::ComplianceParams& params,
                  const QueryOptions& options) {
  return Print(data, options, [&](const projections::ProjectionStore& s) {
    return ComplianceTable(s, params, options.as_of);
  });
}

int RunUsers(const std::string& data, const projections::UsersParams& params, const QueryOptions& options) {
  return Print(data, options,
               [&](const projections::ProjectionStore& s) { return UsersTable(s, params, options.as_of); });
}

}  // namespace veeduria::cli
