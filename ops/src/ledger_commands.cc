// The ledger's own subcommands: init, submit, log, verify, rebuild, digest.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "cli.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/consumers/verify.h"
#include "veeduria/events/command.h"
#include "veeduria/events/decide.h"
#include "veeduria/events/render.h"
#include "veeduria/producers/keys.h"
#include "veeduria/projections/projection.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::cli {

using nlohmann::json;

int Fail(const std::string& what) {
  std::cerr << "veeduria: " << what << "\n";
  return 1;
}

std::string DefaultDataDir() {
  const char* env = std::getenv("VEEDURIA_DATA");
  return env && *env ? env : "./veeduria-data";
}

Result<std::unique_ptr<producers::EmbeddedLedger>> OpenLedger(const std::string& dir, bool must_exist) {
  if (must_exist && !std::ifstream(dir + "/log/CURRENT"))
    return Status::NotFound(
        "no ledger in " + dir +
        (std::ifstream(dir + "/" + std::string(kKafkaNodeFile))
             ? " (it is a Kafka node's data directory: this command needs an embedded ledger)"
             : " (run 'veeduria init' first, or pass --data)"));
  auto opened = producers::EmbeddedLedger::Open(dir);
  if (opened.ok() && must_exist) ConfigureCheckpointPolicy(dir, **opened);  // DATA/config.json, if keyed
  return opened;
}

bool IsKafkaNodeDir(const std::string& data_dir) {
  return !std::ifstream(data_dir + "/log/CURRENT") &&
         std::ifstream(data_dir + "/" + std::string(kKafkaNodeFile));
}

Result<Opened> OpenProjections(const std::string& data_dir) {
  if (!IsKafkaNodeDir(data_dir)) return OpenCaughtUp(data_dir);
  Opened o;
  auto store = projections::ProjectionStore::OpenSecondary(data_dir);
  if (!store.ok()) return store.status();
  o.store = std::move(*store);
  std::cerr << data_dir << " is a Kafka node's: its projections as far as the node has applied the log\n";
  return o;
}

Result<Opened> OpenCaughtUp(const std::string& data_dir) {
  Opened o;
  auto ledger = OpenLedger(data_dir, true);
  if (!ledger.ok()) return ledger.status();
  o.ledger = std::move(*ledger);
  auto store = projections::ProjectionStore::Open(data_dir);
  if (!store.ok()) return store.status();
  o.store = std::move(*store);
  for (const auto& name : o.store->reset_on_open())
    std::cerr << "projection " << name << " changed version: rebuilding it from the log\n";
  auto caught = consumers::CatchUp(*o.ledger, *o.store);
  if (!caught.ok()) return caught.status();
  return o;
}

namespace {

Result<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    if (std::cin.bad()) return Status::IOError("reading standard input");
    return ss.str();
  }
  return ReadFile(path);
}

}  // namespace

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path);
  std::string data;
  std::error_code size_error;
  const uintmax_t size = std::filesystem::file_size(path, size_error);
  if (!size_error) data.reserve(size);
  // 1 MiB at a time, or the whole file and its end in one read when it is smaller (a key, a CSV).
  std::vector<char> chunk(!size_error && size < (uintmax_t{1} << 20) ? size + 1 : size_t{1} << 20);
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0)
    data.append(chunk.data(), static_cast<size_t>(in.gcount()));
  if (in.bad()) return Status::IOError("reading " + path);
  return data;
}

// ----------------------------------------------------------------------------------------
// init

int RunInit(const std::string& data, const std::string& clock, const std::string& admin,
            const std::string& at, int partitions) {
  auto ledger = OpenLedger(data, false);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  if (!(*ledger)->meta().clock.empty()) return Fail("a ledger already exists in " + data);
  json cmd = {{"command", "init"}, {"command_id", "init"}, {"actor", admin},
              {"clock", clock},    {"admin", admin},       {"partitions", partitions}};
  if (clock == "simulated")
    cmd["at"] = at;
  else if (at != "1970-01-01T00:00:00Z")
    return Fail("--at is only for a simulated clock");
  auto parsed = events::ParseCommand(cmd.dump(), 0);
  if (parsed.error) return Fail(parsed.error->message);
  auto result = (*ledger)->Append({*parsed.command});
  if (!result.ok()) return Fail(result.status().ToString());
  const events::Decision& d = result->front();
  if (d.outcome != events::Outcome::kAccepted) return Fail("init refused: " + d.message);
  std::cout << "initialized a " << clock << "-clock ledger in " << data << " (" << partitions
            << " partitions); " << admin << " holds the national dnp role\n";
  return 0;
}

