#pragma once
// Commands: the write API of DESIGN §2.4, parsed from JSON Lines.
//
// ParseCommand checks the shape of one line (JSON syntax, the command name, required fields
// and their types) and nothing that needs the ledger's state: a failure here is `invalid`
// and writes nothing. Money fields are only checked to be present here; whether they are
// whole pesos is a rule (`not_pesos`), decided with a recorded rejection.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/sha256.h"
#include "veeduria/events/time.h"

namespace veeduria::events {

struct Command {
  int line = 0;      // 1-based line of the input, 0 when not from a file
  std::string name;  // e.g. "register_entity"
  std::string command_id;
  std::string actor;
  std::optional<Micros> at;    // only in simulated ledgers
  std::string correlation_id;  // defaults to command_id
  std::string causation_id;    // optional
  nlohmann::json body;         // the whole object, shape-checked
  std::string canonical;       // canonical JSON: sorted keys, no white space
  Hash fingerprint{};          // SHA-256(canonical): tells a retry from a reused command_id
  // Set by a front end that authenticated the sender (the HTTP API's bearer token): Decide
  // refuses the command (`not_authorized`, recorded) when `actor` names anyone else. Empty:
  // the command comes from a trusted local source (a file given to the CLI). Not part of
  // `canonical`: the sender is who asked, the command is what was asked.
  std::string authenticated_actor;

  // Typed access to shape-checked fields. REQUIRES: the field was declared for the command.
  std::string Str(const char* field) const;
  bool Has(const char* field) const;
};

// Why a line is `invalid`.
struct CommandError {
  std::string reason;   // bad_json | unknown_command | missing_field | bad_field | unknown_field
  std::string field;    // JSON path of the field at fault, e.g. "milestones[2].deadline"
  std::string message;  // names the field and the value
};

struct ParsedLine {
  std::optional<Command> command;
  std::optional<CommandError> error;
};

// What json::parse(text) returns (discarded when `text` is not JSON), the same values of the same
// types, read with simdjson (about twice as fast, with the copy into nlohmann's tree); thread-safe.
nlohmann::json ParseJson(std::string_view text);

// Parses one line (without its line terminator). `line_no` is reported in messages.
ParsedLine ParseCommand(std::string_view text, int line_no);

// Splits a command file into lines: strips a UTF-8 BOM, accepts LF and CRLF, keeps line
// numbers, skips blank lines, and keeps a final line with no terminator.
struct InputLine {
  int line_no;
  std::string_view text;
};
std::vector<InputLine> SplitLines(std::string_view buffer);

// Names of every command of the catalogue, in DESIGN order (plus "init").
const std::vector<std::string>& CommandNames();

// Canonical JSON: sorted keys, compact, UTF-8 as given.
std::string CanonicalJson(const nlohmann::json& j);

// Format checks shared with importers.
bool IsEntityCode(std::string_view s);  // 5 digits (municipality) or 2 (department)
bool IsMunicipalityCode(std::string_view s);
bool IsDepartmentCode(std::string_view s);
bool IsCpiIndicator(std::string_view s);  // 9 digits

}  // namespace veeduria::events
