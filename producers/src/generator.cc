#include "veeduria/producers/generator.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "term_generator.h"
#include "veeduria/events/command.h"
#include "veeduria/events/time.h"
#include "veeduria/producers/csv.h"

namespace veeduria::producers {
namespace {

using events::Micros;
using nlohmann::json;

constexpr const char* kAdmin = "admin@dnp.gov.co";

Result<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Micros Day(const char* date) {
  return events::EndOfBogotaDay(*events::ParseDate(date)) - events::kMicrosPerDay;
}
constexpr Micros kHour = 3'600'000'000LL;
constexpr Micros kMinute = 60'000'000LL;

struct Indicator {
  std::string code, name, unit;
  double acumulativo_share = 1;  // of the goals that use it in the real exports
};

struct Entity {
  std::string code, name, department, kind;
};

// The command file being written: lines with their times, sorted at the end.
class Script {
 public:
  void Add(Micros at, json cmd) {
    cmd["at"] = events::FormatRfc3339(at);
    lines_.push_back({at, lines_.size(), cmd.dump()});
  }
  void AddRaw(Micros at, std::string line) { lines_.push_back({at, lines_.size(), std::move(line)}); }
  uint64_t Write(std::ostream& out) {
    std::stable_sort(lines_.begin(), lines_.end(), [](const Line& a, const Line& b) {
      return a.at != b.at ? a.at < b.at : a.order < b.order;
    });
    for (const Line& l : lines_) out << l.text << "\n";
    return lines_.size();
  }

