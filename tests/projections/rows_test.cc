// Rows::NewCursor, the walk of a query that skips ahead (a bare goal id's audit re-seeks from plan
// to plan on one cursor): the live store's cursor walks as the audit rows folded in memory from
// the whole log do, and so does MemoryRows' own. The as-of view's cursor: view_test.cc.

#include "fixture.h"
#include "projections_internal.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria {
namespace {

namespace p = projections;

void ExpectTheLiveCursorWalksAsTheFold(const std::string& scenario) {
  testing::LedgerFixture f;
  f.LoadScenario(scenario);
  f.CatchUp();
  p::MemoryRows folded;
  ASSERT_TRUE(f.ledger()
                  .ScanLog(0,
                           [&](const events::LogEntry& e) {
                             const schema::Event* ev = schema::GetEvent(e.bytes.data());
                             p::AuditProjection().Apply(
                                 p::EventRef{ev, ev->envelope(), e.bytes, e.hash, e.position},
                                 folded.state());
                             return true;
                           })
                  .ok());
  ASSERT_GT(folded.state().entries().size(), 60u);
  testing::ExpectCursorWalksLike(folded.state().entries(), f.store().rows("audit"), scenario + ", live");
  testing::ExpectCursorWalksLike(folded.state().entries(), folded, scenario + ", in memory");
}

TEST(RowsCursorTest, TheLiveStoreWalksAsTheFoldOfTheLogOnACycle) {
  ExpectTheLiveCursorWalksAsTheFold("tests/scenarios/cycle_2023.scn");
}

// Goals redefined, homologated and reprogrammed: objects of several kinds and plans.
TEST(RowsCursorTest, TheLiveStoreWalksAsTheFoldOfTheLogAcrossPlanChanges) {
  ExpectTheLiveCursorWalksAsTheFold("tests/scenarios/rules_plans.scn");
}

}  // namespace
}  // namespace veeduria