// ----------------------------------------------------------------------------------------
// submit

std::string SubmitResultJson(int line, const std::string& command_id, const events::Decision& d) {
  nlohmann::ordered_json j = {{"line", line},
                              {"command_id", command_id.empty() ? json(nullptr) : json(command_id)},
                              {"status", events::OutcomeName(d.outcome)}};
  if (!d.reason.empty()) j["reason"] = d.reason;  // none for accepted (or a retry of one)
  j["message"] = d.message;
  j["events"] = d.event_ids;
  j["flags"] = d.flags;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

events::Decision InvalidLine(const events::CommandError& error, const std::string& source,
                             std::string_view text, std::string* command_id) {
  events::Decision d;
  d.outcome = events::Outcome::kInvalid;
  d.reason = error.reason;
  d.field = error.field;
  d.message = source + ": " + error.message;
  // The command_id of a line that names one, for the client's bookkeeping.
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_object() && j.contains("command_id") && j["command_id"].is_string())
    *command_id = j["command_id"].get<std::string>();
  return d;
}

namespace {

struct LineOutput {
  int line = 0;
  std::string command_id;
  events::Decision decision;
};

void PrintResult(const LineOutput& r, bool as_json) {
  const events::Decision& d = r.decision;
  if (as_json) {
    std::cout << SubmitResultJson(r.line, r.command_id, d) << "\n";
    return;
  }
  std::cout << "line " << r.line << ": " << events::OutcomeName(d.outcome);
  if (!d.reason.empty()) std::cout << " (" << d.reason << ")";
  if (!r.command_id.empty()) std::cout << " " << r.command_id;
  if (!d.flags.empty()) {
    std::cout << " [";
    for (size_t i = 0; i < d.flags.size(); ++i) std::cout << (i ? "," : "") << d.flags[i];
    std::cout << "]";
  }
  if (d.outcome != events::Outcome::kAccepted) std::cout << ": " << d.message;
  std::cout << "\n";
}

}  // namespace

