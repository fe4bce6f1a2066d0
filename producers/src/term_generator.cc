// A four-year term (2020–2023) of every active entity's reporting, written straight as JSON lines.
//
// Why not nlohmann::json per command, as the one-year generator does: at national scale (~10M
// commands) building and dumping a DOM per line costs ~5 µs, 50 s in all; appending fields to one
// arena costs a few hundred ns per line. Lines are produced phase by phase (the start of a year,
// then each cut with its reviews) and flushed in time order up to the earliest time the next phase
// can write, and written by a thread of their own while the next phase is generated, so memory holds
// about three phases (one being written), not the term.

#include "term_generator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

#include "veeduria/events/command.h"
#include "veeduria/events/time.h"
#include "veeduria/producers/csv.h"

namespace veeduria::producers::internal {
namespace {

using events::Micros;

constexpr const char* kAdmin = "admin@dnp.gov.co";
constexpr Micros kMinute = 60'000'000LL, kHour = 60 * kMinute, kDayUs = 24 * kHour;
constexpr int kFirstYear = 2020, kYears = 4;

Result<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Start of a calendar day in Bogotá.
Micros Day(int y, int m, int d) {
  char s[16];
  std::snprintf(s, sizeof s, "%04d-%02d-%02d", y, m, d);
  return events::EndOfBogotaDay(*events::ParseDate(s)) - kDayUs;
}

void AppendEscaped(std::string& b, std::string_view v) {
  b += '"';
  // Almost every value needs no escaping: append it whole.
  if (std::none_of(v.begin(), v.end(),
                   [](char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; })) {
    b += v;
    b += '"';
    return;
  }
  for (char c : v) {
    if (c == '"' || c == '\\') {
      b += '\\';
      b += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char u[8];
      std::snprintf(u, sizeof u, "\\u%04x", c);
      b += u;
    } else {
      b += c;
    }
  }
  b += '"';
}

void AppendNumber(std::string& b, double v) {
  char s[32];
  auto r = std::to_chars(s, s + sizeof s, v);
  b.append(s, r.ptr);
}
void AppendInt(std::string& b, int64_t v) {
  char s[24];
  auto r = std::to_chars(s, s + sizeof s, v);
  b.append(s, r.ptr);
}

// One JSON object appended to a buffer: o.S("k", "v").I("n", 1).End().
class Obj {
 public:
  explicit Obj(std::string& b) : b_(b) { b_ += '{'; }
  Obj& S(const char* k, std::string_view v) {
    Key(k);
    AppendEscaped(b_, v);
    return *this;
  }
  Obj& I(const char* k, int64_t v) {
    Key(k);
    AppendInt(b_, v);
    return *this;
  }
  Obj& D(const char* k, double v) {
    Key(k);
    AppendNumber(b_, v);
    return *this;
  }
  Obj& B(const char* k, bool v) {
    Key(k);
    b_ += v ? "true" : "false";
    return *this;
  }
  // `json` must be a complete JSON value.
  Obj& Raw(const char* k, std::string_view json) {
    Key(k);
    b_ += json;
    return *this;
  }
  void End() { b_ += '}'; }

 private:
  void Key(const char* k) {
    if (!first_) b_ += ',';
    first_ = false;
    b_ += '"';
    b_ += k;
    b_ += "\":";
  }
  std::string& b_;
  bool first_ = true;
};

// The command lines of the term, flushed in (time, creation) order.
class Script {
 public:
  // Starts a command line at `at`; finish it with Done().
  Obj Begin(Micros at, const char* command, std::string_view command_id, std::string_view actor) {
    if (at < watermark_ && early_.empty()) early_ = std::string(command_id);
    open_ = {at, seq_++, arena_.size(), 0};
    Obj o(arena_);
    o.S("command", command).S("command_id", command_id).S("actor", actor).S("at", At(at));
    return o;
  }
  void Done(Obj& o) {
    o.End();
    open_.len = static_cast<uint32_t>(arena_.size() - open_.off);
    recs_.push_back(open_);
  }
  // A complete command line (JSON text).
  void AddRaw(Micros at, std::string_view line) {
    if (at < watermark_ && early_.empty()) early_ = std::string(line.substr(0, 80));
    recs_.push_back({at, seq_++, arena_.size(), static_cast<uint32_t>(line.size())});
    arena_ += line;
  }
  // Hands every pending line earlier than `upto` to a thread that writes them while the next phase
  // is generated (the write's copy into the page cache was a third of the national generator's
  // time); later lines must not be earlier than it. Waits for the previous phase's write first, so
  // one is in flight and the buffers keep their capacity from phase to phase (fresh ones cost a
  // page fault per 4 KiB). Finish() waits for the last.
  Status Flush(Micros upto, std::ostream& out) {
    VEEDURIA_RETURN_IF_ERROR(Finish());
    if (!early_.empty())
      return Status::Internal("generator: command " + early_ + " falls before an already written phase");
    std::sort(recs_.begin(), recs_.end(),
              [](const Rec& a, const Rec& b) { return a.at != b.at ? a.at < b.at : a.seq < b.seq; });
    size_t n = 0;
    while (n < recs_.size() && recs_[n].at < upto) ++n;
    rest_.clear();
    keep_.clear();
    for (size_t i = n; i < recs_.size(); ++i) {
      Rec r = recs_[i];
      rest_.append(arena_, r.off, r.len);
      r.off = rest_.size() - r.len;
      keep_.push_back(r);
    }
    // The lines to write stay in what are now rest_ and keep_ until the writer is done.
    arena_.swap(rest_);
    recs_.swap(keep_);
    written_ += n;
    watermark_ = upto;
    writer_ = std::thread([this, n, &out] {
      chunk_.clear();
      for (size_t i = 0; i < n; ++i) {
        chunk_.append(rest_, keep_[i].off, keep_[i].len);
        chunk_ += '\n';
        if (chunk_.size() >= (1 << 20) || i + 1 == n) {
          out.write(chunk_.data(), static_cast<std::streamsize>(chunk_.size()));
          chunk_.clear();
        }
      }
      if (!out) write_status_ = Status::IOError("generator: write failed");
    });
    return Status::Ok();
  }
  // Waits for the phase being written; how its write ended.
  Status Finish() {
    if (writer_.joinable()) writer_.join();
    return std::exchange(write_status_, Status::Ok());
  }
  ~Script() {
    if (writer_.joinable()) writer_.join();
  }
  uint64_t written() const { return written_; }

