// The progress projection: the raw facts of every development plan (goals, yearly programming,
// reports at each cut) plus the directory facts the rollups need. Every percentage is computed at
// query time (DESIGN §2.6), so the fold only stores what the events say.
//
// The rows are temporal: no row is ever overwritten or read back by the fold. Each event writes
// a new version of its row, keyed <base key>\0<version>, where <version> = recorded_at (hex16)
// then stream_seq (hex16) of the event, so a base key's versions are adjacent and in time order
// (each base key is written by one stream: the entity's, or the directory's for e/ and c/). The
// rows as of T are the versions recorded up to T, and the latest one of each base key is the
// row's value at T: an as-of view reads the live rows below T instead of folding events.
//
// Base keys (each value repeats its own identifiers, so queries never parse keys: ids may hold '/'):
//   e/<entity>          {name, kind, department}                        EntityRegistered
//   c/<campaign>        {system, vigencia, milestones: [{id, cut}]}     CampaignOpened
//   p/<entity>/<plan>   {entity, plan, name, period_start, period_end}  PlanUploaded
//   g/<entity>/<plan>/<goal>
//       {change: "defined", entity, plan, goal, cpi, sector, name, unit, baseline, target,
//        accumulation, homologated}                                     GoalDefined
//       {change: "homologated", entity, plan, goal, cpi, sector}       GoalHomologated
//       (a goal is its latest definition with the homologations recorded after it applied)
//   y/<entity>/<plan>/<goal>/<year>
//       [plan, goal, year, physical, pesos]
//                                       GoalProgrammed (the whole programming of one year; pesos:
//                                       the resources of every source)
//   r/<entity>/<plan>/<goal>/<campaign>/<milestone>
//       [plan, goal, campaign, milestone, year, physical_ytd, recorded_at,
//        compromisos, obligaciones, pagos]
//                                       ProgressReported (a correction is a later version; the
//                                       amounts are the totals of every source, nil when the
//                                       report has no financial execution)
// y/ and r/, the most numerous rows (an entity's as-of query reads thousands), are arrays of what
// the queries read: no field names, no per-source amounts (the event keeps them, and its audit
// trail shows them).
// e/ and c/ are written only by directory events, p/ g/ y/ r/ only by the entity's own stream, and
// no fold reads a row: the rows do not depend on how streams interleave.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "projections_internal.h"
#include "veeduria/events/msgpack_reader.h"
#include "veeduria/projections/query.h"

