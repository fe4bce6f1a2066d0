// The MDM methodology versions and the recompute (../shared/MDM.md); see mdm.h.

#include "veeduria/events/mdm.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>

namespace veeduria::events::mdm {
namespace {

const std::vector<std::string> kGestion = {"movilizacion_recursos", "ejecucion_recursos",
                                           "gobierno_abierto_transparencia", "ordenamiento_territorial"};
const std::vector<std::string> kResultados = {"educacion", "salud", "servicios_publicos",
                                              "seguridad_convivencia"};

std::vector<InputSpec> SubScores() {
  std::vector<InputSpec> out;
  for (const auto* parts : {&kGestion, &kResultados})
    for (const auto& n : *parts) out.push_back({n, 0, 100, false});
  return out;
}

// mdm-2020: DNP's formula for the ajuste is not published (MDM.md), so it is a recorded input.
double RecordedAjuste(const Levels& l) { return l.inputs->at("ajuste_por_resultados"); }

double Mean(const std::map<std::string, double>& values, const std::vector<std::string>& names) {
  double sum = 0;
  for (const auto& n : names) sum += values.at(n);
  return sum / static_cast<double>(names.size());
}

std::string Bits(double v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(u));
  return buf;
}

// Position = 1 + the number of scores strictly higher, for every score in `idx` by `value`.
void Positions(std::vector<Score>& scores, std::vector<size_t> idx, double Score::*value,
               int Score::*position) {
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a].*value > scores[b].*value; });
  for (size_t i = 0; i < idx.size(); ++i) {
    // Ties share the position of the first of them.
    const bool tie = i > 0 && scores[idx[i]].*value == scores[idx[i - 1]].*value;
    scores[idx[i]].*position = tie ? scores[idx[i - 1]].*position : static_cast<int>(i) + 1;
  }
}

}  // namespace

const std::vector<Methodology>& Methodologies() {
  static const auto* m = [] {
    auto* v = new std::vector<Methodology>;
    Methodology m2020;
    m2020.name = "mdm-2020";
    m2020.inputs = SubScores();
    m2020.inputs.push_back({"ajuste_por_resultados", 0, 2, true});  // 2020: 0.966–1.067
    m2020.gestion_parts = kGestion;
    m2020.resultados_parts = kResultados;
    m2020.ajuste = &RecordedAjuste;
    v->push_back(std::move(m2020));
    return v;
  }();
  return *m;
}

const Methodology* FindMethodology(std::string_view name) {
  for (const auto& m : Methodologies())
    if (m.name == name) return &m;
  return nullptr;
}

bool InRange(const InputSpec& spec, double value) {
  return spec.exclusive ? value > spec.min && value < spec.max : value >= spec.min && value <= spec.max;
}

bool IsGroup(std::string_view group) {
  static const std::set<std::string_view> kGroups = {"C", "G1", "G2", "G3", "G4", "G5"};
  return kGroups.count(group) > 0;
}

Result<Score> Compute(const Methodology& m, const Inputs& in, std::optional<double> previous_resultados) {
  for (const auto& spec : m.inputs)
    if (!in.values.count(spec.name))
      return Status::InvalidArgument(in.entity + " " + std::to_string(in.vigencia) + ": input '" + spec.name +
                                     "' of " + m.name + " is missing");
  if (m.needs_previous_resultados && !previous_resultados)
    return Status::FailedPrecondition(in.entity + " " + std::to_string(in.vigencia) + ": " + m.name +
                                      " needs the resultados of " + std::to_string(in.vigencia - 1) +
                                      ", which are not recorded");
  Score s;
  s.entity = in.entity;
  s.group = in.group;
  s.methodology = m.name;
  s.vigencia = in.vigencia;
  s.gestion = Mean(in.values, m.gestion_parts);
  s.resultados = Mean(in.values, m.resultados_parts);
  Levels l{&in.values, s.gestion, s.resultados,
           m.needs_previous_resultados ? previous_resultados : std::nullopt};
  s.ajuste = m.ajuste(l);
  s.mdm = s.gestion * s.ajuste;
  s.inputs_digest = InputsDigest(m, in, l.previous_resultados);
  return s;
}

void Rank(std::vector<Score>& scores) {
  std::vector<size_t> all(scores.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  Positions(scores, all, &Score::mdm, &Score::national_position);
  Positions(scores, all, &Score::gestion, &Score::gestion_position);
  Positions(scores, all, &Score::resultados, &Score::resultados_position);
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < scores.size(); ++i) {
    scores[i].group_position = 0;
    if (!scores[i].group.empty()) groups[scores[i].group].push_back(i);
  }
  for (auto& [g, idx] : groups) Positions(scores, idx, &Score::mdm, &Score::group_position);
}

Result<std::vector<Score>> Recompute(const std::vector<Inputs>& current, const std::vector<Inputs>& previous,
                                     MethodologyLookup find) {
  std::map<std::string, const Inputs*> prev;
  for (const auto& p : previous) prev[p.entity] = &p;
  std::vector<Score> out;
  out.reserve(current.size());
  for (const auto& in : current) {
    const Methodology* m = find(in.methodology);
    if (!m) return Status::InvalidArgument("methodology '" + in.methodology + "' is not known");
    std::optional<double> r_prev;
    if (m->needs_previous_resultados) {
      auto it = prev.find(in.entity);
      if (it != prev.end()) {
        // R(t−1) by the previous vigencia's own methodology.
        const Methodology* pm = find(it->second->methodology);
        if (!pm) return Status::InvalidArgument("methodology '" + it->second->methodology + "' is not known");
        r_prev = Mean(it->second->values, pm->resultados_parts);
      }
    }
    auto s = Compute(*m, in, r_prev);
    if (!s.ok()) return s.status();
    out.push_back(std::move(*s));
  }
  Rank(out);
  return out;
}

std::string CanonicalInputs(const Methodology& m, const Inputs& in,
                            std::optional<double> previous_resultados) {
  std::string out = "veeduria-mdm-inputs/1\n";
  out += "entity=" + in.entity + "\n";
  out += "vigencia=" + std::to_string(in.vigencia) + "\n";
  out += "methodology=" + m.name + "\n";
  out += "group=" + in.group + "\n";
  for (const auto& spec : m.inputs) {
    auto it = in.values.find(spec.name);
    out += spec.name + "=" + (it == in.values.end() ? std::string("missing") : Bits(it->second)) + "\n";
  }
  if (m.needs_previous_resultados && previous_resultados)
    out += "previous_resultados=" + Bits(*previous_resultados) + "\n";
  return out;
}

Hash InputsDigest(const Methodology& m, const Inputs& in, std::optional<double> previous_resultados) {
  return Sha256(CanonicalInputs(m, in, previous_resultados));
}

}  // namespace veeduria::events::mdm