int RunSubmit(const std::string& data, const std::string& path, bool as_json) {
  auto input = ReadInput(path);
  if (!input.ok()) return Fail(input.status().ToString());
  auto ledger = OpenLedger(data, true);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, size_t> counts;
  size_t events_written = 0;
  const auto lines = events::SplitLines(*input);
  // Group commit: one fsync per chunk of commands; outcomes print only once durable. Each chunk
  // is appended on a thread of its own, in file order (producers::OrderedAppender), so the next
  // chunk is parsed, and decided, while one is written.
  constexpr size_t kChunk = 1024, kInFlight = 2;
  struct Job {
    std::vector<events::Command> chunk;
    std::vector<size_t> slots;  // the outputs of the chunk's commands
    std::vector<LineOutput> outputs;
    Result<std::vector<events::Decision>> decided = Status::Internal("not appended");
    std::thread thread;
  };
  std::deque<std::unique_ptr<Job>> jobs;  // in flight, in file order
  producers::OrderedAppender appender(**ledger);
  size_t started = 0;
  auto launch = [&](std::unique_ptr<Job> job) {
    Job* j = job.get();
    j->thread = std::thread([&appender, j, k = started++] { j->decided = appender.Append(k, j->chunk); });
    jobs.push_back(std::move(job));
  };
  auto finish = [&]() -> Status {  // the oldest job: its outcomes, printed
    std::unique_ptr<Job> job = std::move(jobs.front());
    jobs.pop_front();
    job->thread.join();
    if (!job->decided.ok()) {
      appender.Stop(job->decided.status());  // nothing after it is appended
      return job->decided.status();
    }
    for (size_t i = 0; i < job->chunk.size(); ++i) {
      events_written += (*job->decided)[i].events.size();
      job->outputs[job->slots[i]].decision = std::move((*job->decided)[i]);
    }
    for (const LineOutput& o : job->outputs) {
      ++counts[events::OutcomeName(o.decision.outcome)];
      PrintResult(o, as_json);
    }
    return Status::Ok();
  };
  auto finish_all = [&]() -> Status {
    Status first;
    while (!jobs.empty()) {
      Status st = finish();
      if (first.ok()) first = st;
    }
    return first;
  };
  auto job = std::make_unique<Job>();
  for (const events::InputLine& line : lines) {
    auto parsed = events::ParseCommand(line.text, line.line_no);
    LineOutput out;
    out.line = line.line_no;
    if (parsed.error) {
      out.decision = InvalidLine(*parsed.error, path == "-" ? "<stdin>" : path, line.text, &out.command_id);
      job->outputs.push_back(std::move(out));
      continue;
    }
    out.command_id = parsed.command->command_id;
    job->slots.push_back(job->outputs.size());
    job->outputs.push_back(std::move(out));
    job->chunk.push_back(std::move(*parsed.command));
    if (job->chunk.size() >= kChunk) {
      launch(std::move(job));
      job = std::make_unique<Job>();
      if (jobs.size() >= kInFlight) {
        Status st = finish();
        if (!st.ok()) {
          (void)finish_all();
          return Fail(st.ToString());
        }
      }
    }
  }
  launch(std::move(job));
  Status st = finish_all();
  if (!st.ok()) return Fail(st.ToString());
  std::cout.flush();

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr,
               "submit: %zu lines: %zu accepted, %zu rejected, %zu duplicate, %zu invalid; %zu events in "
               "%.3f s (%.0f events/s)\n",
               lines.size(), counts["accepted"], counts["rejected"], counts["duplicate"], counts["invalid"],
               events_written, secs, secs > 0 ? events_written / secs : 0.0);
  // Bring the read models up to date, so that queries after a submit answer at once.
  ledger->reset();
  auto projected = OpenCaughtUp(data);
  if (!projected.ok())
    return Fail("events are appended, but the projections failed: " + projected.status().ToString());
  return 0;
}

// ----------------------------------------------------------------------------------------
// log

namespace {

std::string Summary(const events::LogEntry& e) {
  namespace s = veeduria::schema;
  const auto* ev = s::GetEvent(e.bytes.data());
  const auto* env = ev->envelope();
  std::ostringstream out;
  out << e.position.lsn << "  " << events::FormatRfc3339(env->recorded_at()) << "  " << env->stream()->str()
      << "#" << env->stream_seq() << "  " << s::EnumNamePayload(ev->payload_type()) << "  by "
      << (env->actor() && env->actor()->user() ? env->actor()->user()->str() : "?");
  if (env->actor()) out << " (" << s::EnumNameActorRole(env->actor()->role()) << ")";
  if (ev->payload_type() == s::Payload::CommandRejected) {
    const auto* r = ev->payload_as_CommandRejected();
    out << "  " << r->command()->str() << " refused: " << r->reason()->str();
  }
  if (env->flags() && env->flags()->size()) {
    out << "  [";
    for (size_t i = 0; i < env->flags()->size(); ++i)
      out << (i ? "," : "") << s::EnumNameFlag(static_cast<s::Flag>(env->flags()->Get(i)));
    if (env->days_late() > 0) out << " " << env->days_late() << "d";
    out << "]";
  }
  return out.str();
}

}  // namespace

int RunLog(const std::string& data, const std::string& entity, uint64_t from, bool as_json) {
  auto ledger = OpenLedger(data, true);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  auto print = [&](const events::LogEntry& e) {
    if (!events::VerifyEventBytes(e.bytes)) {
      std::cout << e.position.lsn << "  <unreadable event bytes>\n";
      return true;
    }
    if (as_json)
      std::cout << events::RenderEventJson(e.bytes, e.hash, &e.position) << "\n";
    else
      std::cout << Summary(e) << "\n";
    return true;
  };
  Status st;
  if (entity.empty()) {
    st = (*ledger)->ScanLog(from, print);
  } else {
    const events::LogPosition p = events::PartitionOf(entity, (*ledger)->partitions(events::kEventsTopic));
    st = (*ledger)->ScanPartition(p.topic, p.partition, 0, [&](const events::LogEntry& e) {
      if (e.position.lsn < from || !events::VerifyEventBytes(e.bytes)) return true;
      const auto* env = veeduria::schema::GetEvent(e.bytes.data())->envelope();
      if (env->stream() && env->stream()->str() == entity) print(e);
      return true;
    });
  }
  if (!st.ok()) return Fail(st.ToString());
  return 0;
}