namespace veeduria::projections {
namespace {

namespace s = veeduria::schema;
using events::MsgpackReader;
using nlohmann::json;
using Row = nlohmann::ordered_json;

// The CPI sector: the first 2 digits of the indicator code (DESIGN §1).
std::string SectorOf(const std::string& cpi) { return cpi.substr(0, std::min<size_t>(2, cpi.size())); }

// Appends an event's version to a base key: '\0' sorts below every character of an id, so the
// versions of a base key come right after it and before any longer base key.
std::string Versioned(std::string key, const EventRef& e) {
  key.reserve(key.size() + kVersionSize);
  key += '\0';
  AppendHex16(key, static_cast<uint64_t>(e.env->recorded_at()));
  AppendHex16(key, e.env->stream_seq());
  return key;
}

std::string_view Sv(const flatbuffers::String* x) { return x ? x->string_view() : std::string_view(); }

// The base key of a version.
std::string_view BaseOf(std::string_view key) {
  return key.substr(0, key.size() >= kVersionSize ? key.size() - kVersionSize : key.size());
}

class Progress : public Projection {
 public:
  std::string_view name() const override { return "progress"; }
  int version() const override { return 3; }
  bool writes_only() const override { return true; }
  bool temporal() const override { return true; }
  void Apply(const EventRef& e, events::StateStore& rows) const override {
    const s::Event* ev = e.event;
    switch (ev->payload_type()) {
      case s::Payload::EntityRegistered: {
        const auto* p = ev->payload_as_EntityRegistered();
        MsgpackWriter w;
        w.Map(3).Field("department", Sv(p->department())).Field("kind", s::EnumNameEntityKind(p->kind()));
        w.Field("name", Sv(p->name()));
        rows.Put(Versioned("e/" + Str(p->entity()), e), w.Take());
        break;
      }
      case s::Payload::CampaignOpened: {
        const auto* p = ev->payload_as_CampaignOpened();
        json ms = json::array();
        if (p->milestones())
          for (const auto* m : *p->milestones())
            ms.push_back(json{{"id", Str(m->id())}, {"cut", Str(m->cut())}});
        events::WriteRecord(rows, Versioned("c/" + Str(p->campaign()), e),
                            json{{"system", s::EnumNameReportingSystem(p->system())},
                                 {"vigencia", p->vigencia()},
                                 {"milestones", ms}});
        break;
      }
      case s::Payload::PlanUploaded: {
        const auto* p = ev->payload_as_PlanUploaded();
        events::WriteRecord(rows, Versioned("p/" + Str(p->entity()) + "/" + Str(p->plan()), e),
                            json{{"entity", Str(p->entity())},
                                 {"plan", Str(p->plan())},
                                 {"name", Str(p->name())},
                                 {"period_start", p->period_start()},
                                 {"period_end", p->period_end()}});
        break;
      }
      case s::Payload::GoalDefined: {
        const auto* p = ev->payload_as_GoalDefined();
        MsgpackWriter w;
        w.Map(12).Field("accumulation", s::EnumNameAccumulation(p->accumulation()));
        w.Str("baseline").Double(p->baseline()).Field("change", "defined");
        w.Field("cpi", Sv(p->cpi_indicator())).Field("entity", Sv(p->entity())).Field("goal", Sv(p->goal()));
        w.Str("homologated").Bool(p->homologated()).Field("name", Sv(p->name())).Field("plan", Sv(p->plan()));
        w.Field("sector", SectorOf(Str(p->cpi_indicator()))).Str("target").Double(p->target());
        w.Field("unit", Sv(p->unit()));
        rows.Put(Versioned("g/" + Str(p->entity()) + "/" + Str(p->plan()) + "/" + Str(p->goal()), e),
                 w.Take());
        break;
      }
      case s::Payload::GoalHomologated: {
        const auto* p = ev->payload_as_GoalHomologated();
        MsgpackWriter w;
        w.Map(6).Field("change", "homologated").Field("cpi", Sv(p->cpi_indicator()));
        w.Field("entity", Sv(p->entity())).Field("goal", Sv(p->goal())).Field("plan", Sv(p->plan()));
        w.Field("sector", SectorOf(Str(p->cpi_indicator())));
        rows.Put(Versioned("g/" + Str(p->entity()) + "/" + Str(p->plan()) + "/" + Str(p->goal()), e),
                 w.Take());
        break;
      }
      case s::Payload::GoalProgrammed: {
        const auto* p = ev->payload_as_GoalProgrammed();
        int64_t pesos = 0;
        if (p->resources())
          for (const auto* a : *p->resources()) pesos += a->pesos();
        MsgpackWriter w;
        w.Array(5).Str(Sv(p->plan())).Str(Sv(p->goal())).Int(p->year()).Double(p->physical()).Int(pesos);
        rows.Put(Versioned("y/" + Str(p->entity()) + "/" + Str(p->plan()) + "/" + Str(p->goal()) + "/" +
                               std::to_string(p->year()),
                           e),
                 w.Take());
        break;
      }
      case s::Payload::ProgressReported: {  // the hottest row
        const auto* p = ev->payload_as_ProgressReported();
        MsgpackWriter w;
        w.Array(10).Str(Sv(p->plan())).Str(Sv(p->goal())).Str(Sv(p->campaign())).Str(Sv(p->milestone()));
        w.Int(p->year()).Double(p->physical_ytd()).Int(e.env->recorded_at());
        if (p->financial() && p->financial()->size() > 0) {
          int64_t compromisos = 0, obligaciones = 0, pagos = 0;
          for (const auto* f : *p->financial()) {
            compromisos += f->compromisos();
            obligaciones += f->obligaciones();
            pagos += f->pagos();
          }
          w.Int(compromisos).Int(obligaciones).Int(pagos);
        } else {
          w.Null().Null().Null();
        }
        std::string key;
        key.reserve(64 + kVersionSize);
        key.append("r/").append(Sv(p->entity())).append("/").append(Sv(p->plan())).append("/");
        key.append(Sv(p->goal()))
            .append("/")
            .append(Sv(p->campaign()))
            .append("/")
            .append(Sv(p->milestone()));
        rows.Put(Versioned(std::move(key), e), w.Take());
        break;
      }
      default:
        break;
    }
  }
};

// ---- Query side: the rows read back into plain structs ----

struct Campaign {
  int vigencia = 0;
  bool kpt = false;
  std::vector<std::pair<std::string, std::string>> milestones;  // id, cut date, in campaign order
};
using Campaigns = std::map<std::string, Campaign>;

// The cuts (campaign, milestone) of one query, each read once: a report holds its cut's index,
// so the thousands of report rows of an entity neither copy ids nor search the campaigns.
// A cut's rank is where it sits in business time, its cut date then its place in its campaign
// (equal for equal pairs); with the report's vigencia before it and recorded_at after it, it
// orders reports to find a goal's latest and each year's last. A cut no campaign lists ranks
// before every listed one.
class Cuts {
 public:
  struct Cut {
    std::string campaign, milestone;
    int rank = 0;
  };
  explicit Cuts(const Campaigns& cs) {
    std::vector<std::tuple<std::string_view, size_t, uint32_t>> known;  // cut date, place, index
    for (const auto& [id, c] : cs)
      for (size_t i = 0; i < c.milestones.size(); ++i) {
        const size_t before = cuts_.size();
        if (Index(id, c.milestones[i].first) == before) known.emplace_back(c.milestones[i].second, i, before);
      }
    std::sort(known.begin(), known.end());
    int rank = 0;
    for (size_t i = 0; i < known.size(); ++i) {
      if (i == 0 || std::get<0>(known[i]) != std::get<0>(known[i - 1]) ||
          std::get<1>(known[i]) != std::get<1>(known[i - 1]))
        ++rank;
      cuts_[std::get<2>(known[i])].rank = rank;
    }
  }
  // The cut's index; one not seen before is added (rank 0 unless the constructor ranks it).
  // A goal's report rows come campaign by campaign: a campaign is looked up when it changes.
  uint32_t Index(std::string_view campaign, std::string_view milestone) {
    if (!last_ || campaign != last_->first) last_ = &*by_campaign_.try_emplace(std::string(campaign)).first;
    for (uint32_t i : last_->second)
      if (cuts_[i].milestone == milestone) return i;
    const auto i = static_cast<uint32_t>(cuts_.size());
    cuts_.push_back(Cut{std::string(campaign), std::string(milestone), 0});
    last_->second.push_back(i);
    return i;
  }
  const Cut& operator[](uint32_t i) const { return cuts_[i]; }

