#pragma once
// Typed decider-state records: the records every command reads or writes (the stream heads, the
// ledger's meta, command outcomes) and those of the progress path (a goal's programming for one
// year, a reported cut, the campaign) and goals are fixed binary layouts instead of JSON maps as MessagePack,
// so that deciding and evolving a command does not build and free `nlohmann::json` trees for them.
//
// Layout: a tag byte 0xC1 (never the first byte of a MessagePack value, so a record of another
// format is told apart), a record kind byte, then little-endian fixed-width integers, IEEE-754
// doubles and strings prefixed by a u32 length. Encoding is deterministic: a rebuilt state is
// byte-identical to the incremental one. Decoding a record that is not of the expected kind
// throws std::runtime_error naming the key (as a corrupt MessagePack record did).
//
// Records read by other components (users and entities, which the HTTP service reads) stay JSON.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veeduria/events/sha256.h"
#include "veeduria/events/state.h"
#include "veeduria/events/time.h"

namespace veeduria::events::records {

// keys::Stream: the last event of a stream.
struct StreamHead {
  uint64_t seq = 0;
  Hash hash{};
};

// keys::kMeta: written by LedgerInitialized, last_at advanced by every later event.
struct Meta {
  std::string clock;  // "system" | "simulated"
  Micros last_at = 0;
  uint32_t partitions = 0;
};

// keys::CommandOutcome: what a command_id gave, for the duplicate check.
struct Outcome {
  bool has_fingerprint = false;
  Hash fingerprint{};
  bool rejected = false;
  std::string reason;   // when rejected
  std::string command;  // the rejected command, or the payload type of the last event
  std::vector<std::string> events;
  std::vector<std::string> flags;
  int32_t days_late = 0;
};

// keys::Goal: a goal as defined (and homologated since), with the physical target of each year
// programmed (the accumulation check reads them all).
struct Goal {
  bool homologated = false;
  std::string cpi;  // the CPI indicator, as homologated
  bool acumulativo = false;
  double target = 0;
  std::string payload;  // the GoalDefined table without `previous` (standalone FlatBuffer)
  std::vector<std::pair<int32_t, double>> years;  // (year, physical), ascending
};

// keys::GoalYear: the programming of one year of a goal, with the summary a progress report checks.
struct GoalYear {
  double physical = 0;
  int64_t pesos = 0;                 // sum of the programmed resources
  std::vector<std::string> sources;  // funding sources, in programming order
  std::string payload;               // the GoalProgrammed table without `previous` (standalone FlatBuffer)
};

// keys::Progress: the latest report of a goal at one cut.
struct Progress {
  double physical_ytd = 0;
  std::string payload;  // the ProgressReported table without `previous` (standalone FlatBuffer)
};

// keys::Campaign: a campaign as opened, its deadlines as extended since.
struct Milestone {
  std::string id, activity, cut, deadline;  // activity and dates as in the command
};
struct Variable {
  std::string code, name, type;
};
struct Campaign {
  std::string campaign;
  std::string system;  // "kpt" | "gestionweb"
  int32_t vigencia = 0;
  std::vector<Milestone> milestones;
  std::vector<Variable> variables;
};

// Sets the physical target programmed for `year`, keeping the years ascending.
void SetYear(Goal* g, int32_t year, double physical);

std::string Encode(const StreamHead& r);
std::string Encode(const Meta& r);
std::string Encode(const Outcome& r);
std::string Encode(const Goal& r);
std::string Encode(const GoalYear& r);
std::string Encode(const Progress& r);
std::string Encode(const Campaign& r);

// Each returns nullopt for an absent key and throws std::runtime_error for a malformed record.
std::optional<StreamHead> ReadStreamHead(const StateStore& st, std::string_view key);
std::optional<Meta> ReadMeta(const StateStore& st, std::string_view key);
std::optional<Outcome> ReadOutcome(const StateStore& st, std::string_view key);
std::optional<Goal> ReadGoal(const StateStore& st, std::string_view key);
std::optional<GoalYear> ReadGoalYear(const StateStore& st, std::string_view key);
std::optional<Progress> ReadProgress(const StateStore& st, std::string_view key);
std::optional<Campaign> ReadCampaign(const StateStore& st, std::string_view key);

// Decoders of stored bytes (for tests and tools); false for bytes that are not such a record.
bool Decode(std::string_view bytes, StreamHead* out);
bool Decode(std::string_view bytes, Meta* out);
bool Decode(std::string_view bytes, Outcome* out);
bool Decode(std::string_view bytes, Goal* out);
bool Decode(std::string_view bytes, GoalYear* out);
bool Decode(std::string_view bytes, Progress* out);
bool Decode(std::string_view bytes, Campaign* out);

}  // namespace veeduria::events::records
