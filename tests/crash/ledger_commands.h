#pragma once
// Commands the ledger tests and the crash child share: a bootstrap and leader changes.
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "veeduria/events/command.h"

namespace veeduria::testing {

inline events::Command Cmd(const nlohmann::json& j) {
  auto p = events::ParseCommand(j.dump(), 0);
  if (!p.command) throw std::runtime_error(p.error ? p.error->message : "unparsable test command");
  return *p.command;
}

// init (4 partitions) + the department of Cundinamarca.
inline std::vector<events::Command> Bootstrap() {
  return {Cmd({{"command", "init"},
               {"command_id", "init"},
               {"actor", "admin@dnp.gov.co"},
               {"clock", "system"},
               {"admin", "admin@dnp.gov.co"},
               {"partitions", 4}}),
          Cmd({{"command", "register_entity"},
               {"command_id", "e25"},
               {"actor", "admin@dnp.gov.co"},
               {"entity", "25"},
               {"name", "CUNDINAMARCA"},
               {"kind", "departamento"},
               {"department", "25"}})};
}

// A leader change: two events (LeaderActivated, UserDeactivated) from one command.
inline std::vector<events::Command> LeaderChange(int i) {
  const std::string who = "leader" + std::to_string(i) + "@cundinamarca.gov.co";
  return {Cmd({{"command", "request_leader"},
               {"command_id", "req-" + std::to_string(i)},
               {"actor", who},
               {"entity", "25"},
               {"email", who},
               {"name", "Líder " + std::to_string(i)},
               {"supports", {{{"kind", "acta_posesion"}, {"sha256", std::string(64, 'a')}}}}}),
          Cmd({{"command", "activate_leader"},
               {"command_id", "act-" + std::to_string(i)},
               {"actor", "system"},
               {"request_id", "req-" + std::to_string(i)}})};
}

}  // namespace veeduria::testing