 private:
  struct Line {
    Micros at;
    size_t order;
    std::string text;
  };
  std::vector<Line> lines_;
};

std::string Hash(std::mt19937_64& rng) {
  static const char kHex[] = "0123456789abcdef";
  std::string h(64, '0');
  for (char& c : h) c = kHex[rng() % 16];
  return h;
}

struct Cut {
  const char* id;
  Micros deadline;  // start of the deadline day in Bogotá
};

}  // namespace

std::string GeneratorInitAt(const std::string& scale) {
  return scale == "department" || scale == "national" ? "2020-01-02T08:00:00-05:00"
                                                      : "2023-01-02T08:00:00-05:00";
}

Result<GeneratorStats> Generate(const GeneratorOptions& o, std::ostream& out) {
  if (o.scale == "department" || o.scale == "national") return internal::GenerateTerm(o, out);
  GeneratorStats stats;
  Script script;
  std::mt19937_64 rng(o.seed);
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto chance = [&](double p) { return uniform(0, 1) < p; };
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  // The ledger's first commands: entities and the catalogue.
  auto depts = Slurp(o.data_dir + "/divipola/divipola_departamentos.csv");
  auto munis = Slurp(o.data_dir + "/divipola/divipola_municipios.csv");
  auto cpi = Slurp(o.data_dir + "/cpi/cpi_indicadores_muestra_sispt_sabana_centro.csv");
  auto campaigns = Slurp(o.campaigns_file);
  for (const auto* r : {&depts, &munis, &cpi, &campaigns})
    if (!r->ok()) return r->status();
  const Micros t0 = Day("2023-01-02") + 9 * kHour;
  std::vector<Entity> entities;
  for (const auto& rec : ParseCsv(*depts))
    if (rec.line > 1 && rec.fields.size() >= 2)
      entities.push_back({rec.fields[0], rec.fields[1], rec.fields[0], "departamento"});
  for (const auto& rec : ParseCsv(*munis)) {
    if (rec.line == 1 || rec.fields.size() < 5 || rec.fields[4] != "Municipio") continue;  // islands, ANM
    entities.push_back(
        {rec.fields[2], rec.fields[3], rec.fields[0], rec.fields[2] == "11001" ? "distrito" : "municipio"});
  }
  for (const Entity& e : entities)
    script.Add(t0, {{"command", "register_entity"},
                    {"command_id", "divipola-" + e.code},
                    {"actor", kAdmin},
                    {"entity", e.code},
                    {"name", e.name},
                    {"kind", e.kind},
                    {"department", e.department}});
  std::vector<Indicator> indicators;
  json rows = json::array();
  for (const auto& rec : ParseCsv(*cpi)) {
    if (rec.line == 1 || rec.fields.size() < 12) continue;
    Indicator ind{rec.fields[6], rec.fields[7], rec.fields[8], 1};
    ind.acumulativo_share = internal::AcumulativoShare(rec.fields[11]);
    indicators.push_back(ind);
    rows.push_back({{"indicator", ind.code},
                    {"name", ind.name},
                    {"unit", ind.unit},
                    {"principal", rec.fields[9] == "Sí"}});
  }
  if (indicators.empty()) return Status::InvalidArgument("no CPI indicators in the sample");
  script.Add(t0 + 30 * kMinute, {{"command", "load_catalog"},
                                 {"command_id", "catalog-cpi-muestra-sispt"},
                                 {"actor", kAdmin},
                                 {"version", "CPI-muestra-SisPT"},
                                 {"rows", rows}});
  for (const auto& line : events::SplitLines(*campaigns)) {
    json c = json::parse(line.text);
    script.Add(*events::ParseRfc3339(c["at"].get<std::string>()), c);
  }

  // The entities with activity.
  std::vector<Entity> active;
  const int goals_lo = o.scale == "tiny" ? 8 : 30, goals_hi = o.scale == "tiny" ? 12 : 60;
  for (const Entity& e : entities)
    if (e.department == "25") active.push_back(e);
  if (o.scale == "tiny")
    active.resize(6);  // the gobernación and five municipalities
  else if (o.scale != "demo")
    return Status::InvalidArgument("unknown scale '" + o.scale + "' (tiny, demo, department, national)");
  stats.entities_active = active.size();

  const std::string reviewer = "revisor.planeacion@cundinamarca.gov.co";
  const Cut cuts[] = {{"Q1", Day("2023-04-15")},
                      {"Q2", Day("2023-07-15")},
                      {"Q3", Day("2023-10-15")},
                      {"Q4", Day("2024-01-31")}};
  std::vector<std::string> missing_q2;
  for (const Entity& e : active) {
    const bool is_dept = e.kind == "departamento";
    const std::string leader = "planeacion@" + e.code + ".gov.co", reporter = "sispt@" + e.code + ".gov.co";
    // Leaders in January; the gobernación's leader makes the department's reviewer.
    const Micros req = Day("2023-01-10") + pick(8, 16) * kHour + pick(0, 59) * kMinute;
    script.Add(req, {{"command", "request_leader"},
                     {"command_id", e.code + "-leader-1"},
                     {"actor", leader},
                     {"entity", e.code},
                     {"email", leader},
                     {"name", "Jefe de planeación de " + e.name},
                     {"supports",
                      {{{"kind", "acta_de_posesion"}, {"sha256", Hash(rng)}},
                       {{"kind", "cedula"}, {"sha256", Hash(rng)}}}}});
    script.Add(req + pick(20, 60) * kHour, {{"command", "activate_leader"},
                                            {"command_id", e.code + "-activate-1"},
                                            {"actor", "system"},
                                            {"request_id", e.code + "-leader-1"}});
    const Micros grants = Day("2023-01-20") + pick(8, 17) * kHour;
    script.Add(grants, {{"command", "grant_role"},
                        {"command_id", e.code + "-grant-reporter"},
                        {"actor", leader},
                        {"user", reporter},
                        {"role", "reporter"},
                        {"scope", e.code}});
    if (is_dept)
      script.Add(grants + kMinute, {{"command", "grant_role"},
                                    {"command_id", "25-grant-reviewer"},
                                    {"actor", leader},
                                    {"user", reviewer},
                                    {"role", "department_reviewer"},
                                    {"scope", "25"}});
    if (chance(0.1)) {
      const Micros r = Day("2023-03-01") + pick(0, 60) * 24 * kHour + 10 * kHour;
      script.Add(r, {{"command", "request_password_reset"},
                     {"command_id", e.code + "-reset-req"},
                     {"actor", leader},
                     {"user", leader}});
      script.Add(r + 20 * kMinute, {{"command", "complete_password_reset"},
                                    {"command_id", e.code + "-reset-done"},
                                    {"actor", leader},
                                    {"user", leader}});
    }

    // The plan, its goals and their programming (February).
    const std::string plan = "PDT-2020-2023";
    const Micros plan_at = Day("2023-02-01") + pick(0, 14) * 24 * kHour + 9 * kHour;
    script.Add(plan_at, {{"command", "upload_plan"},
                         {"command_id", e.code + "-plan"},
                         {"actor", reporter},
                         {"entity", e.code},
                         {"plan", plan},
                         {"name", "Plan de Desarrollo " + e.name + " 2020-2023"},
                         {"period", {2020, 2023}},
                         {"document_sha256", Hash(rng)}});
    const int n = pick(goals_lo, goals_hi);
    stats.goals += n;
    struct Goal {
      std::string id;
      double programmed_2023;
      int64_t pesos_2023;
    };
    std::vector<Goal> goals;
    Micros t = plan_at + 10 * kMinute;
    for (int g = 1; g <= n; ++g) {
      const Indicator& ind = indicators[rng() % indicators.size()];
      const bool acum = chance(ind.acumulativo_share);
      const std::string id = "IP-" + std::to_string(g);
      double yearly[4];
      const double level = std::round(uniform(1, 40));
      for (double& y : yearly) y = acum ? std::round(uniform(1, 20)) : level;
      if (!acum && chance(0.15)) yearly[0] = std::round(level * 0.8);  // ramping up: a real inconsistency
      double target = acum ? yearly[0] + yearly[1] + yearly[2] + yearly[3] : level;
      if (chance(0.05)) target += 1;  // declared total off by one, as in real exports
      script.Add(t, {{"command", "define_goal"},
                     {"command_id", e.code + "-def-" + id},
                     {"actor", reporter},
                     {"entity", e.code},
                     {"plan", plan},
                     {"goal", id},
                     {"cpi_indicator", ind.code},
                     {"name", ind.name},
                     {"unit", ind.unit},
                     {"baseline", 0},
                     {"target", target},
                     {"accumulation", acum ? "acumulativo" : "no_acumulativo"}});
      int64_t pesos_2023 = 0;
      for (int y = 0; y < 4; ++y) {
        json resources = {{"SGP", static_cast<int64_t>(uniform(20, 800)) * 1'000'000},
                          {"Recursos propios", static_cast<int64_t>(uniform(5, 300)) * 1'000'000}};
        if ((y == 1 || y == 2) && chance(0.2))
          resources["SGR"] = static_cast<int64_t>(uniform(100, 2000)) * 1'000'000;
        if (y == 3)
          for (auto& [k, v] : resources.items()) pesos_2023 += v.get<int64_t>();
        t += kMinute;
        script.Add(t, {{"command", "program_goal"},
                       {"command_id", e.code + "-prog-" + id + "-" + std::to_string(2020 + y)},
                       {"actor", reporter},
                       {"entity", e.code},
                       {"plan", plan},
                       {"goal", id},
                       {"year", 2020 + y},
                       {"physical", yearly[y]},
                       {"resources", resources}});
      }
      goals.push_back({id, yearly[3], pesos_2023});
      t += kMinute;
    }

    // A few leaders change during the year; acts after the change are the new leader's.
    Micros change_at = INT64_MAX;
    const std::string next_leader = "nuevo.planeacion@" + e.code + ".gov.co";
    if (!is_dept && chance(0.06)) {
      const Micros r = Day("2023-06-01") + pick(0, 120) * 24 * kHour + 11 * kHour;
      change_at = r + pick(20, 60) * kHour;
      script.Add(r, {{"command", "request_leader"},
                     {"command_id", e.code + "-leader-2"},
                     {"actor", next_leader},
                     {"entity", e.code},
                     {"email", next_leader},
                     {"name", "Nuevo jefe de planeación de " + e.name},
                     {"supports", {{{"kind", "acta_de_posesion"}, {"sha256", Hash(rng)}}}}});
      script.Add(change_at, {{"command", "activate_leader"},
                             {"command_id", e.code + "-activate-2"},
                             {"actor", "system"},
                             {"request_id", e.code + "-leader-2"}});
    }
    auto leader_at = [&](Micros at) { return at > change_at ? next_leader : leader; };

    // The four cuts of KPT-2023.
    const double late_p = uniform(0.05, 0.5), perf = uniform(0.35, 1.15);
    const bool misses_q2 = !is_dept && chance(0.08);
    if (misses_q2) missing_q2.push_back(e.code);
    for (int q = 0; q < 4; ++q) {
      const Cut& cut = cuts[q];
      if ((q == 1 && misses_q2) || (q != 1 && !is_dept && chance(0.03))) continue;
      // Q4 is the campaign's last deadline: after it reports are refused (window_closed), so
      // the generated entities make it on time.
      const bool late = q < 3 && chance(late_p);
      Micros at = late ? cut.deadline + pick(1, 20) * 24 * kHour + 9 * kHour
                       : cut.deadline - pick(1, 10) * 24 * kHour + 9 * kHour;
      for (const Goal& g : goals) {
        const double ytd = std::round(g.programmed_2023 * (q + 1) / 4.0 * perf * uniform(0.8, 1.2) * 10) / 10;
        const int64_t obligaciones =
            static_cast<int64_t>(g.pesos_2023 * (q + 1) / 4.0 * perf * uniform(0.5, 1.0));
        script.Add(at, {{"command", "report_progress"},
                        {"command_id", e.code + "-" + cut.id + "-" + g.id},
                        {"actor", reporter},
                        {"entity", e.code},
                        {"plan", plan},
                        {"goal", g.id},
                        {"campaign", "KPT-2023"},
                        {"milestone", cut.id},
                        {"physical_ytd", ytd},
                        {"financial",
                         {{"SGP",
                           {{"compromisos", obligaciones + obligaciones / 4},
                            {"obligaciones", obligaciones},
                            {"pagos", obligaciones * 9 / 10}}}}}});
        at += 2 * kMinute;
      }
      at += 30 * kMinute;
      script.Add(at, {{"command", "submit_report"},
                      {"command_id", e.code + "-submit-" + cut.id},
                      {"actor", leader_at(at)},
                      {"entity", e.code},
                      {"campaign", "KPT-2023"},
                      {"milestone", cut.id}});
      if (is_dept || q > 1) continue;
      // Q1 and Q2 reviews by the gobernación: adjustments on Q2 for some, else validation.
      const Micros review = at + pick(2, 8) * 24 * kHour;
      if (q == 1 && chance(0.15)) {
        const std::string req = e.code + "-adj-Q2";
        const Goal& g = goals[rng() % goals.size()];
        const Micros due = review + 15 * 24 * kHour;
        script.Add(review,
                   {{"command", "request_adjustment"},
                    {"command_id", req},
                    {"actor", reviewer},
                    {"entity", e.code},
                    {"campaign", "KPT-2023"},
                    {"milestone", "Q2"},
                    {"kind", "adjustment"},
                    {"items",
                     {{{"goal", g.id},
                       {"observation", "El avance reportado no es coherente con la programación 2023"}}}},
                    {"due", events::FormatDate(events::BogotaDay(due))}});
        if (chance(0.7)) {
          const Micros fix = review + pick(2, 12) * 24 * kHour;
          script.Add(fix, {{"command", "report_progress"},
                           {"command_id", e.code + "-Q2-" + g.id + "-fix"},
                           {"actor", reporter},
                           {"entity", e.code},
                           {"plan", plan},
                           {"goal", g.id},
                           {"campaign", "KPT-2023"},
                           {"milestone", "Q2"},
                           {"physical_ytd", std::round(g.programmed_2023 * 0.5 * 10) / 10},
                           {"note", "Corrección solicitada por la gobernación"}});
          script.Add(fix + kHour,
                     {{"command", "answer_adjustment"},
                      {"command_id", e.code + "-adj-Q2-answer"},
                      {"actor", leader_at(fix + kHour)},
                      {"request_id", req},
                      {"note", "Se corrigió el avance de la meta " + g.id},
                      {"evidence", {{{"name", "oficio_respuesta.pdf"}, {"sha256", Hash(rng)}}}}});
          script.Add(fix + 3 * 24 * kHour, {{"command", "validate_report"},
                                            {"command_id", e.code + "-validate-Q2"},
                                            {"actor", reviewer},
                                            {"entity", e.code},
                                            {"campaign", "KPT-2023"},
                                            {"milestone", "Q2"},
                                            {"note", "Ajustes verificados"}});
        } else {
          script.Add(due + 2 * 24 * kHour + 10 * kHour, {{"command", "notify_noncompliance"},
                                                         {"command_id", e.code + "-notify-Q2-adj"},
                                                         {"actor", reviewer},
                                                         {"entity", e.code},
                                                         {"campaign", "KPT-2023"},
                                                         {"milestone", "Q2"},
                                                         {"reason", "adjustments_not_made"},
                                                         {"channel", "email"},
                                                         {"message_sha256", Hash(rng)}});
        }
      } else if (chance(0.8)) {
        script.Add(review, {{"command", "validate_report"},
                            {"command_id", e.code + "-validate-" + cut.id},
                            {"actor", reviewer},
                            {"entity", e.code},
                            {"campaign", "KPT-2023"},
                            {"milestone", cut.id},
                            {"note", "Sin observaciones"}});
      }
    }
    // GESTIONWEB 2022 (municipalities): most on time.
    if (!is_dept && !chance(0.05)) {
      const Micros at = chance(0.8) ? Day("2023-06-23") - pick(1, 25) * 24 * kHour + 10 * kHour
                                    : Day("2023-06-23") + pick(1, 15) * 24 * kHour + 10 * kHour;
      script.Add(at, {{"command", "report_gestion"},
                      {"command_id", e.code + "-gestion-2022"},
                      {"actor", reporter},
                      {"entity", e.code},
                      {"campaign", "GESTIONWEB-2022"},
                      {"variables",
                       {{"MR_01", static_cast<int64_t>(uniform(500, 90000)) * 1'000'000},
                        {"MR_03", static_cast<int64_t>(uniform(200, 40000)) * 1'000'000},
                        {"ER_01", static_cast<int64_t>(uniform(2000, 300000)) * 1'000'000},
                        {"GA_01", chance(0.85)},
                        {"GA_02", pick(10, 400)}}}});
    }
  }
  // What a ledger must also record: attempts the rules refuse.
  for (size_t i = 1; i < std::min<size_t>(active.size(), 4); ++i) {
    const Entity& e = active[i];
    const std::string leader = "planeacion@" + e.code + ".gov.co";
    script.Add(Day("2023-02-20") + 15 * kHour, {{"command", "program_goal"},
                                                {"command_id", e.code + "-prog-IP-1-2023-millones"},
                                                {"actor", "sispt@" + e.code + ".gov.co"},
                                                {"entity", e.code},
                                                {"plan", "PDT-2020-2023"},
                                                {"goal", "IP-1"},
                                                {"year", 2023},
                                                {"physical", 1},
                                                {"resources", {{"SGP", "1.234.567,89"}}}});
    script.Add(Day("2023-03-15") + 16 * kHour, {{"command", "complete_password_reset"},
                                                {"command_id", e.code + "-dnp-reset"},
                                                {"actor", kAdmin},
                                                {"user", leader}});
  }
  // The gobernación notifies the municipalities that did not report Q2; DNP refers the first two.
  std::sort(missing_q2.begin(), missing_q2.end());
  for (size_t i = 0; i < missing_q2.size(); ++i) {
    const std::string& code = missing_q2[i];
    script.Add(Day("2023-07-21") + 10 * kHour + static_cast<Micros>(i) * kMinute,
               {{"command", "notify_noncompliance"},
                {"command_id", code + "-notify-Q2"},
                {"actor", reviewer},
                {"entity", code},
                {"campaign", "KPT-2023"},
                {"milestone", "Q2"},
                {"reason", "not_reported"},
                {"channel", "certified_mail"},
                {"message_sha256", Hash(rng)}});
    if (i < 2)
      script.Add(Day("2023-08-15") + 10 * kHour + static_cast<Micros>(i) * kMinute,
                 {{"command", "refer_to_control_body"},
                  {"command_id", code + "-refer-Q2"},
                  {"actor", kAdmin},
                  {"entity", code},
                  {"campaign", "KPT-2023"},
                  {"milestone", "Q2"},
                  {"control_body", "Procuraduría Provincial"},
                  {"case", "PP-2023-" + code},
                  {"reason", "No reportó el corte Q2 de 2023 tras la notificación de la gobernación"}});
  }
  stats.commands = script.Write(out);
  return stats;
}

}  // namespace veeduria::producers