 private:
  std::vector<Cut> cuts_;
  std::map<std::string, std::vector<uint32_t>> by_campaign_;  // a campaign's cuts, indexes in cuts_
  std::pair<const std::string, std::vector<uint32_t>>* last_ = nullptr;  // Index's last campaign
};

struct Report {
  uint32_t cut = 0;  // in the query's Cuts
  int year = 0;
  int rank = 0;  // the cut's
  double ytd = 0;
  bool has_financial = false;
  int64_t obligaciones = 0;
  int64_t recorded_at = 0;
};
bool Later(const Report& a, const Report& b) {
  return std::tie(a.year, a.rank, a.recorded_at) > std::tie(b.year, b.rank, b.recorded_at);
}

struct Year {
  double physical = 0;
  int64_t pesos = 0;
};
// Per-year values of a goal (a handful of years): (year, value) pairs in a vector sorted by year.
// AtYear is the pair of `year`, or where it goes.
template <typename V>
auto AtYear(V& by_year, int year) {
  return std::lower_bound(by_year.begin(), by_year.end(), year,
                          [](const auto& entry, int y) { return entry.first < y; });
}
using Years = std::vector<std::pair<int, Year>>;  // a goal's programming
const Year* YearOf(const Years& years, int year) {
  auto it = AtYear(years, year);
  return it != years.end() && it->first == year ? &it->second : nullptr;
}
struct Goal {
  std::string id, sector, name, unit, accumulation;
  double target = 0;
  Years years;
  std::vector<Report> reports;
};
struct Plan {
  std::string id, name;
  int start = 0, end = 0;
  std::vector<Goal> goals;
};

Campaigns LoadCampaigns(const Rows& rows) {
  Campaigns out;
  rows.ScanRecords("c/", [&](std::string_view key, const json& c) {
    Campaign& x = out[std::string(BaseOf(key).substr(2))];
    x = Campaign{};  // a later version replaces the campaign
    x.vigencia = c.value("vigencia", 0);
    x.kpt = c.value("system", "") == "kpt";
    for (const auto& m : c["milestones"]) x.milestones.emplace_back(m.value("id", ""), m.value("cut", ""));
    return true;
  });
  return out;
}

// One entity's plans with their goals and reports: four prefix scans.
std::vector<Plan> LoadEntity(const Rows& rows, const std::string& entity, Cuts& cuts) {
  std::vector<Plan> plans;
  std::map<std::string, size_t> plan_at;
  // plan '\0' goal -> the plan's index in plans, the goal's in the plan's goals
  std::unordered_map<std::string, std::pair<size_t, size_t>> goal_at;
  std::string goal_key;
  const auto key_of = [&](std::string_view plan_id, std::string_view goal_id) -> const std::string& {
    goal_key.assign(plan_id).push_back('\0');
    return goal_key.append(goal_id);
  };
  auto plan = [&](const std::string& id) -> size_t {
    auto [it, fresh] = plan_at.emplace(id, plans.size());
    if (fresh) plans.emplace_back().id = id;
    return it->second;
  };
  rows.ScanRecords("p/" + entity + "/", [&](std::string_view, const json& p) {  // versions: the last wins
    Plan& x = plans[plan(p.value("plan", ""))];
    x.name = p.value("name", "");
    x.start = p.value("period_start", 0);
    x.end = p.value("period_end", 0);
    return true;
  });
  // g/ and y/ rows are read field by field from their MessagePack (no json tree), as r/ rows are.
  const auto str = [](const MsgpackReader::Value& v) { return v.kind == v.kStr ? v.s : std::string_view(); };
  // Each goal is its versions folded in time order: a definition replaces the goal's fields, a
  // homologation recorded after it replaces its CPI sector.
  rows.Scan("g/" + entity + "/", [&](std::string_view, std::string_view bytes) {
    std::string_view plan_id, goal_id;
    Goal g;
    bool defined = false;
    MsgpackReader(bytes).ForEachField([&](std::string_view k, const MsgpackReader::Value& v) {
      if (k == "plan")
        plan_id = str(v);
      else if (k == "goal")
        goal_id = str(v);
      else if (k == "change")
        defined = str(v) == "defined";
      else if (k == "sector")
        g.sector.assign(str(v));
      else if (k == "name")
        g.name.assign(str(v));
      else if (k == "unit")
        g.unit.assign(str(v));
      else if (k == "accumulation")
        g.accumulation.assign(str(v));
      else if (k == "target")
        g.target = v.as_double(0.0);
    });
    auto it = goal_at.find(key_of(plan_id, goal_id));
    if (it == goal_at.end()) {
      if (!defined) return true;  // homologated before it was defined: nothing to apply it to
      const size_t pi = plan(std::string(plan_id));
      it = goal_at.emplace(goal_key, std::pair{pi, plans[pi].goals.size()}).first;
      plans[pi].goals.emplace_back().id = goal_id;
    }
    Goal& x = plans[it->second.first].goals[it->second.second];
    x.sector = std::move(g.sector);
    if (!defined) return true;
    x.name = std::move(g.name);
    x.unit = std::move(g.unit);
    x.accumulation = std::move(g.accumulation);
    x.target = g.target;
    return true;
  });
  // y/ and r/ rows: a goal's rows are consecutive, so its look-up is reused until the plan or goal
  // changes (a look-up per row was 4% of the national as-of query).
  std::optional<std::pair<std::string, std::string>> looked_up;
  Goal* goal = nullptr;  // looked_up's; null when it is not one of the entity's goals
  const auto goal_of = [&](std::string_view plan_id, std::string_view goal_id) {
    if (!looked_up || looked_up->first != plan_id || looked_up->second != goal_id) {
      looked_up.emplace(plan_id, goal_id);
      auto it = goal_at.find(key_of(plan_id, goal_id));
      goal = it == goal_at.end() ? nullptr : &plans[it->second.first].goals[it->second.second];
    }
    return goal;
  };
  // A year's programming: its latest version.
  rows.Scan("y/" + entity + "/", [&](std::string_view, std::string_view bytes) {
    std::string_view plan_id, goal_id;
    int year = 0;
    Year y;
    int at = 0;  // [plan, goal, year, physical, pesos]
    MsgpackReader(bytes).ForEachElement([&](const MsgpackReader::Value& v) {
      switch (at++) {
        case 0:
          plan_id = str(v);
          break;
        case 1:
          goal_id = str(v);
          break;
        case 2:
          year = static_cast<int>(v.as_int(0));
          break;
        case 3:
          y.physical = v.as_double(0.0);
          break;
        case 4:
          y.pesos = v.as_int(0);
          break;
      }
    });
    if (Goal* g = goal_of(plan_id, goal_id)) {
      auto it = AtYear(g->years, year);
      if (it != g->years.end() && it->first == year)
        it->second = y;  // a later version
      else
        g->years.emplace(it, year, y);
    }
    return true;
  });
  // r/ rows, the most numerous, read field by field from their MessagePack (no json tree); a
  // later version of a cut (a correction) replaces the report its earlier version gave.
  rows.Scan("r/" + entity + "/", [&](std::string_view, std::string_view bytes) {
    Report x;
    std::string_view plan_id, goal_id, campaign;
    int at = 0;  // [plan, goal, campaign, milestone, year, physical_ytd, recorded_at, compromisos,
                 //  obligaciones, pagos]
    MsgpackReader(bytes).ForEachElement([&](const MsgpackReader::Value& v) {
      switch (at++) {
        case 0:
          plan_id = str(v);
          break;
        case 1:
          goal_id = str(v);
          break;
        case 2:
          campaign = str(v);
          break;
        case 3:
          x.cut = cuts.Index(campaign, str(v));
          break;
        case 4:
          x.year = static_cast<int>(v.as_int(0));
          break;
        case 5:
          x.ytd = v.as_double(0.0);
          break;
        case 6:
          x.recorded_at = v.as_int(0);
          break;
        case 8:
          x.has_financial = v.is_number();
          x.obligaciones = v.as_int(0);
          break;
      }
    });
    x.rank = cuts[x.cut].rank;
    Goal* g = goal_of(plan_id, goal_id);
    if (g == nullptr) return true;
    // A cut's versions are consecutive rows: an earlier one, if any, is the goal's last report.
    if (!g->reports.empty() && g->reports.back().cut == x.cut)
      g->reports.back() = x;
    else
      g->reports.push_back(x);
    return true;
  });
  std::sort(plans.begin(), plans.end(), [](const Plan& a, const Plan& b) { return a.id < b.id; });
  return plans;
}

// ---- The computations of DESIGN §2.6 ----

// part / whole × 100; none when nothing (or zero) was programmed to compare with.
std::optional<double> Percent(double part, double whole) {
  if (!(whole > 0)) return std::nullopt;
  return part * 100.0 / whole;
}

// The cut a query asks for; `latest` means each goal's own latest report.
struct Selection {
  bool latest = true;
  uint32_t cut = 0;  // in the query's Cuts
  int year = 0;
  int rank = 0;  // the cut's
};

// The last report of each year, up to the selected cut (reports after it are not yet known
// there): the value each year closed with, or stands at. In year order.
std::vector<std::pair<int, const Report*>> LastOfEachYear(const Goal& g, const Selection& sel) {
  std::vector<std::pair<int, const Report*>> last;
  for (const Report& r : g.reports) {
    if (!sel.latest && std::tie(r.year, r.rank) > std::tie(sel.year, sel.rank)) continue;
    auto it = AtYear(last, r.year);
    if (it == last.end() || it->first != r.year)
      last.emplace(it, r.year, &r);
    else if (Later(r, *it->second))
      it->second = &r;
  }
  return last;
}

// Cuatrienio %: acumulativo — Σ over the plan's years of each year's last YTD / four-year target;
// no_acumulativo — mean over the years with a programmed value of the yearly % capped at 100.
// A year with no report yet adds 0 in both, so both read as progress towards the whole term.
std::optional<double> FourYearPercent(const Plan& plan, const Goal& g, const Selection& sel) {
  const auto last = LastOfEachYear(g, sel);
  if (g.accumulation == "acumulativo") {
    double sum = 0;
    for (const auto& [year, r] : last)
      if (plan.start == 0 || (year >= plan.start && year <= plan.end)) sum += r->ytd;
    return Percent(sum, g.target);
  }
  double sum = 0;
  int years = 0;
  auto it = last.begin();
  for (const auto& [year, y] : g.years) {  // both in year order
    if (!(y.physical > 0)) continue;
    ++years;
    while (it != last.end() && it->first < year) ++it;
    if (it != last.end() && it->first == year) sum += std::min(100.0, *Percent(it->second->ytd, y.physical));
  }
  if (years == 0) return std::nullopt;
  return sum / years;
}

struct GoalResult {
  const Report* report = nullptr;
  int year = 0;
  std::optional<double> programmed, ytd, physical, financial, four_year;
  bool over_100 = false;
};

// A goal at the selected cut: physical % = YTD / programmed for that year; financial % =
// Σ obligaciones / Σ resources programmed for that year (none when the report carried no
// financial execution). Values above 100 are kept and flagged.
GoalResult Evaluate(const Plan& plan, const Goal& g, const Selection& sel) {
  GoalResult out;
  for (const Report& r : g.reports) {
    const bool match = sel.latest ? (!out.report || Later(r, *out.report)) : r.cut == sel.cut;
    if (match) out.report = &r;
  }
  out.year = sel.latest ? (out.report ? out.report->year : 0) : sel.year;
  const Year* y = YearOf(g.years, out.year);
  if (y) out.programmed = y->physical;
  if (out.report) {
    out.ytd = out.report->ytd;
    if (out.programmed) out.physical = Percent(out.report->ytd, *out.programmed);
    if (out.report->has_financial && y)
      out.financial = Percent(static_cast<double>(out.report->obligaciones), static_cast<double>(y->pesos));
  }
  out.over_100 = (out.physical && *out.physical > 100) || (out.financial && *out.financial > 100);
  out.four_year = FourYearPercent(plan, g, sel);
  return out;
}

// Rollups (sector, plan, entity, department, nation): equal-weight means of the goal
// percentages capped at 100; goals without a value are counted but left out of the mean.
struct Mean {
  double sum = 0;
  int n = 0;
  void Add(const std::optional<double>& v) {
    if (!v) return;
    sum += std::min(100.0, *v);
    ++n;
  }
  void Merge(const Mean& o) {
    sum += o.sum;
    n += o.n;
  }
  std::optional<double> value() const { return n ? std::optional<double>(sum / n) : std::nullopt; }
};
struct Rollup {
  int goals = 0, reported = 0;
  Mean physical, financial, four_year;
  void Add(const GoalResult& r) {
    ++goals;
    reported += r.physical ? 1 : 0;
    physical.Add(r.physical);
    financial.Add(r.financial);
    four_year.Add(r.four_year);
  }
  void Merge(const Rollup& o) {  // sums, not means of means: every goal weighs the same
    goals += o.goals;
    reported += o.reported;
    physical.Merge(o.physical);
    financial.Merge(o.financial);
    four_year.Merge(o.four_year);
  }
};

// Percentages are shown with 2 decimals and the semáforo reads the shown value, so that a
// goal displayed at 80.00 is never colored below Sobresaliente by a floating-point residue.
std::optional<double> Round2(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return std::round(*v * 100.0) / 100.0;
}
Row Value(const std::optional<double>& v) { return v ? Row(*v) : Row(nullptr); }
Row Light(const std::optional<double>& shown, const SemaforoBands& bands) {
  return shown ? Row(Semaforo(*shown, bands)) : Row(nullptr);
}

// An output row with every column of a table, in column order, null until set: built in place
// (no initializer-list json per row, no search of a values object per column).
class RowOf {
 public:
  explicit RowOf(const std::vector<std::string>& columns) : columns_(columns), row_(Row::object()) {
    auto& o = row_.get_ref<Row::object_t&>();
    o.reserve(columns.size());
    for (const auto& c : columns) o.emplace_back(c, nullptr);  // the columns are distinct
  }
  // Columns are mostly set in table order: the search starts after the column set last.
  RowOf& Set(std::string_view column, Row value) {
    auto& o = row_.get_ref<Row::object_t&>();
    for (size_t n = 0, i = next_; n < columns_.size(); ++n, i = i + 1 == columns_.size() ? 0 : i + 1)
      if (columns_[i] == column) {
        (o.begin() + static_cast<std::ptrdiff_t>(i))->second = std::move(value);
        next_ = i + 1 == columns_.size() ? 0 : i + 1;
        return *this;
      }
    return *this;  // not a column of the table: not shown
  }
  Row Take() { return std::move(row_); }

