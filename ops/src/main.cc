// veeduria: one binary, one subcommand per job (DESIGN §3).

#include <CLI/CLI.hpp>

#include "bench.h"
#include "cli.h"
#include "kafka_commands.h"
#include "serve_cli.h"

using namespace veeduria;

// jemalloc's options for this binary (the MALLOC_CONF environment variable still adds to them):
// one arena per CPU, each thread allocating from the arena of the CPU it runs on, instead of
// 4 arenas per CPU handed to threads in turn. A rebuild's rows are allocated by the folding
// threads and freed by the run writer's, started anew for each run: with arenas per thread, the
// next folds seldom got the pages those rows had freed. Department rebuild 8% faster, a quarter
// fewer page faults (national: a third fewer, within the noise in speed); the append unchanged
// (docs/benchmarks.md, "One arena per CPU"). And the pages freed are purged (returned to the
// kernel once unused for jemalloc's decay time) by jemalloc's background threads, not by
// whichever thread allocates next: a rebuild frees gigabytes at the end of each run, and the
// folds that allocated next paid for purging them (national rebuild 0-7% faster, median 4%,
// in six pairs; docs/benchmarks.md, "jemalloc's background purging").
extern "C" {
const char* malloc_conf = "percpu_arena:percpu,background_thread:true";
}

namespace {

// --json / --csv / --as-of, shared by every query.
struct QueryFlags {
  bool json = false, csv = false;
  std::string as_of;
  void Add(CLI::App* cmd) {
    cmd->add_flag("--json", json, "one JSON object: title, columns, rows, notes");
    cmd->add_flag("--csv", csv, "CSV with a header row");
    cmd->add_option("--as-of", as_of,
                    "what the ledger knew then (RFC 3339, or a date: the end of that day in Bogotá)");
  }
  cli::QueryOptions Options() const {
    cli::QueryOptions o;
    o.format = json  ? projections::Format::kJson
               : csv ? projections::Format::kCsv
                     : projections::Format::kTable;
    o.as_of = as_of;
    return o;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"veeduria: an event-sourced, hash-chained reporting ledger for territorial planning"};
  app.require_subcommand(1);
  std::string data = cli::DefaultDataDir();
  app.add_option("--data", data, "data directory (default ./veeduria-data, or $VEEDURIA_DATA)");

  std::string clock = "system", admin, at = "1970-01-01T00:00:00Z";
  int partitions = 8;
  auto* init = app.add_subcommand(
      "init", "create a ledger: its first event names the clock and the DNP administrator");
  init->add_option("--clock", clock, "system (default) or simulated")
      ->check(CLI::IsMember({"system", "simulated"}));
  init->add_option("--admin", admin, "e-mail of the bootstrap administrator (gets the national dnp role)")
      ->required();
  init->add_option("--at", at, "simulated clock only: the time of the first event (RFC 3339)");
  init->add_option("--partitions", partitions, "partitions of the events topic (default 8)")
      ->check(CLI::Range(1, 4096));

  std::string file;
  bool json_out = false;
  auto* submit =
      app.add_subcommand("submit", "apply a JSON Lines command file (or - for stdin); one result per line");
  submit->add_option("file", file, "command file, or -")->required();
  submit->add_flag("--json", json_out, "one JSON object per result line");
  cli::SubmitKafka submit_kafka(submit, data, file, json_out);  // submit --kafka (kafka_commands.cc)

  std::string entity;
  uint64_t from = 0;
  auto* log = app.add_subcommand("log", "print the events in log order");
  log->add_option("--entity", entity, "only this entity's stream (a DANE code, or 'directory')");
  log->add_option("--from", from, "start at this log position (lsn)");
  log->add_flag("--json", json_out, "one canonical JSON event per line");