 private:
  struct Rec {
    Micros at;
    uint64_t seq;
    size_t off;
    uint32_t len;
  };
  // events::FormatRfc3339 (snprintf) was a tenth of the generator's time: format the UTC date
  // once per day and the whole-second time of day by hand; same text ("…T14:02:00Z").
  const std::string& At(Micros at) {
    if (at == last_at_) return last_at_text_;
    last_at_ = at;
    constexpr Micros kSecond = 1'000'000, kDay = 86'400 * kSecond;
    if (at % kSecond != 0 || at < 0) return last_at_text_ = events::FormatRfc3339(at);
    const Micros day = at / kDay;
    if (day != date_day_) {
      date_day_ = day;
      const std::string full = events::FormatRfc3339(day * kDay);  // "YYYY-MM-DDT00:00:00Z"
      date_prefix_ = full.substr(0, full.find('T') + 1);
    }
    const int64_t secs = (at % kDay) / kSecond;
    const int hh = static_cast<int>(secs / 3600), mm = static_cast<int>(secs / 60 % 60),
              ss = static_cast<int>(secs % 60);
    last_at_text_ = date_prefix_;
    const char t[] = {static_cast<char>('0' + hh / 10), static_cast<char>('0' + hh % 10), ':',
                      static_cast<char>('0' + mm / 10), static_cast<char>('0' + mm % 10), ':',
                      static_cast<char>('0' + ss / 10), static_cast<char>('0' + ss % 10), 'Z'};
    last_at_text_.append(t, sizeof t);
    return last_at_text_;
  }
  std::string arena_, rest_, chunk_;  // rest_: the next arena_, and the last phase's until written
  std::vector<Rec> recs_, keep_;      // keep_: likewise
  std::thread writer_;                // writes the last phase (chunk_ is its own)
  Status write_status_;
  Rec open_{};
  uint64_t seq_ = 0, written_ = 0;
  Micros watermark_ = INT64_MIN, last_at_ = INT64_MIN, date_day_ = INT64_MIN;
  std::string last_at_text_, date_prefix_, early_;
};

struct Indicator {
  std::string code, name, unit;
  double acumulativo_share = 1;
};

struct Goal {
  std::string id;
  uint32_t indicator;
  bool acum;
  double yearly[kYears];
  int64_t pesos[kYears];
};

struct LeaderChange {
  int year;
  Micros requested, activated;
  std::string email;
};

// The published MDM 2020 results of one municipality of Antioquia (../shared/data/mdm): the eight
// sub-scores and the ajuste, in the order of kMdmInputs.
using MdmRow = std::array<double, 9>;
constexpr const char* kMdmInputs[] = {"movilizacion_recursos",
                                      "ejecucion_recursos",
                                      "gobierno_abierto_transparencia",
                                      "ordenamiento_territorial",
                                      "educacion",
                                      "salud",
                                      "servicios_publicos",
                                      "seguridad_convivencia",
                                      "ajuste_por_resultados"};
// MDM.md: the 13 main cities are group C; the others G1…G5. San Andrés and Barrancominas are not
// measured.
constexpr const char* kMdmCities[] = {"11001", "05001", "76001", "08001", "68001", "13001", "54001",
                                      "73001", "17001", "23001", "52001", "66001", "50001"};
constexpr const char* kMdmUnmeasured[] = {"88001", "94343"};

struct Entity {
  std::string code, name, department, kind;
  bool is_dept = false;
  int mdm_base = -1;      // its row of the published sample; -1: not measured
  MdmRow mdm_last{};      // its inputs of the last vigencia from 2020 on
  std::string mdm_group;  // C, G1…G5
  std::string reporter, reviewer;
  std::vector<std::pair<Micros, std::string>> leaders;  // (activated at, email), in time order
  std::vector<LeaderChange> changes;                    // after the first leader
  double late_p = 0, perf = 1;
  std::vector<Goal> goals;
  const std::string& LeaderAt(Micros t) const {
    size_t i = 0;
    while (i + 1 < leaders.size() && leaders[i + 1].first <= t) ++i;
    return leaders[i].second;
  }
};

struct Cut {
  const char* id;
  int month, day;  // deadline, in the year after the cut's for Q4
};
constexpr Cut kCuts[] = {{"Q1", 4, 15}, {"Q2", 7, 15}, {"Q3", 10, 15}, {"Q4", 1, 31}};

class Term {
 public:
  Term(const GeneratorOptions& o, std::ostream& out)
      : o_(o), out_(out), rng_(o.seed), mdm_rng_(o.seed ^ 0x6d646d2d32303230ULL) {}
  Result<GeneratorStats> Run();