 private:
  const std::vector<std::string>& columns_;
  Row row_;
  size_t next_ = 0;  // where Set's search starts
};

// `row` with the rollup's counts, means and semáforo.
Row WithRollup(const Rollup& r, const SemaforoBands& bands, RowOf& row) {
  const auto physical = Round2(r.physical.value());
  row.Set("goals", r.goals);
  row.Set("reported", r.reported);
  row.Set("physical_pct", Value(physical));
  row.Set("financial_pct", Value(Round2(r.financial.value())));
  row.Set("semaforo", Light(physical, bands));
  row.Set("four_year_pct", Value(Round2(r.four_year.value())));
  return row.Take();
}

// The plans an entity's rollup covers: with a cut, those whose period holds its vigencia;
// otherwise the current term (the latest period end), so that an entity that has started a new
// plan is not averaged with the goals of the old one.
std::vector<const Plan*> PlansInScope(const std::vector<Plan>& plans, const Selection& sel) {
  int latest_end = 0;
  for (const Plan& p : plans) latest_end = std::max(latest_end, p.end);
  std::vector<const Plan*> out;
  for (const Plan& p : plans)
    if (sel.latest ? p.end == latest_end : (p.start == 0 || (sel.year >= p.start && sel.year <= p.end)))
      out.push_back(&p);
  return out;
}

const std::vector<std::string> kEntityColumns = {
    "level",        "entity",   "plan",          "sector",     "goal",    "name",         "unit",
    "accumulation", "year",     "cut",           "programmed", "ytd",     "physical_pct", "financial_pct",
    "over_100",     "semaforo", "four_year_pct", "goals",      "reported"};
const std::vector<std::string> kAreaColumns = {
    "level", "department", "entity",       "name",          "kind",     "plans",        "entities",
    "goals", "reported",   "physical_pct", "financial_pct", "semaforo", "four_year_pct"};

void EntityRows(const Rows& rows, const std::string& entity, Cuts& cuts, const Selection& sel,
                const SemaforoBands& bands, Table* t) {
  for (const Plan& plan : LoadEntity(rows, entity, cuts)) {
    std::map<std::string, Rollup> sectors;
    Rollup total;
    for (const Goal& g : plan.goals) {
      const GoalResult r = Evaluate(plan, g, sel);
      sectors[g.sector].Add(r);
      total.Add(r);
      const auto physical = Round2(r.physical);
      std::string cut;
      if (r.report || !sel.latest) {
        const Cuts::Cut& c = cuts[r.report ? r.report->cut : sel.cut];
        cut = c.campaign + "/" + c.milestone;
      }
      t->rows.push_back(RowOf(kEntityColumns)
                            .Set("level", "goal")
                            .Set("entity", entity)
                            .Set("plan", plan.id)
                            .Set("sector", g.sector)
                            .Set("goal", g.id)
                            .Set("name", g.name)
                            .Set("unit", g.unit)
                            .Set("accumulation", g.accumulation)
                            .Set("year", r.year ? Row(r.year) : Row(nullptr))
                            .Set("cut", cut.empty() ? Row(nullptr) : Row(cut))
                            .Set("programmed", Value(r.programmed))
                            .Set("ytd", Value(r.ytd))
                            .Set("physical_pct", Value(physical))
                            .Set("financial_pct", Value(Round2(r.financial)))
                            .Set("over_100", r.over_100)
                            .Set("semaforo", Light(physical, bands))
                            .Set("four_year_pct", Value(Round2(r.four_year)))
                            .Take());
    }
    for (const auto& [sector, r] : sectors) {
      RowOf row(kEntityColumns);
      row.Set("level", "sector").Set("entity", entity).Set("plan", plan.id).Set("sector", sector);
      t->rows.push_back(WithRollup(r, bands, row));
    }
    RowOf row(kEntityColumns);
    row.Set("level", "plan").Set("entity", entity).Set("plan", plan.id).Set("name", plan.name);
    t->rows.push_back(WithRollup(total, bands, row));
  }
}

// An entity's rollup over its plans in scope; `plan_ids` gets their ids.
Rollup EntityRollup(const Rows& rows, const std::string& entity, Cuts& cuts, const Selection& sel,
                    std::string* plan_ids) {
  Rollup r;
  const std::vector<Plan> plans = LoadEntity(rows, entity, cuts);
  for (const Plan* p : PlansInScope(plans, sel)) {
    *plan_ids += (plan_ids->empty() ? "" : ",") + p->id;
    for (const Goal& g : p->goals) r.Add(Evaluate(*p, g, sel));
  }
  return r;
}

// Each entity's rollup (`plan_ids`: its plans) of `codes`, the entities shared among the cores: an
// entity's rollup reads its own rows only, and each core interns cuts of its own (the campaigns'
// are indexed alike in all; `sel` names one of those). Nationally ~1,100 entities and 7M rows.
std::vector<Rollup> EntityRollups(const Rows& rows, const std::vector<const std::string*>& codes,
                                  const Campaigns& cs, const Selection& sel,
                                  std::vector<std::string>* plan_ids) {
  std::vector<Rollup> out(codes.size());
  plan_ids->assign(codes.size(), "");
  std::atomic<size_t> next{0};
  std::exception_ptr failed;
  std::mutex failed_mu;
  const auto work = [&] {
    try {
      Cuts cuts(cs);
      for (size_t i; (i = next++) < codes.size();)
        out[i] = EntityRollup(rows, *codes[i], cuts, sel, &(*plan_ids)[i]);
    } catch (...) {
      std::lock_guard<std::mutex> l(failed_mu);
      if (!failed) failed = std::current_exception();
      next = codes.size();
    }
  };
  std::vector<std::thread> others;
  const size_t threads =
      std::clamp<size_t>(std::thread::hardware_concurrency(), 1, std::max<size_t>(codes.size(), 1));
  try {
    for (size_t i = 1; i < threads; ++i) others.emplace_back(work);
  } catch (const std::system_error&) {  // no more threads: those started and this one do it all
  }
  work();
  for (auto& th : others) th.join();
  if (failed) std::rethrow_exception(failed);
  return out;
}

// Department (one row per entity, then the department) or national (one row per department,
// then the nation) rollups; entities come from the e/ rows, their goals from g/ and r/ scans. The
// rollups are merged in the entities' order, so the sums are those of one thread's.
void AreaRows(const Rows& rows, const ProgressParams& q, const Campaigns& cs, const Selection& sel,
              const std::function<std::string(const std::string&)>& name_of, Table* t) {
  t->columns = kAreaColumns;
  std::map<std::string, std::vector<std::tuple<std::string, std::string, std::string>>> by_department;
  std::map<std::string, json> directory;  // code -> its latest e/ version
  rows.ScanRecords("e/", [&](std::string_view key, const json& e) {
    directory[std::string(BaseOf(key).substr(2))] = e;
    return true;
  });
  for (const auto& [code, e] : directory) {  // code, name, kind
    const std::string dept = e.value("department", "");
    if (q.national || dept == q.department)
      by_department[dept].emplace_back(code, e.value("name", ""), e.value("kind", ""));
  }
  std::vector<const std::string*> codes;
  for (const auto& [dept, members] : by_department)
    for (const auto& member : members) codes.push_back(&std::get<0>(member));
  std::vector<std::string> plan_ids;
  const std::vector<Rollup> rollups = EntityRollups(rows, codes, cs, sel, &plan_ids);
  Rollup nation;
  size_t entities = 0;
  for (const auto& [dept, members] : by_department) {
    Rollup area;
    for (const auto& [code, name, kind] : members) {
      const Rollup& r = rollups[entities];
      const std::string& plans = plan_ids[entities++];
      area.Merge(r);
      if (!q.national) {
        RowOf row(kAreaColumns);
        row.Set("level", "entity").Set("department", dept).Set("entity", code).Set("name", name);
        row.Set("kind", kind).Set("plans", plans);
        t->rows.push_back(WithRollup(r, q.bands, row));
      }
    }
    RowOf row(kAreaColumns);
    row.Set("level", "department").Set("department", dept).Set("name", name_of(dept));
    row.Set("entities", members.size());
    t->rows.push_back(WithRollup(area, q.bands, row));
    nation.Merge(area);
  }
  if (q.national) {
    t->title = "Progress by department and nation";
    RowOf row(kAreaColumns);
    row.Set("level", "nation").Set("name", "Colombia").Set("entities", entities);
    t->rows.push_back(WithRollup(nation, q.bands, row));
  } else {
    t->title = "Progress of department " + q.department + " " + name_of(q.department);
    if (by_department.empty()) t->notes.push_back("no entity of department " + q.department + " is known");
  }
  t->notes.push_back(sel.latest ? "plans: each entity's current term (latest period end)"
                                : "plans: those whose period holds vigencia " + std::to_string(sel.year));
}

}  // namespace

const Projection& ProgressProjection() {
  static const Progress kProgress;
  return kProgress;
}

Result<Table> ProgressQuery(const View& view, const ProgressParams& q) {
  const int scopes = !q.entity.empty() + !q.department.empty() + q.national;
  if (scopes != 1)
    return Status::InvalidArgument(
        "progress needs exactly one of --entity CODE, --department CODE or --national");
  if (q.campaign.empty() != q.milestone.empty())
    return Status::InvalidArgument(
        "progress: --campaign and --milestone select a cut together; give both or neither");
  const Rows& rows = view.rows("progress");
  const Campaigns cs = LoadCampaigns(rows);
  Cuts cuts(cs);
  Selection sel;
  if (!q.campaign.empty()) {
    auto it = cs.find(q.campaign);
    if (it == cs.end()) return Status::NotFound("progress: unknown campaign " + q.campaign);
    if (!it->second.kpt) return Status::InvalidArgument("progress: " + q.campaign + " is not a KPT campaign");
    sel.latest = false;
    sel.year = it->second.vigencia;
    const auto& ms = it->second.milestones;
    if (std::none_of(ms.begin(), ms.end(), [&](const auto& m) { return m.first == q.milestone; }))
      return Status::NotFound("progress: campaign " + q.campaign + " has no milestone " + q.milestone);
    sel.cut = cuts.Index(q.campaign, q.milestone);
    sel.rank = cuts[sel.cut].rank;
  }
  auto name_of = [&](const std::string& code) {  // the latest version's
    std::string name;
    rows.ScanRecords("e/" + code + '\0', [&](std::string_view, const json& e) {
      name = e.value("name", std::string());
      return true;
    });
    return name;
  };
  Table t;
  if (!q.entity.empty()) {
    const std::string name = name_of(q.entity);
    t.title = "Progress of " + q.entity + (name.empty() ? "" : " " + name);
    t.columns = kEntityColumns;
    EntityRows(rows, q.entity, cuts, sel, q.bands, &t);
    if (t.rows.empty()) t.notes.push_back("no plan of " + q.entity + " is known");
  } else {
    AreaRows(rows, q, cs, sel, name_of, &t);
  }
  t.notes.push_back(
      sel.latest ? "cut: each goal's latest report"
                 : "cut: " + q.campaign + "/" + q.milestone + " (vigencia " + std::to_string(sel.year) +
                       "); goals not reported at it show no values and are left out of averages");
  t.notes.push_back(
      "physical_pct = YTD / programmed for the year; financial_pct = obligaciones / resources programmed "
      "for the year; above 100 kept and flagged over_100; four_year_pct: acumulativo Σ each year's last "
      "YTD / target, no_acumulativo mean of yearly % (capped at 100) over programmed years, a year not "
      "reported counting 0; rollups average goals capped at 100 with equal weights");
  if (view.as_of()) t.notes.push_back("as of " + events::FormatRfc3339(view.now()));
  return t;
}

}  // namespace veeduria::projections
