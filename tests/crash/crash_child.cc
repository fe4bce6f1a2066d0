// The process the crash tests kill -9. It is exec'd fresh (never a fork of the test process, whose
// RocksDB background threads a forked child would lack: its flushes and compactions would never
// run and its writes would stall forever).
//
//   crash_child append DIR FIRST ACK_FD       appends leader changes FIRST, FIRST+1, … and writes
//                                             each index to ACK_FD once it is durable (the decider
//                                             state written every 5 events)
//   crash_child project DIR BATCH TICK_FD GO_FD BULK
//                                             catches the projections up in batches of BATCH (in
//                                             bulk mode with runs of BULK events when BULK > 0),
//                                             writing a byte to TICK_FD after each applied batch and
//                                             after the final Flush, and waiting for one on GO_FD
//                                             before going on
// Exit codes: 0 done (project only), 2 open failed, 3 append/apply failed, 4 pipe closed.
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "ledger_commands.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/projections/store.h"

namespace veeduria {
namespace {

class Ticking : public events::ProjectionTarget {
 public:
  Ticking(events::ProjectionTarget& inner, int tick, int go) : inner_(inner), tick_(tick), go_(go) {}
  uint64_t NextOffset(std::string_view topic, uint32_t partition) const override {
    return inner_.NextOffset(topic, partition);
  }
  Status Apply(const std::vector<events::LogEntry>& entries) override { return Tick(inner_.Apply(entries)); }
  Status Flush() override { return Tick(inner_.Flush()); }

 private:
  Status Tick(Status st) {
    char c = 't';
    if (st.ok() && (write(tick_, &c, 1) != 1 || read(go_, &c, 1) != 1)) _exit(4);
    return st;
  }
  events::ProjectionTarget& inner_;
  int tick_, go_;
};

int Append(const std::string& dir, int first, int ack) {
  auto l = producers::EmbeddedLedger::Open(dir);
  if (!l.ok()) return 2;
  (*l)->SetStateFlushForTesting(5, 4096);  // the kill lands between state flushes and during them
  for (int i = first;; ++i) {
    if (!(*l)->Append(testing::LeaderChange(i)).ok()) return 3;
    if (write(ack, &i, sizeof i) != sizeof i) return 4;  // acknowledged: durable
  }
}

int Project(const std::string& dir, int batch, int tick, int go, uint64_t bulk) {
  auto ledger = producers::EmbeddedLedger::Open(dir);
  auto store = projections::ProjectionStore::Open(dir, {.bulk_events = bulk});
  if (!ledger.ok() || !store.ok()) return 2;
  Ticking target(**store, tick, go);
  return consumers::CatchUp(**ledger, target, batch).ok() ? 0 : 3;
}

}  // namespace
}  // namespace veeduria

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "append" && argc == 5) return veeduria::Append(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  if (mode == "project" && argc == 7)
    return veeduria::Project(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]),
                             std::strtoull(argv[6], nullptr, 10));
  return 64;
}