  auto* verify = app.add_subcommand("verify", "check every stream's sequence and hash chain");
  std::string bundle_dir, bundle_key;
  auto* verify_bundle = verify->add_option("--bundle", bundle_dir,
                                           "check an evidence bundle offline instead (no ledger needed)");
  std::string consistency_file;
  verify
      ->add_option("--consistency", consistency_file,
                   "check a consistency proof (veeduria consistency) offline instead (no ledger needed)")
      ->excludes(verify_bundle);
  verify->add_option(
      "--key", bundle_key,
      "the published public key (PEM) the checkpoints (or, with --bundle, the bundle) must be signed with");
  std::optional<uint64_t> from_checkpoint;
  verify->add_option("--from-checkpoint", from_checkpoint,
                     "trust the checkpoint at this lsn; check only what follows");
  cli::VerifyKafka verify_kafka(verify);  // verify --kafka (kafka_commands.cc)
  std::string signing_key;
  init->add_option("--signing-key", signing_key,
                   "the Ed25519 signing key file (created if missing, mode 0600; default DATA/signing.key)");
  auto* key = app.add_subcommand("key", "the ledger's signing key");
  auto* key_show = key->add_subcommand("show", "print the public key (PEM, hex) and its key id, to publish");
  key->require_subcommand(1);
  auto* checkpoint =
      app.add_subcommand("checkpoint", "sign and append a checkpoint (Merkle root of the log) now");
  uint64_t consistency_from = 0;
  std::optional<uint64_t> consistency_to;
  std::string consistency_out;
  auto* consistency = app.add_subcommand(
      "consistency",
      "prove that the log only grew between two signed checkpoints (RFC 6962 consistency proof)");
  consistency->add_option("--from-size", consistency_from, "the tree size of the earlier checkpoint")
      ->required();
  consistency->add_option("--to-size", consistency_to,
                          "the tree size of the later one (default: the latest)");
  consistency->add_option("--out", consistency_out,
                          "write the document to this file (default: standard output)");
  cli::EvidenceOptions evidence_o;
  auto* evidence =
      app.add_subcommand("evidence", "write a self-contained, verifiable evidence bundle for a case");
  evidence->add_option("--entity", evidence_o.entity, "DANE code")->required();
  evidence->add_option("--campaign", evidence_o.campaign, "only this campaign's reports (e.g. KPT-2023)");
  evidence->add_option("--milestone", evidence_o.milestone, "only this cut (e.g. Q2; needs --campaign)");
  evidence->add_option("--from", evidence_o.from,
                       "events recorded from this time (RFC 3339 or a Bogotá date)");
  evidence->add_option("--to", evidence_o.to, "events recorded up to this time (RFC 3339 or a Bogotá date)");
  evidence->add_option("--out", evidence_o.out, "the bundle directory (must not exist or be empty)")
      ->required();
  evidence->add_flag("--checkpoint", evidence_o.checkpoint_first,
                     "sign a new checkpoint first, so every event is in");

  std::string projection;
  auto* rebuild =
      app.add_subcommand("rebuild", "drop projections (or the decider state) and replay the log into them");
  rebuild->add_option(
      "--projection", projection,
      "progress, audit, reviews, compliance, users, mdm, or decider (default: every projection)");
  auto* digest = app.add_subcommand("digest", "print a digest of every projection's content");

  producers::GeneratorOptions gen_o;
  gen_o.data_dir = "../shared/data";
  gen_o.campaigns_file = "ops/campaigns/2023.jsonl";
  std::string gen_out = "-";
  auto* gen = app.add_subcommand(
      "gen", "write a realistic, deterministic command file (a simulated 2023 or 2020-2023 term)");
  gen->add_option("--scale", gen_o.scale,
                  "tiny (5 municipalities, 2023), demo (Cundinamarca, 2023), department (Cundinamarca, "
                  "2020-2023, national-sized plans) or national (every DIVIPOLA entity, 2020-2023)");
  gen->add_option("--seed", gen_o.seed, "random seed (default 2023): same seed, same bytes");
  gen->add_option("--shared-data", gen_o.data_dir, "the shared data folder (default ../shared/data)");
  gen->add_option("--campaigns", gen_o.campaigns_file, "campaign file (default ops/campaigns/2023.jsonl)");
  gen->add_option("--out", gen_out, "output file (default: standard output)");

  cli::BenchOptions bench_o;
  auto* bench = app.add_subcommand("bench",
                                   "generate a dataset, measure append, rebuild, as-of, audit and verify "
                                   "beside baselines (docs/benchmarks.md)");
  bench->add_option("--scale", bench_o.scale,
                    "tiny, demo, department (default) or national; --quick defaults to demo");
  bench->add_option("--seed", bench_o.seed, "generator seed (default 2023)");
  bench->add_flag("--quick", bench_o.quick, "fewer samples, one rebuild (under two minutes on 2 cores)");
  bench->add_flag("--json", bench_o.json, "one JSON object: machine, dataset, workloads, ratios");
  bench->add_flag("--postgres", bench_o.postgres, "also run append and rebuild on a local PostgreSQL 15");
  bench->add_option("--workload", bench_o.workloads,
                    "only these: append, rebuild, asof, audit, verify, baselines");
  bench->add_option("--submitters", bench_o.submitters,
                    "concurrent submitters of the append workload (default 4)");
  bench->add_option("--shared-data", bench_o.data_dir, "the shared data folder (default ../shared/data)");
  bench->add_option("--campaigns", bench_o.campaigns_file,
                    "campaign file (default ops/campaigns/2023.jsonl)");
  bench->add_option("--sql", bench_o.sql_dir, "the PostgreSQL baseline's SQL (default ops/bench)");
  bench->add_option("--dir", bench_o.work_dir,
                    "work directory (default: a temporary one, removed afterwards)");
  bench->add_flag("--reuse", bench_o.reuse,
                  "measure the command file and ledger an earlier run left in --dir (no gen, no append)");