 private:
  double Uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  bool Chance(double p) { return Uniform(0, 1) < p; }
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::string Hash() {
    static const char kHex[] = "0123456789abcdef";
    std::string h(64, '0');
    for (size_t i = 0; i < 64; i += 16) {
      uint64_t r = rng_();
      for (size_t j = 0; j < 16; ++j, r >>= 4) h[i + j] = kHex[r & 15];
    }
    return h;
  }
  Status Load();
  void YearStart(int year);
  void Plan(Entity& e, Micros at);
  void Program(Entity& e, Goal& g, int year, Micros at, const std::string& id_suffix);
  void CutPhase(int year, int q);
  void Gestion(Entity& e, int year);
  void Mdm(Entity& e, int year);

  const GeneratorOptions& o_;
  std::ostream& out_;
  std::mt19937_64 rng_;
  // The MDM's own draws, so that adding them left every other line of a seed as it was.
  std::mt19937_64 mdm_rng_;
  std::vector<MdmRow> mdm_sample_;
  Script s_;
  std::vector<Entity> all_;
  std::vector<size_t> active_;
  std::vector<Indicator> indicators_;
  std::string catalog_rows_;
  std::vector<std::string> campaign_lines_;  // the 2023 file, as JSON text
  GeneratorStats stats_;
  std::string buf_;
};

Status Term::Load() {
  auto depts = Slurp(o_.data_dir + "/divipola/divipola_departamentos.csv");
  auto munis = Slurp(o_.data_dir + "/divipola/divipola_municipios.csv");
  auto cpi = Slurp(o_.data_dir + "/cpi/cpi_indicadores_muestra_sispt_sabana_centro.csv");
  auto campaigns = Slurp(o_.campaigns_file);
  const std::string mdm_file = o_.data_dir + "/mdm/mdm_2020_antioquia.csv";
  auto mdm = Slurp(mdm_file);
  for (const auto* r : {&depts, &munis, &cpi, &campaigns, &mdm})
    if (!r->ok()) return r->status();
  for (const auto& rec : ParseCsv(*mdm)) {
    if (rec.line == 1) continue;
    // cod_mpio,cod_dpto,nom_dpto,nom_mpio, 4 gestión sub-scores, gestion, 4 resultados
    // sub-scores, resultados, ajuste_por_resultados, mdm
    if (rec.fields.size() != 16)
      return Status::InvalidArgument(mdm_file + ":" + std::to_string(rec.line) +
                                     ": expected 16 fields, got " + std::to_string(rec.fields.size()));
    MdmRow row;
    const int columns[] = {4, 5, 6, 7, 9, 10, 11, 12, 14};
    for (size_t i = 0; i < row.size(); ++i) {
      char* end = nullptr;
      const std::string& f = rec.fields[columns[i]];
      row[i] = std::strtod(f.c_str(), &end);
      if (f.empty() || end != f.c_str() + f.size())
        return Status::InvalidArgument(mdm_file + ":" + std::to_string(rec.line) + ": field " +
                                       kMdmInputs[i] + ": '" + f + "' is not a number");
    }
    mdm_sample_.push_back(row);
  }
  if (mdm_sample_.empty()) return Status::InvalidArgument(mdm_file + ": no municipality");
  for (const auto& rec : ParseCsv(*depts))
    if (rec.line > 1 && rec.fields.size() >= 2)
      all_.push_back({rec.fields[0], rec.fields[1], rec.fields[0], "departamento"});
  for (const auto& rec : ParseCsv(*munis)) {
    if (rec.line == 1 || rec.fields.size() < 5 || rec.fields[4] != "Municipio") continue;  // islands, ANM
    all_.push_back(
        {rec.fields[2], rec.fields[3], rec.fields[0], rec.fields[2] == "11001" ? "distrito" : "municipio"});
  }
  catalog_rows_ = "[";
  for (const auto& rec : ParseCsv(*cpi)) {
    if (rec.line == 1 || rec.fields.size() < 12) continue;
    Indicator ind{rec.fields[6], rec.fields[7], rec.fields[8], 1};
    ind.acumulativo_share = AcumulativoShare(rec.fields[11]);
    if (catalog_rows_.size() > 1) catalog_rows_ += ',';
    Obj(catalog_rows_)
        .S("indicator", ind.code)
        .S("name", ind.name)
        .S("unit", ind.unit)
        .B("principal", rec.fields[9] == "Sí")
        .End();
    indicators_.push_back(std::move(ind));
  }
  catalog_rows_ += ']';
  if (indicators_.empty()) return Status::InvalidArgument("no CPI indicators in the sample");
  for (const auto& line : events::SplitLines(*campaigns)) campaign_lines_.emplace_back(line.text);

  for (size_t i = 0; i < all_.size(); ++i) {
    Entity& e = all_[i];
    e.is_dept = e.kind == "departamento";
    e.reporter = "sispt@" + e.code + ".gov.co";
    e.reviewer = "revisor.planeacion@" + e.department + ".gov.co";
    const auto is = [&](const auto& codes) {
      return std::find(std::begin(codes), std::end(codes), e.code) != std::end(codes);
    };
    if (!e.is_dept && !is(kMdmUnmeasured)) {
      e.mdm_base = std::uniform_int_distribution<int>(0, static_cast<int>(mdm_sample_.size()) - 1)(mdm_rng_);
      e.mdm_group =
          is(kMdmCities) ? "C" : "G" + std::to_string(std::uniform_int_distribution<int>(1, 5)(mdm_rng_));
    }
    if (o_.scale == "national" || e.department == "25") active_.push_back(i);
  }
  // Gobernaciones first: their leaders grant their department's reviewer role.
  std::stable_partition(active_.begin(), active_.end(), [&](size_t i) { return all_[i].is_dept; });
  if (o_.max_entities > 0 && active_.size() > o_.max_entities) active_.resize(o_.max_entities);
  return Status::Ok();
}

void Term::Program(Entity& e, Goal& g, int year, Micros at, const std::string& id_suffix) {
  const int y = year - kFirstYear;
  buf_.clear();
  Obj res(buf_);
  const int64_t sgp = static_cast<int64_t>(Uniform(20, 800)) * 1'000'000;
  const int64_t propios = static_cast<int64_t>(Uniform(5, 300)) * 1'000'000;
  int64_t sgr = 0;
  res.I("SGP", sgp).I("Recursos propios", propios);
  // SGR is a column of the 2020–2023 period's sources, used by about one goal in five.
  if (Chance(0.2)) res.I("SGR", sgr = static_cast<int64_t>(Uniform(100, 2000)) * 1'000'000);
  res.End();
  g.pesos[y] = sgp + propios + sgr;
  Obj c = s_.Begin(at, "program_goal", e.code + "-prog-" + g.id + "-" + std::to_string(year) + id_suffix,
                   e.reporter);
  c.S("entity", e.code)
      .S("plan", "PDT-2020-2023")
      .S("goal", g.id)
      .I("year", year)
      .D("physical", g.yearly[y])
      .Raw("resources", buf_);
  s_.Done(c);
}

void Term::Plan(Entity& e, Micros plan_at) {
  Obj up = s_.Begin(plan_at, "upload_plan", e.code + "-plan", e.reporter);
  up.S("entity", e.code)
      .S("plan", "PDT-2020-2023")
      .S("name", "Plan de Desarrollo " + e.name + " 2020-2023")
      .Raw("period", "[2020,2023]")
      .S("document_sha256", Hash());
  s_.Done(up);
  // Plan sizes (DESIGN §1): 90–150 goals for small municipalities, 250–420 for mid-size ones and
  // departments; about two in five municipalities are small, which gives ~300k goals nationwide.
  const bool small = !e.is_dept && Chance(0.4);
  const int n = small ? Pick(90, 150) : Pick(250, 420);
  stats_.goals += n;
  e.goals.reserve(n);
  Micros t = plan_at + 10 * kMinute;
  for (int i = 1; i <= n; ++i) {
    Goal g;
    g.id = "IP-" + std::to_string(i);
    g.indicator = static_cast<uint32_t>(rng_() % indicators_.size());
    const Indicator& ind = indicators_[g.indicator];
    g.acum = Chance(ind.acumulativo_share);
    const double level = std::round(Uniform(1, 40));
    for (double& y : g.yearly) y = g.acum ? std::round(Uniform(1, 20)) : level;
    if (!g.acum && Chance(0.15)) g.yearly[0] = std::round(level * 0.8);  // ramping up: a real inconsistency
    double target = g.acum ? g.yearly[0] + g.yearly[1] + g.yearly[2] + g.yearly[3] : level;
    if (Chance(0.05)) target += 1;  // declared total off by one, as in real exports
    // About 2% of goals arrive with a code outside the catalogue and are homologated days later.
    const bool homologated = !Chance(0.02);
    Obj d = s_.Begin(t, "define_goal", e.code + "-def-" + g.id, e.reporter);
    d.S("entity", e.code)
        .S("plan", "PDT-2020-2023")
        .S("goal", g.id)
        .S("cpi_indicator", homologated ? ind.code : "99" + ind.code.substr(2))
        .S("name", ind.name)
        .S("unit", ind.unit)
        .I("baseline", 0)
        .D("target", target)
        .S("accumulation", g.acum ? "acumulativo" : "no_acumulativo");
    s_.Done(d);
    if (!homologated) {
      Obj h = s_.Begin(t + Pick(1, 20) * kDayUs, "homologate_goal", e.code + "-hom-" + g.id, e.reporter);
      h.S("entity", e.code).S("plan", "PDT-2020-2023").S("goal", g.id).S("cpi_indicator", ind.code);
      s_.Done(h);
    }
    for (int y = 0; y < kYears; ++y) Program(e, g, kFirstYear + y, t += kMinute, "");
    t += kMinute;
    e.goals.push_back(std::move(g));
  }
}

// January to March: leaders, roles and the plan (2020); later years, plan adjustments
// (reprogramming of the years left), leader changes, new reporters and password resets.
void Term::YearStart(int year) {
  if (year == kFirstYear) {
    const Micros t0 = Day(2020, 1, 2) + 9 * kHour;
    for (const Entity& e : all_) {
      Obj c = s_.Begin(t0, "register_entity", "divipola-" + e.code, kAdmin);
      c.S("entity", e.code).S("name", e.name).S("kind", e.kind).S("department", e.department);
      s_.Done(c);
    }
    Obj cat = s_.Begin(t0 + 30 * kMinute, "load_catalog", "catalog-cpi-muestra-sispt", kAdmin);
    cat.S("version", "CPI-muestra-SisPT").Raw("rows", catalog_rows_);
    s_.Done(cat);
  }
  for (size_t i : active_) {
    Entity& e = all_[i];
    if (year == kFirstYear) {
      const std::string leader = "planeacion@" + e.code + ".gov.co";
      const Micros req = Day(2020, 1, 10) + Pick(8, 16) * kHour + Pick(0, 59) * kMinute;
      Obj r = s_.Begin(req, "request_leader", e.code + "-leader-1", leader);
      r.S("entity", e.code)
          .S("email", leader)
          .S("name", "Jefe de planeación de " + e.name)
          .Raw("supports", "[{\"kind\":\"acta_de_posesion\",\"sha256\":\"" + Hash() +
                               "\"},{\"kind\":\"cedula\",\"sha256\":\"" + Hash() + "\"}]");
      s_.Done(r);
      const Micros act = req + Pick(20, 60) * kHour;
      Obj a = s_.Begin(act, "activate_leader", e.code + "-activate-1", "system");
      a.S("request_id", e.code + "-leader-1");
      s_.Done(a);
      e.leaders.push_back({act, leader});
      // Leader changes of the later years are drawn now: a cut's submission in January is
      // written before that year's start, and must name whoever leads the entity by then.
      for (int later = kFirstYear + 1; later < kFirstYear + kYears; ++later) {
        if (e.is_dept || !Chance(0.1)) continue;
        LeaderChange ch{later, Day(later, 1, 15) + Pick(0, 50) * kDayUs + 11 * kHour, 0,
                        "planeacion" + std::to_string(later) + "@" + e.code + ".gov.co"};
        ch.activated = ch.requested + Pick(20, 60) * kHour;
        e.leaders.push_back({ch.activated, ch.email});
        e.changes.push_back(std::move(ch));
      }
      e.late_p = Uniform(0.05, 0.5);
      e.perf = Uniform(0.35, 1.15);
      const Micros grants = Day(2020, 1, 20) + Pick(8, 17) * kHour;
      Obj g = s_.Begin(grants, "grant_role", e.code + "-grant-reporter", leader);
      g.S("user", e.reporter).S("role", "reporter").S("scope", e.code);
      s_.Done(g);
      if (e.is_dept) {
        Obj rv = s_.Begin(grants + kMinute, "grant_role", e.code + "-grant-reviewer", leader);
        rv.S("user", e.reviewer).S("role", "department_reviewer").S("scope", e.code);
        s_.Done(rv);
      }
      Plan(e, Day(2020, 2, 1) + Pick(0, 14) * kDayUs + 9 * kHour);
      continue;
    }
    // The year's budget is approved: every goal's programming for the year that starts is
    // updated with its resources, and about a third of the goals adjust their physical target.
    const int y = year - kFirstYear;
    Micros t = Day(year, 2, 1) + Pick(0, 20) * kDayUs + 9 * kHour;
    for (Goal& g : e.goals) {
      if (g.acum && Chance(0.33)) g.yearly[y] = std::round(g.yearly[y] * Uniform(0.7, 1.3)) + 1;
      Program(e, g, year, t += kMinute, "-budget" + std::to_string(year));
    }
    for (const LeaderChange& ch : e.changes) {  // a new leader, drawn in 2020
      if (ch.year != year) continue;
      const std::string& next = ch.email;
      const std::string req_id = e.code + "-leader-" + std::to_string(year);
      const Micros r = ch.requested;
      Obj rq = s_.Begin(r, "request_leader", req_id, next);
      rq.S("entity", e.code)
          .S("email", next)
          .S("name", "Jefe de planeación de " + e.name + " (" + std::to_string(year) + ")")
          .Raw("supports", "[{\"kind\":\"acta_de_posesion\",\"sha256\":\"" + Hash() + "\"}]");
      s_.Done(rq);
      Obj a =
          s_.Begin(ch.activated, "activate_leader", e.code + "-activate-" + std::to_string(year), "system");
      a.S("request_id", req_id);
      s_.Done(a);
    }
    if (Chance(0.15)) {  // a second reporter, granted by the leader of the day
      const Micros at = Day(year, 3, 20) + Pick(8, 17) * kHour;
      Obj g = s_.Begin(at, "grant_role", e.code + "-grant-apoyo-" + std::to_string(year), e.LeaderAt(at));
      g.S("user", "apoyo" + std::to_string(year) + "@" + e.code + ".gov.co")
          .S("role", "reporter")
          .S("scope", e.code);
      s_.Done(g);
    }
    if (Chance(0.1)) {
      const Micros at = Day(year, 3, 1) + Pick(0, 20) * kDayUs + 10 * kHour;
      const std::string& who = e.LeaderAt(at);
      Obj rq = s_.Begin(at, "request_password_reset", e.code + "-reset-req-" + std::to_string(year), who);
      rq.S("user", who);
      s_.Done(rq);
      Obj dn = s_.Begin(at + 20 * kMinute, "complete_password_reset",
                        e.code + "-reset-done-" + std::to_string(year), who);
      dn.S("user", who);
      s_.Done(dn);
    }
  }
  if (year == kFirstYear) {  // what a ledger must also record: attempts the rules refuse
    int n = 0;
    for (size_t i : active_) {
      const Entity& e = all_[i];
      if (e.is_dept || ++n > 3) continue;
      Obj p = s_.Begin(Day(2020, 3, 20) + 15 * kHour, "program_goal", e.code + "-prog-IP-1-2020-millones",
                       e.reporter);
      p.S("entity", e.code)
          .S("plan", "PDT-2020-2023")
          .S("goal", "IP-1")
          .I("year", 2020)
          .I("physical", 1)
          .Raw("resources", "{\"SGP\":\"1.234.567,89\"}");
      s_.Done(p);
      Obj r =
          s_.Begin(Day(2020, 3, 25) + 16 * kHour, "complete_password_reset", e.code + "-dnp-reset", kAdmin);
      r.S("user", e.leaders[0].second);
      s_.Done(r);
    }
  }
}

void Term::Gestion(Entity& e, int year) {
  if (e.is_dept || Chance(0.05)) return;  // 5% never report GESTIONWEB
  const Micros deadline = Day(year, 6, 23);
  const Micros at = Chance(0.8) ? deadline - Pick(1, 25) * kDayUs + 10 * kHour
                                : deadline + Pick(1, 9) * kDayUs + 10 * kHour;
  buf_.clear();
  Obj v(buf_);
  v.I("MR_01", static_cast<int64_t>(Uniform(500, 90000)) * 1'000'000)
      .I("MR_03", static_cast<int64_t>(Uniform(200, 40000)) * 1'000'000)
      .I("ER_01", static_cast<int64_t>(Uniform(2000, 300000)) * 1'000'000)
      .B("GA_01", Chance(0.85))
      .I("GA_02", Pick(10, 400))
      .End();
  Obj c = s_.Begin(at, "report_gestion", e.code + "-gestion-" + std::to_string(year - 1), e.reporter);
  c.S("entity", e.code).S("campaign", "GESTIONWEB-" + std::to_string(year - 1)).Raw("variables", buf_);
  s_.Done(c);
}

// DNP records, in August and September, the MDM inputs of the vigencia before for every measured
// municipality: its sub-scores and ajuste are those of a municipality of Antioquia's published
// 2020 results (MDM.md) for vigencia 2020, each input drifted by up to ±6 points (the ajuste ±0.01)
// a year before and after it.
void Term::Mdm(Entity& e, int year) {
  if (e.mdm_base < 0) return;
  const auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(mdm_rng_);
  };
  const Micros at = Day(year, 8, 20) + static_cast<Micros>(uniform(0, 25)) * kDayUs + 10 * kHour;
  const int vigencia = year - 1;
  // The sample is vigencia 2020's: 2019 is a year's drift from it, 2021 and 2022 each a year's
  // drift from the year before.
  const auto drifted = [&](const MdmRow& from) {
    MdmRow to = from;
    for (size_t i = 0; i < to.size(); ++i) {
      const bool ajuste = i + 1 == to.size();
      to[i] = ajuste ? std::clamp(to[i] + uniform(-0.01, 0.01), 0.95, 1.08)
                     : std::clamp(to[i] + uniform(-6, 6), 0.0, 100.0);
    }
    return to;
  };
  const MdmRow& base = mdm_sample_[static_cast<size_t>(e.mdm_base)];
  MdmRow values;
  if (vigencia < 2020) {
    values = drifted(base);
  } else {
    e.mdm_last = vigencia == 2020 ? base : drifted(e.mdm_last);
    values = e.mdm_last;
  }
  buf_.clear();
  Obj in(buf_);
  for (size_t i = 0; i < values.size(); ++i) in.D(kMdmInputs[i], std::round(values[i] * 1e6) / 1e6);
  in.End();
  Obj c = s_.Begin(at, "record_mdm_inputs", e.code + "-mdm-" + std::to_string(vigencia), kAdmin);
  c.S("entity", e.code)
      .I("vigencia", vigencia)
      .S("methodology", "mdm-2020")
      .Raw("inputs", buf_)
      .S("group", e.mdm_group)
      .S("source", "DNP MDM " + std::to_string(vigencia) + " (generated: a published 2020 row of Antioquia" +
                       (vigencia == 2020 ? ")" : ", drifted)"));
  s_.Done(c);
}

// One cut of one year for every active entity: progress (late, missing, corrected), the
// submission, and for Q1–Q3 the gobernación's review, adjustment requests and notifications.
void Term::CutPhase(int year, int q) {
  const Cut& cut = kCuts[q];
  const int y = year - kFirstYear;
  const std::string campaign = "KPT-" + std::to_string(year);
  const Micros deadline = q == 3 ? Day(year + 1, cut.month, cut.day) : Day(year, cut.month, cut.day);
  std::vector<std::string> missing;
  std::string fin;
  for (size_t i : active_) {
    Entity& e = all_[i];
    if (q == 0) Gestion(e, year);
    if (q == 1) Mdm(e, year);
    // Q4 is the campaign's last deadline (after it reports are refused): everyone reports, on time.
    if (q < 3 && !e.is_dept && Chance(0.03)) {
      missing.push_back(e.code);
      continue;
    }
    const bool late = q < 3 && Chance(e.late_p);
    Micros at =
        late ? deadline + Pick(1, 20) * kDayUs + 9 * kHour : deadline - Pick(1, 10) * kDayUs + 9 * kHour;
    const std::string prefix = e.code + "-" + std::to_string(year) + cut.id + "-";
    for (Goal& g : e.goals) {
      if (Chance(0.02)) continue;  // a goal left without its report
      const double ytd = std::round(g.yearly[y] * (q + 1) / 4.0 * e.perf * Uniform(0.8, 1.2) * 10) / 10;
      const int64_t obl =
          static_cast<int64_t>(static_cast<double>(g.pesos[y]) * (q + 1) / 4.0 * e.perf * Uniform(0.5, 1.0));
      fin.clear();
      fin += "{\"SGP\":{\"compromisos\":";
      AppendInt(fin, obl + obl / 4);
      fin += ",\"obligaciones\":";
      AppendInt(fin, obl);
      fin += ",\"pagos\":";
      AppendInt(fin, obl * 9 / 10);
      fin += "}}";
      Obj c = s_.Begin(at, "report_progress", prefix + g.id, e.reporter);
      c.S("entity", e.code)
          .S("plan", "PDT-2020-2023")
          .S("goal", g.id)
          .S("campaign", campaign)
          .S("milestone", cut.id)
          .D("physical_ytd", ytd)
          .Raw("financial", fin);
      s_.Done(c);
      if (Chance(0.1)) {  // the entity corrects its own report a few days later
        Obj f = s_.Begin(std::min(at + Pick(1, 5) * kDayUs, q == 3 ? deadline - kHour : INT64_MAX),
                         "report_progress", prefix + g.id + "-corr", e.reporter);
        f.S("entity", e.code)
            .S("plan", "PDT-2020-2023")
            .S("goal", g.id)
            .S("campaign", campaign)
            .S("milestone", cut.id)
            .D("physical_ytd", std::round(ytd * Uniform(0.9, 1.1) * 10) / 10)
            .S("note", "Corrección de la entidad");
        s_.Done(f);
      }
      at += 2 * kMinute;
    }
    at += 30 * kMinute;
    Obj sub =
        s_.Begin(at, "submit_report", e.code + "-submit-" + std::to_string(year) + cut.id, e.LeaderAt(at));
    sub.S("entity", e.code).S("campaign", campaign).S("milestone", cut.id);
    s_.Done(sub);
    if (e.is_dept || q == 3) continue;
    const Micros review = at + Pick(2, 8) * kDayUs;
    if (Chance(0.1) && !e.goals.empty()) {
      const std::string req = e.code + "-adj-" + std::to_string(year) + cut.id;
      const Goal& g = e.goals[rng_() % e.goals.size()];
      const Micros due = review + 15 * kDayUs;
      Obj r = s_.Begin(review, "request_adjustment", req, e.reviewer);
      r.S("entity", e.code)
          .S("campaign", campaign)
          .S("milestone", cut.id)
          .S("kind", Chance(0.7) ? "adjustment" : "clarification")
          .Raw("items",
               "[{\"goal\":\"" + g.id +
                   "\",\"observation\":\"El avance reportado no es coherente con la programación\"}]")
          .S("due", events::FormatDate(events::BogotaDay(due)));
      s_.Done(r);
      if (Chance(0.7)) {
        const Micros fix = review + Pick(2, 12) * kDayUs;
        Obj f = s_.Begin(fix, "report_progress", prefix + g.id + "-fix", e.reporter);
        f.S("entity", e.code)
            .S("plan", "PDT-2020-2023")
            .S("goal", g.id)
            .S("campaign", campaign)
            .S("milestone", cut.id)
            .D("physical_ytd", std::round(g.yearly[y] * (q + 1) / 4.0 * 10) / 10)
            .S("note", "Corrección solicitada por la gobernación");
        s_.Done(f);
        Obj a = s_.Begin(fix + kHour, "answer_adjustment", req + "-answer", e.LeaderAt(fix + kHour));
        a.S("request_id", req)
            .S("note", "Se corrigió el avance de la meta " + g.id)
            .Raw("evidence", "[{\"name\":\"oficio_respuesta.pdf\",\"sha256\":\"" + Hash() + "\"}]");
        s_.Done(a);
        Obj v = s_.Begin(fix + 3 * kDayUs, "validate_report",
                         e.code + "-validate-" + std::to_string(year) + cut.id, e.reviewer);
        v.S("entity", e.code).S("campaign", campaign).S("milestone", cut.id).S("note", "Ajustes verificados");
        s_.Done(v);
      } else {
        Obj n = s_.Begin(due + 2 * kDayUs + 10 * kHour, "notify_noncompliance",
                         e.code + "-notify-adj-" + std::to_string(year) + cut.id, e.reviewer);
        n.S("entity", e.code)
            .S("campaign", campaign)
            .S("milestone", cut.id)
            .S("reason", "adjustments_not_made")
            .S("channel", "email")
            .S("message_sha256", Hash());
        s_.Done(n);
      }
    } else if (Chance(0.8)) {
      Obj v = s_.Begin(review, "validate_report", e.code + "-validate-" + std::to_string(year) + cut.id,
                       e.reviewer);
      v.S("entity", e.code).S("campaign", campaign).S("milestone", cut.id).S("note", "Sin observaciones");
      s_.Done(v);
    }
  }
  // The gobernaciones notify who did not report; DNP refers about one in five to a control body.
  for (size_t i = 0; i < missing.size(); ++i) {
    const std::string& code = missing[i];
    const Entity* e = nullptr;
    for (size_t k : active_)
      if (all_[k].code == code) e = &all_[k];
    const Micros n_at = deadline + 6 * kDayUs + 10 * kHour + static_cast<Micros>(i) * kMinute;
    Obj n = s_.Begin(n_at, "notify_noncompliance", code + "-notify-" + std::to_string(year) + cut.id,
                     e->reviewer);
    n.S("entity", code)
        .S("campaign", campaign)
        .S("milestone", cut.id)
        .S("reason", "not_reported")
        .S("channel", "certified_mail")
        .S("message_sha256", Hash());
    s_.Done(n);
    if (Chance(0.2)) {
      Obj r = s_.Begin(deadline + 31 * kDayUs + 10 * kHour + static_cast<Micros>(i) * kMinute,
                       "refer_to_control_body", code + "-refer-" + std::to_string(year) + cut.id, kAdmin);
      r.S("entity", code)
          .S("campaign", campaign)
          .S("milestone", cut.id)
          .S("control_body", "Procuraduría Provincial")
          .S("case", "PP-" + std::to_string(year) + "-" + code + "-" + cut.id)
          .S("reason", "No reportó el corte tras la notificación de la gobernación");
      s_.Done(r);
    }
  }
}

// The 2023 campaign file's line shifted `back` years earlier (campaign name, vigencia, dates).
std::string ShiftCampaign(const std::string& line, int back) {
  nlohmann::json c = nlohmann::json::parse(line);
  auto shift = [&](nlohmann::json& v) {
    std::string s = v.get<std::string>();
    s.replace(0, 4, std::to_string(std::stoi(s.substr(0, 4)) - back));
    v = s;
  };
  std::string name = c["campaign"].get<std::string>();
  const size_t dash = name.rfind('-');
  c["campaign"] = name.substr(0, dash + 1) + std::to_string(std::stoi(name.substr(dash + 1)) - back);
  c["command_id"] = "campaign-" + c["campaign"].get<std::string>();
  c["vigencia"] = c["vigencia"].get<int>() - back;
  shift(c["at"]);
  for (auto& m : c["milestones"]) {
    shift(m["deadline"]);
    if (m.contains("cut")) shift(m["cut"]);
  }
  return c.dump();
}

Result<GeneratorStats> Term::Run() {
  if (Status st = Load(); !st.ok()) return st;
  stats_.entities_active = active_.size();
  for (int year = kFirstYear; year < kFirstYear + kYears; ++year) {
    YearStart(year);
    if (Status st = s_.Flush(Day(year, 4, 1), out_); !st.ok()) return st;
    for (const std::string& line : campaign_lines_) {  // opened on 1 April, as in the 2023 file
      const std::string shifted = ShiftCampaign(line, 2023 - year);
      auto at = events::ParseRfc3339(nlohmann::json::parse(shifted)["at"].get<std::string>());
      if (!at) return Status::InvalidArgument("campaign line without a valid 'at': " + line);
      s_.AddRaw(*at, shifted);
    }
    const Micros next[] = {Day(year, 7, 5), Day(year, 10, 5), Day(year + 1, 1, 2), Day(year + 1, 1, 2)};
    for (int q = 0; q < 4; ++q) {
      CutPhase(year, q);
      if (q < 3)
        if (Status st = s_.Flush(next[q], out_); !st.ok()) return st;
    }
  }
  if (Status st = s_.Flush(INT64_MAX, out_); !st.ok()) return st;
  if (Status st = s_.Finish(); !st.ok()) return st;
  stats_.commands = s_.written();
  return stats_;
}

}  // namespace

double AcumulativoShare(const std::string& mix) {
  double acum = 0, total = 0;
  for (size_t pos = 0; pos < mix.size();) {
    size_t end = mix.find(';', pos);
    if (end == std::string::npos) end = mix.size();
    const std::string part = mix.substr(pos, end - pos);
    const size_t eq = part.find('=');
    if (eq != std::string::npos) {
      const double n = std::atof(part.c_str() + eq + 1);
      total += n;
      if (part.rfind("Acumulativo", 0) == 0) acum += n;
    }
    pos = end + 1;
  }
  return total > 0 ? acum / total : 1;
}

Result<GeneratorStats> GenerateTerm(const GeneratorOptions& options, std::ostream& out) {
  return Term(options, out).Run();
}

}  // namespace veeduria::producers::internal
