#pragma once
// The subcommands of the veeduria binary (one function each) and what they share.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "veeduria/events/status.h"
#include "veeduria/producers/embedded_ledger.h"
#include "veeduria/producers/generator.h"
#include "veeduria/producers/importers.h"
#include "veeduria/producers/keys.h"
#include "veeduria/projections/mdm.h"
#include "veeduria/projections/query.h"
#include "veeduria/projections/store.h"

namespace veeduria::cli {

int Fail(const std::string& what);
// A whole file's bytes, read in large chunks (a command file is gigabytes nationally; read char by
// char through an istreambuf_iterator, 2.2 GB took 6.3-7.6 s against 1.5-1.8 s), or an error naming
// the file.
Result<std::string> ReadFile(const std::string& path);
std::string DefaultDataDir();
Result<std::unique_ptr<producers::EmbeddedLedger>> OpenLedger(const std::string& dir, bool must_exist);

// The ledger and its projections, caught up to the end of the log.
struct Opened {
  std::unique_ptr<producers::EmbeddedLedger> ledger;
  std::unique_ptr<projections::ProjectionStore> store;
};
Result<Opened> OpenCaughtUp(const std::string& data_dir);
// The file a Kafka node writes in its data directory (kafka/node.h): such a directory has
// projections and no embedded log.
inline constexpr std::string_view kKafkaNodeFile = "kafka-node.json";
bool IsKafkaNodeDir(const std::string& data_dir);
// For the read-only commands (queries, digest): an embedded ledger's projections caught up
// (OpenCaughtUp), or a Kafka node's projections opened read-only as a RocksDB secondary, which
// works while its `serve --kafka` runs (`ledger` is then null).
Result<Opened> OpenProjections(const std::string& data_dir);

int RunInit(const std::string& data, const std::string& clock, const std::string& admin,
            const std::string& at, int partitions);
int RunSubmit(const std::string& data, const std::string& path, bool as_json);
// One line of `submit --json` (DESIGN §2.4): {"line", "command_id", "status", "reason", "message",
// "events", "flags"}. Shared with POST /v1/commands.
std::string SubmitResultJson(int line, const std::string& command_id, const events::Decision& d);
// The `invalid` decision of a line ParseCommand refused; `source` prefixes the message, and
// `command_id` receives the id the line names, if any.
events::Decision InvalidLine(const events::CommandError& error, const std::string& source,
                             std::string_view text, std::string* command_id);
int RunLog(const std::string& data, const std::string& entity, uint64_t from, bool as_json);
// --from-checkpoint LSN: trust that checkpoint, check what follows; key_file: a public key PEM
// for the checkpoints' signatures (else the ledger's own key, else unchecked).
int RunVerify(const std::string& data, std::optional<uint64_t> from_checkpoint = std::nullopt,
              const std::string& key_file = "");
int RunRebuild(const std::string& data, const std::string& projection);
int RunDigest(const std::string& data);
int RunGen(const producers::GeneratorOptions& options, const std::string& out);
int RunImport(const std::string& data, const std::string& kind, const std::string& path,
              const producers::ImportOptions& options, bool dry_run, bool as_json);

// Queries: every one prints a table, or JSON/CSV, live or --as-of.
struct QueryOptions {
  projections::Format format = projections::Format::kTable;
  std::string as_of;  // RFC 3339 or YYYY-MM-DD (end of that day in Bogotá); empty: now
};
int RunAudit(const std::string& data, const projections::AuditParams& params, const std::string& from,
             const std::string& to, const QueryOptions& options);
int RunProgress(const std::string& data, const projections::ProgressParams& params,
                const QueryOptions& options);
int RunReviews(const std::string& data, const projections::ReviewsParams& params,
               const QueryOptions& options);
int RunCompliance(const std::string& data, const projections::ComplianceParams& params,
                  const QueryOptions& options);
int RunUsers(const std::string& data, const projections::UsersParams& params, const QueryOptions& options);

// The tables behind the queries, shared by the CLI and the HTTP API (serve) so that both answer
// with the same bytes. `as_of` as in QueryOptions. REQUIRES: no concurrent writer of `store`.
Result<projections::Table> AuditTable(const projections::ProjectionStore& store,
                                      const projections::AuditParams& params, const std::string& from,
                                      const std::string& to, const std::string& as_of);
// REQUIRES: params.bands set from the ledger's configuration (BandsOf).
Result<projections::Table> ProgressTable(const projections::ProjectionStore& store,
                                         const projections::ProgressParams& params, const std::string& as_of);
Result<projections::Table> ReviewsTable(const projections::ProjectionStore& store,
                                        const projections::ReviewsParams& params, const std::string& as_of);
Result<projections::Table> ComplianceTable(const projections::ProjectionStore& store,
                                           const projections::ComplianceParams& params,
                                           const std::string& as_of);
Result<projections::Table> UsersTable(const projections::ProjectionStore& store,
                                      const projections::UsersParams& params, const std::string& as_of);
projections::SemaforoBands BandsOf(const producers::LedgerConfig& config);

// MDM (mdm_commands.cc): the recompute, --explain, --compare FILE; publish; import FILE.
struct MdmOptions {
  int vigencia = 0;
  projections::MdmParams params;  // group, department, entity filters
  bool explain = false;
  std::string compare;                   // a published results table to compare with
  std::string methodology = "mdm-2020";  // of an imported table
  std::string actor, at;                 // publish and import: the DNP user; `at` on simulated ledgers
};
Result<projections::Table> MdmTable(const projections::ProjectionStore& store, const MdmOptions& options,
                                    const std::string& as_of);
int RunMdm(const std::string& data, const MdmOptions& options, const QueryOptions& query);
int RunMdmPublish(const std::string& data, const MdmOptions& options);
int RunMdmImport(const std::string& data, const std::string& file, const MdmOptions& options, bool as_json);

// Keys, checkpoints, evidence bundles (evidence_commands.cc; docs/evidence.md).
int RunInitKey(const std::string& data,
               const std::string& signing_key);  // after init: key + DATA/config.json
int RunKeyShow(const std::string& data);
int RunCheckpoint(const std::string& data);
// Sets the ledger's periodic checkpoint policy from DATA/config.json (nothing without a key).
void ConfigureCheckpointPolicy(const std::string& data, producers::EmbeddedLedger& ledger);
struct EvidenceOptions {
  std::string entity, campaign, milestone, from, to, out;
  bool checkpoint_first = false;  // --checkpoint: sign a new checkpoint first
};
// Writes the bundle `options` asks for into options.out (the CLI's `evidence` and GET /v1/evidence).
struct EvidenceSummary {
  size_t events = 0;
  uint64_t tree_size = 0;
  std::string root_hex, key_id;
  double proof_seconds = 0;
  size_t after = 0;  // matching events recorded after the checkpoint (not in the bundle)
};
Result<EvidenceSummary> WriteEvidence(producers::EmbeddedLedger& ledger, const std::string& data,
                                      const EvidenceOptions& options);
int RunEvidence(const std::string& data, const EvidenceOptions& options);
int RunVerifyBundle(const std::string& dir, const std::string& key_file);
// The consistency proof between the signed checkpoints of tree sizes `from_size` and `to_size`
// (default: the latest checkpoint) as a document (consumers/consistency.h): the CLI's
// `consistency` and GET /v1/consistency.
Result<std::string> ConsistencyDocument(const producers::EmbeddedLedger& ledger, const std::string& data,
                                        uint64_t from_size, std::optional<uint64_t> to_size);
int RunConsistency(const std::string& data, uint64_t from_size, std::optional<uint64_t> to_size,
                   const std::string& out);
int RunVerifyConsistency(const std::string& file, const std::string& key_file);

}  // namespace veeduria::cli