  std::string import_kind, import_file;
  producers::ImportOptions import_o;
  bool import_dry = false;
  auto* import_cmd = app.add_subcommand(
      "import",
      "turn a DIVIPOLA, CPI catalogue, plan (.xlsx) or progress file into commands; one report per row");
  import_cmd->add_option("kind", import_kind, "divipola | catalog | plan | progress")
      ->required()
      ->check(CLI::IsMember({"divipola", "catalog", "plan", "progress"}));
  import_cmd->add_option("file", import_file, "the file")->required();
  import_cmd->add_option("--actor", import_o.actor, "who issues the commands (default admin@dnp.gov.co)");
  import_cmd->add_option("--entity", import_o.entity, "plan/progress: the entity (checked against the file)");
  import_cmd->add_option("--version", import_o.version, "catalog: the version (default: the file name)");
  import_cmd->add_option("--plan", import_o.plan, "plan/progress: the plan id (plan default PDT-2024-2027)");
  import_cmd->add_option("--at", import_o.at, "simulated ledgers: the time of the commands (RFC 3339)");
  import_cmd->add_flag("--dry-run", import_dry, "run the rules, write nothing");
  import_cmd->add_flag("--json", json_out, "one JSON object per row report");

  projections::AuditParams audit_p;
  std::string audit_from, audit_to;
  QueryFlags audit_f;
  auto* audit =
      app.add_subcommand("audit",
                         "who changed what: each event concerning an entity, or each of an actor's events "
                         "across entities, with before → after");
  auto* audit_scope = audit->add_option_group("scope", "an entity, an actor, or both");
  audit_scope->add_option("--entity", audit_p.entity, "DANE code");
  audit->add_option("--object", audit_p.object,
                    "a goal (IP-155 or PLAN/IP-155), report:CAMPAIGN/MILESTONE, user:EMAIL, plan:ID…");
  audit_scope->add_option("--actor", audit_p.actor,
                          "only this actor's events (without --entity: in every entity)");
  audit_scope->require_option(1, 2);
  audit->add_option("--type", audit_p.type, "only this event type, e.g. ProgressReported");
  audit->add_option("--from", audit_from, "from this time");
  audit->add_option("--to", audit_to, "up to this time");
  audit_f.Add(audit);

  projections::ProgressParams progress_p;
  QueryFlags progress_f;
  auto* progress = app.add_subcommand("progress", "physical and financial progress, semáforo, rollups");
  auto* pe = progress->add_option("--entity", progress_p.entity, "one entity's goals");
  auto* pd = progress->add_option("--department", progress_p.department, "the entities of a department");
  auto* pn = progress->add_flag("--national", progress_p.national, "every department and the nation");
  pe->excludes(pd)->excludes(pn);
  pd->excludes(pn);
  progress->add_option("--campaign", progress_p.campaign,
                       "the cut's campaign (default: each goal's latest report)");
  progress->add_option("--milestone", progress_p.milestone, "the cut, e.g. Q2");
  progress_f.Add(progress);

  projections::ReviewsParams reviews_p;
  QueryFlags reviews_f;
  auto* reviews = app.add_subcommand("reviews", "submissions, validations and adjustment requests");
  auto* re = reviews->add_option("--entity", reviews_p.entity, "one entity");
  reviews->add_option("--department", reviews_p.department, "the municipalities of a department")
      ->excludes(re);
  reviews->add_option("--campaign", reviews_p.campaign, "campaign");
  reviews->add_option("--milestone", reviews_p.milestone, "milestone");
  reviews->add_option("--status", reviews_p.status, "open or overdue adjustment requests only")
      ->check(CLI::IsMember({"open", "overdue"}));
  reviews_f.Add(reviews);

  projections::ComplianceParams compliance_p;
  QueryFlags compliance_f;
  auto* compliance =
      app.add_subcommand("compliance", "on time, late, missing, notified, referred — per entity");
  compliance->add_option("--campaign", compliance_p.campaign, "campaign, e.g. KPT-2023")->required();
  compliance->add_option("--milestone", compliance_p.milestone, "milestone, e.g. Q2")->required();
  compliance->add_option("--department", compliance_p.department, "one department's entities");
  compliance_f.Add(compliance);

  projections::UsersParams users_p;
  QueryFlags users_f;
  auto* users = app.add_subcommand("users", "the leader of an entity, its history, roles and resets");
  users->add_option("--entity", users_p.entity, "DANE code")->required();
  users_f.Add(users);

