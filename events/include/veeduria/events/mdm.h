#pragma once
// The MDM methodologies as data plus small pure functions (../shared/MDM.md). No I/O.
//
// A methodology version names its inputs (with their ranges), which sub-scores make up gestión
// and resultados, and how the ajuste por resultados is obtained. `mdm-2020` takes the ajuste as
// a recorded input; a version that computes it from R(t) and R(t−1) only supplies another
// `ajuste` function and sets `needs_previous_resultados` (see tests/projections/mdm_recompute_test.cc).
// Everything else — MDM = gestión × ajuste, the positions, the digest — is shared.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/sha256.h"
#include "veeduria/events/status.h"

namespace veeduria::events::mdm {

// An input a version expects and its admissible range.
struct InputSpec {
  std::string name;
  double min = 0, max = 100;
  bool exclusive = false;  // (min, max) instead of [min, max]
};

// What the `ajuste` function of a version sees.
struct Levels {
  const std::map<std::string, double>* inputs = nullptr;
  double gestion = 0, resultados = 0;
  std::optional<double> previous_resultados;  // R(t−1), when the version needs it and it is recorded
};

struct Methodology {
  std::string name;
  std::vector<InputSpec> inputs;              // exactly these names, in this order (also the digest's)
  std::vector<std::string> gestion_parts;     // gestión = their mean
  std::vector<std::string> resultados_parts;  // resultados = their mean
  double (*ajuste)(const Levels&) = nullptr;  // the ajuste por resultados
  bool needs_previous_resultados = false;     // the ajuste uses R(t−1): the previous vigencia's inputs
};

// The versions the ledger knows (today: mdm-2020). Decide() validates record_mdm_inputs with them.
const std::vector<Methodology>& Methodologies();
const Methodology* FindMethodology(std::string_view name);

// Whether a value is within its spec's range.
bool InRange(const InputSpec& spec, double value);

// The capacity groups (MDM.md): C and G1…G5.
bool IsGroup(std::string_view group);

// One municipality's recorded inputs for a vigencia.
struct Inputs {
  std::string entity;
  int vigencia = 0;
  std::string methodology;
  std::string group;  // "" when not recorded
  std::map<std::string, double> values;
};

struct Score {
  std::string entity, group, methodology;
  int vigencia = 0;
  double gestion = 0, resultados = 0, ajuste = 0, mdm = 0;
  int national_position = 0;  // 1 + municipalities with a strictly higher (unrounded) MDM
  int group_position = 0;     // the same within the group; 0 when the group is not known
  int gestion_position = 0, resultados_position = 0;  // the same rule on gestión and resultados
  Hash inputs_digest{};
};

// The levels of one municipality (no positions). `previous_resultados` is R(t−1) for versions
// that need it. Fails when an input is missing or the version needs R(t−1) and none is given.
Result<Score> Compute(const Methodology& m, const Inputs& in, std::optional<double> previous_resultados);

// Sets the positions of every score among `scores` (the municipalities present).
void Rank(std::vector<Score>& scores);

// Recomputes a vigencia: `current` are its inputs, `previous` those of vigencia − 1 (read only by
// versions that need R(t−1)). `find` resolves methodology names (tests pass their own versions).
using MethodologyLookup = const Methodology* (*)(std::string_view);
Result<std::vector<Score>> Recompute(const std::vector<Inputs>& current, const std::vector<Inputs>& previous,
                                     MethodologyLookup find = &FindMethodology);

// The canonical encoding of a municipality's inputs, whose SHA-256 is the digest recorded by
// MdmScoreComputed. Lines, each ending in "\n":
//   veeduria-mdm-inputs/1
//   entity=<code>  vigencia=<year>  methodology=<name>  group=<group or empty>
//   <name>=<16 hex digits: the IEEE-754 binary64 bits, big-endian>   for each input in the
//                                                                    methodology's order
//   previous_resultados=<16 hex digits>                              only for versions using R(t−1)
// Bits rather than decimal text, so the same doubles always give the same bytes.
std::string CanonicalInputs(const Methodology& m, const Inputs& in,
                            std::optional<double> previous_resultados);
Hash InputsDigest(const Methodology& m, const Inputs& in, std::optional<double> previous_resultados);

// A published results table row (layout of ../shared/data/mdm/mdm_2020_antioquia.csv).
struct Published {
  int line = 0;  // in the file
  std::string entity, name;
  double gestion = 0, resultados = 0, ajuste = 0, mdm = 0;
  int national_position = 0;  // 0 when the table does not carry it
};

}  // namespace veeduria::events::mdm
