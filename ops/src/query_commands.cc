// The query subcommands: audit, progress, reviews, compliance, users. Each catches the
// projections up, answers from the live view or, with --as-of, from a view folded from the
// per-entity index, and prints a table, JSON or CSV.

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

// Runs `query` on the view the options ask for; `keys` gives the index keys of an as-of view.
template <typename Query, typename Keys>
int Answer(const std::string& data, const QueryOptions& options, Keys keys, Query query) {
  auto opened = OpenCaughtUp(data);
  if (!opened.ok()) return Fail(opened.status().ToString());
  std::unique_ptr<projections::View> view;
  if (options.as_of.empty()) {
    view = projections::LiveView(*opened->store, Now());
  } else {
    auto t = events::ParseInstant(options.as_of);
    if (!t)
      return Fail("--as-of: expected an RFC 3339 time or a date YYYY-MM-DD, got '" + options.as_of + "'");
    auto v = projections::AsOfView(*opened->store, keys(*opened->store), *t);
    if (!v.ok()) return Fail(v.status().ToString());
    view = std::move(*v);
  }
  Result<projections::Table> table = query(*view);
  if (!table.ok()) return Fail(table.status().message());
  std::cout << projections::Render(*table, options.format);
  return 0;
}

}  // namespace

int RunAudit(const std::string& data, const projections::AuditParams& params, const std::string& from,
             const std::string& to, const QueryOptions& options) {
  projections::AuditParams p = params;
  for (auto [text, slot] : {std::pair{&from, &p.from}, std::pair{&to, &p.to}}) {
    if (text->empty()) continue;
    auto t = events::ParseInstant(*text);
    if (!t) return Fail("expected an RFC 3339 time or a date YYYY-MM-DD, got '" + *text + "'");
    *slot = *t;
  }
  return Answer(
      data, options,
      [&](const projections::ProjectionStore& s) {
        return projections::AsOfKeysForEntity(s, p.entity, false);
      },
      [&](const projections::View& v) { return projections::AuditQuery(v, p); });
}

int RunProgress(const std::string& data, const projections::ProgressParams& given,
                const QueryOptions& options) {
  auto config = producers::ReadLedgerConfig(data);  // the semáforo bands are configuration
  if (!config.ok()) return Fail(config.status().ToString());
  projections::ProgressParams params = given;
  params.bands = {config->semaforo_bajo, config->semaforo_medio, config->semaforo_satisfactorio,
                  config->semaforo_sobresaliente};
  return Answer(
      data, options,
      [&](const projections::ProjectionStore& s) {
        if (!params.entity.empty()) return projections::AsOfKeysForEntity(s, params.entity, false);
        if (!params.department.empty()) return projections::AsOfKeysForDepartment(s, params.department);
        return projections::AsOfKeysNational(s);
      },
      [&](const projections::View& v) { return projections::ProgressQuery(v, params); });
}

int RunReviews(const std::string& data, const projections::ReviewsParams& params,
               const QueryOptions& options) {
  return Answer(
      data, options,
      [&](const projections::ProjectionStore& s) {
        return params.entity.empty() ? projections::AsOfKeysForDepartment(s, params.department)
                                     : projections::AsOfKeysForEntity(s, params.entity, false);
      },
      [&](const projections::View& v) { return projections::ReviewsQuery(v, params); });
}

int RunCompliance(const std::string& data, const projections::ComplianceParams& params,
                  const QueryOptions& options) {
  return Answer(
      data, options,
      [&](const projections::ProjectionStore& s) {
        return params.department.empty() ? projections::AsOfKeysNational(s)
                                         : projections::AsOfKeysForDepartment(s, params.department);
      },
      [&](const projections::View& v) { return projections::ComplianceQuery(v, params); });
}

int RunUsers(const std::string& data, const projections::UsersParams& params, const QueryOptions& options) {
  return Answer(
      data, options,
      [&](const projections::ProjectionStore& s) {
        return projections::AsOfKeysForEntity(s, params.entity, true);
      },
      [&](const projections::View& v) { return projections::UsersQuery(v, params); });
}

}  // namespace veeduria::cli
