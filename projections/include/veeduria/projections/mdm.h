#pragma once
// The MDM recompute over the mdm projection (../shared/MDM.md, DESIGN §2.8): scores, components
// and positions from the recorded inputs of a view (live, or as of a past instant), where each
// number came from, the MdmScoreComputed commands that publish them, and the importer and
// comparison of a published results table.
//
// As of T: the rows v/<vigencia>/<entity> of an AsOfView over the index keys of the
// municipalities that have inputs for the vigencia (or the one before) now — the folded rows hold
// exactly what the ledger knew at T, corrections included, and inputs are never deleted, so no
// municipality known at T is missed (AsOfKeysForMdm).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/mdm.h"
#include "veeduria/events/status.h"
#include "veeduria/projections/store.h"
#include "veeduria/projections/table.h"
#include "veeduria/projections/view.h"

namespace veeduria::projections {

// The inputs recorded for a vigencia in a view, by entity code.
std::vector<events::mdm::Inputs> MdmInputsOf(const View& view, int vigencia);

// Every municipality of the vigencia recomputed and ranked among those present.
Result<std::vector<events::mdm::Score>> MdmRecompute(
    const View& view, int vigencia, events::mdm::MethodologyLookup find = &events::mdm::FindMethodology);

struct MdmParams {
  int vigencia = 0;                       // required
  std::string group, department, entity;  // filters applied after ranking (positions stay national)
};
// One line per municipality: components, levels, positions, inputs digest, and the latest
// published score (MdmScoreComputed) with whether its digest is that of the inputs in the view.
Result<Table> MdmQuery(const View& view, const MdmParams& params);

// One line per number of one municipality: each input with the event that set its value (id,
// recorded_at, actor, source) and the values it replaced, then the levels and positions with the
// inputs they are computed from.
Result<Table> MdmExplain(const View& view, int vigencia, const std::string& entity);

// The index keys an as-of MDM view needs: every entity with inputs for `vigencia` or the year
// before in the live projection.
std::vector<std::string> AsOfKeysForMdm(const ProjectionStore& store, int vigencia);

// publish_mdm_score commands, one per score ("at" only when non-empty: simulated ledgers).
std::vector<nlohmann::json> MdmPublishCommands(const std::vector<events::mdm::Score>& scores,
                                               const std::string& actor, const std::string& at);

// The differences between a recompute and a published table: gestión, resultados, ajuste and
// MDM beyond `tolerance`, municipalities missing on either side, and positions — published
// national positions (among every municipality measured) are compared by the order they give
// to the municipalities present: a recomputed position must equal 1 + the number of present
// municipalities with a better published position.
Table MdmCompare(const std::vector<events::mdm::Score>& scores,
                 const std::vector<events::mdm::Published>& published, double tolerance = 1e-5);

}  // namespace veeduria::projections