// ----------------------------------------------------------------------------------------
// verify, rebuild

int RunVerify(const std::string& data, std::optional<uint64_t> from_checkpoint, const std::string& key_file) {
  auto ledger = OpenLedger(data, true);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  consumers::VerifyOptions options;
  options.from_checkpoint = from_checkpoint;
  options.frontier_at = [&](uint64_t size) { return (*ledger)->FrontierAt(size); };
  // Checkpoint signatures: against --key (a published public key), else the ledger's own key
  // file when there is one; otherwise they are reported unchecked.
  std::string key_pem, key_id, key_source;
  if (!key_file.empty()) {
    const auto pem = ReadFile(key_file);
    if (!pem.ok()) return Fail("cannot read the public key: " + pem.status().message());
    auto pk = producers::ParsePublicKey(*pem);
    if (!pk.ok()) return Fail(key_file + ": " + pk.status().ToString());
    key_pem = pk->pem;
    key_id = pk->key_id;
    key_source = key_file;
  } else if (auto config = producers::ReadLedgerConfig(data); config.ok()) {
    const std::string path = producers::SigningKeyPath(data, *config);
    if (std::ifstream(path).good())
      if (auto key = producers::LoadSigningKey(path); key.ok()) {
        key_pem = key->public_key_pem;
        key_id = key->key_id;
        key_source = "the ledger's key " + path;
      }
  }
  if (!key_pem.empty())
    options.verify_signature = [&](std::string_view msg, std::string_view sig, const std::string& id) {
      return id == key_id && producers::VerifySignature(key_pem, msg, sig);
    };
  const auto start = std::chrono::steady_clock::now();
  auto report = consumers::VerifyLog(**ledger, options);
  if (!report.ok()) return Fail(report.status().ToString());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!report->ok) {
    std::cout << "verify: FAILED at lsn " << report->position.lsn << " (" << report->position.topic << "/"
              << report->position.partition << " offset " << report->position.offset << ")";
    if (report->at_checkpoint) std::cout << ", checkpoint";
    if (!report->stream.empty()) std::cout << ", stream " << report->stream << " seq " << report->stream_seq;
    std::cout << ": " << report->problem << "\n";
    return 2;
  }
  std::cout << "verify: OK: " << report->events << " events in " << report->streams
            << " streams; every sequence and hash chain is intact ("
            << static_cast<uint64_t>(secs > 0 ? report->events / secs : 0) << " events/s)\n";
  if (from_checkpoint)
    std::cout << "  from the trusted checkpoint at lsn " << *from_checkpoint << ": the " << report->skipped
              << " events up to it were not checked\n";
  if (report->checkpoints > 0 || report->last_checkpoint_lsn) {
    std::cout << "  " << report->checkpoints
              << " checkpoint(s) checked: every Merkle root recomputed from the log matches";
    if (from_checkpoint) std::cout << " (and the trusted one's root matches the stored tree)";
    if (report->signatures_checked)
      std::cout << "; " << report->signatures_checked << " signature(s) verified with " << key_source
                << " (key " << key_id << ")";
    if (report->signatures_unchecked)
      std::cout << "; " << report->signatures_unchecked
                << " signature(s) NOT checked (no key: pass --key PUB)";
    std::cout << "\n";
    const uint64_t covered = *report->last_checkpoint_lsn + 1;
    const uint64_t total = report->skipped + report->events;
    if (total > covered)
      std::cout << "  the last " << (total - covered) << " event(s), after the checkpoint at lsn "
                << *report->last_checkpoint_lsn << ", are covered by their hash chains only\n";
  } else {
    std::cout << "  no checkpoint in the log: the events are covered by their hash chains only\n";
  }
  return 0;
}