  cli::MdmOptions mdm_o;
  QueryFlags mdm_f;
  std::string mdm_file;
  auto* mdm = app.add_subcommand(
      "mdm", "MDM recomputed from the recorded inputs (as of a time), explained, compared");
  mdm->add_option("--vigencia", mdm_o.vigencia, "the vigencia (year)");
  mdm->add_option("--group", mdm_o.params.group, "only this capacity group (C, G1…G5)");
  mdm->add_option("--department", mdm_o.params.department, "only this department's municipalities");
  mdm->add_option("--entity", mdm_o.params.entity, "only this municipality");
  mdm->add_flag("--explain", mdm_o.explain, "with --entity: the events each number came from");
  mdm->add_option("--compare", mdm_o.compare, "a published results table: print the differences");
  mdm_f.Add(mdm);
  auto* mdm_publish = mdm->add_subcommand("publish", "record an MdmScoreComputed per municipality (DNP)");
  mdm_publish->add_option("--vigencia", mdm_o.vigencia, "the vigencia (year)")->required();
  mdm_publish->add_option("--actor", mdm_o.actor, "the DNP user publishing")->required();
  mdm_publish->add_option("--at", mdm_o.at, "simulated ledgers: the time of the commands (RFC 3339)");
  auto* mdm_import = mdm->add_subcommand("import", "record the inputs of a published results table (CSV)");
  mdm_import->add_option("file", mdm_file, "CSV in the layout of ../shared/data/mdm/mdm_2020_antioquia.csv")
      ->required();
  mdm_import->add_option("--vigencia", mdm_o.vigencia, "the vigencia (year)")->required();
  mdm_import->add_option("--actor", mdm_o.actor, "the DNP user recording them")->required();
  mdm_import->add_option("--at", mdm_o.at, "simulated ledgers: the time of the commands (RFC 3339)");
  mdm_import->add_option("--methodology", mdm_o.methodology, "methodology of the table (default mdm-2020)");
  mdm_import->add_flag("--json", json_out, "one JSON object per row");

  cli::ServeCli serve_cli(app);  // serve --http, token add|revoke|list (serve_commands.cc)
  cli::KafkaServe kafka_serve(serve_cli.serve(), data);  // serve --kafka (kafka_commands.cc)

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*init) {
    int rc = cli::RunInit(data, clock, admin, at, partitions);
    return rc ? rc : cli::RunInitKey(data, signing_key);
  }
  if (kafka_serve.requested()) {
    // A Kafka node; with --http, the HTTP service over it (one process).
    return kafka_serve.Run(serve_cli.http_requested() ? &serve_cli : nullptr);
  }
  if (serve_cli.Selected()) return serve_cli.Run(data);
  if (*verify && !bundle_dir.empty()) return cli::RunVerifyBundle(bundle_dir, bundle_key);
  if (*verify && !consistency_file.empty()) return cli::RunVerifyConsistency(consistency_file, bundle_key);
  if (*consistency) return cli::RunConsistency(data, consistency_from, consistency_to, consistency_out);
  if (*verify && verify_kafka.requested()) return verify_kafka.Run();
  if (*key_show) return cli::RunKeyShow(data);
  if (*checkpoint) return cli::RunCheckpoint(data);
  if (*evidence) return cli::RunEvidence(data, evidence_o);
  if (*submit && submit_kafka.requested()) return submit_kafka.Run();
  if (*submit) return cli::RunSubmit(data, file, json_out);
  if (*log) return cli::RunLog(data, entity, from, json_out);
  if (*verify) return cli::RunVerify(data, from_checkpoint, bundle_key);
  if (*rebuild) return cli::RunRebuild(data, projection);
  if (*digest) return cli::RunDigest(data);
  if (*gen) return cli::RunGen(gen_o, gen_out);
  if (*bench) return cli::RunBench(bench_o);
  if (*import_cmd) return cli::RunImport(data, import_kind, import_file, import_o, import_dry, json_out);
  if (*audit) return cli::RunAudit(data, audit_p, audit_from, audit_to, audit_f.Options());
  if (*progress) return cli::RunProgress(data, progress_p, progress_f.Options());
  if (*reviews) return cli::RunReviews(data, reviews_p, reviews_f.Options());
  if (*compliance) return cli::RunCompliance(data, compliance_p, compliance_f.Options());
  if (*users) return cli::RunUsers(data, users_p, users_f.Options());
  if (*mdm_publish) return cli::RunMdmPublish(data, mdm_o);
  if (*mdm_import) return cli::RunMdmImport(data, mdm_file, mdm_o, json_out);
  if (*mdm) return cli::RunMdm(data, mdm_o, mdm_f.Options());
  return 1;
}