int RunRebuild(const std::string& data, const std::string& projection) {
  if (projection == "decider") {
    auto ledger = OpenLedger(data, true);
    if (!ledger.ok()) return Fail(ledger.status().ToString());
    const std::string before = (*ledger)->StateDigest();
    Status st = (*ledger)->RebuildState();
    if (!st.ok()) return Fail(st.ToString());
    const std::string after = (*ledger)->StateDigest();
    std::cout << "rebuilt the decider state from the log: digest " << after
              << (before == after ? " (identical to the incremental state)"
                                  : " (DIFFERENT from the state before: " + before + ")")
              << "\n";
    return before == after ? 0 : 3;
  }
  if (!projection.empty() && !projections::FindProjection(projection))
    return Fail("unknown projection '" + projection +
                "' (known: progress, audit, reviews, compliance, users, mdm, decider)");
  auto opened = OpenCaughtUp(data);
  if (!opened.ok()) return Fail(opened.status().ToString());
  const auto before = opened->store->Digests();
  const auto start = std::chrono::steady_clock::now();
  Status st = opened->store->Reset(projection);
  if (st.ok()) st = opened->store->SetBulkEvents(projections::kRebuildBulkEvents);  // sorted runs
  if (!st.ok()) return Fail(st.ToString());
  auto caught = consumers::CatchUp(*opened->ledger, *opened->store);
  if (!caught.ok()) return Fail(caught.status().ToString());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto after = opened->store->Digests();
  bool same = true;
  for (size_t i = 0; i < after.size(); ++i) {
    if (!projection.empty() && after[i].first != projection) continue;
    same = same && before[i].second == after[i].second;
    std::cout << after[i].first << "  " << after[i].second
              << (before[i].second == after[i].second ? "  (identical to the incremental projection)"
                                                      : "  (CHANGED)")
              << "\n";
  }
  std::cout << "rebuilt " << (projection.empty() ? "every projection" : projection) << " from "
            << caught->events << " events in " << secs << " s ("
            << static_cast<uint64_t>(secs > 0 ? caught->events / secs : 0) << " events/s)\n";
  // The audit index into one sorted run, which the next commands' queries read faster.
  const auto merge_start = std::chrono::steady_clock::now();
  if (Status merged = opened->store->FinishMerge(); !merged.ok()) return Fail(merged.ToString());
  char waited[32];
  std::snprintf(waited, sizeof waited, "%.3f",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - merge_start).count());
  std::cout << "merged the audit index into one sorted run (" << waited << " s after the digests)\n";
  return same ? 0 : 3;
}

int RunDigest(const std::string& data) {
  auto opened = OpenProjections(data);
  if (!opened.ok()) return Fail(opened.status().ToString());
  std::string all;
  for (const auto& [name, digest] : opened->store->Digests()) {
    std::cout << name << "  " << digest << "\n";
    all += digest;
  }
  std::cout << "all  " << events::ToHex(events::Sha256(all)) << "\n";
  return 0;
}

int RunGen(const producers::GeneratorOptions& options, const std::string& out_path) {
  std::ofstream file;
  if (out_path != "-") {
    file.open(out_path, std::ios::binary | std::ios::trunc);
    if (!file) return Fail("cannot write " + out_path);
  }
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  auto stats = producers::Generate(options, out_path == "-" ? std::cout : file);
  if (!stats.ok()) return Fail(stats.status().ToString());
  if (file.is_open() && !file.flush()) return Fail("cannot write " + out_path);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // CPU time too: on a shared machine the wall rate says more about the neighbours.
  const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::fprintf(
      stderr,
      "gen: %llu commands (%llu active entities, %llu goals) in %.2f s (%.0f commands/s; %.2f s of CPU, "
      "%.0f commands per CPU-second)\n",
      static_cast<unsigned long long>(stats->commands),
      static_cast<unsigned long long>(stats->entities_active), static_cast<unsigned long long>(stats->goals),
      secs, secs > 0 ? stats->commands / secs : 0.0, cpu, cpu > 0 ? stats->commands / cpu : 0.0);
  return 0;
}

}  // namespace veeduria::cli
