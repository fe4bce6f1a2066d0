#include "http_service.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <shared_mutex>
#include <thread>

#include "../cli.h"
#include "backend.h"
#include "probes.h"
#include "tokens.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/consumers/verify.h"
#include "veeduria/events/command.h"
#include "veeduria/events/state.h"
#include "veeduria/projections/view.h"

namespace veeduria::service {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

events::Micros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Error(httplib::Response& res, int status, const std::string& error, const std::string& message) {
  res.status = status;
  res.set_content(json{{"error", error}, {"message", message}}.dump() + "\n", "application/json");
}

// A query's failure as a response: its status and error code by the Status's code.
void Error(httplib::Response& res, const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return Error(res, 400, "bad_parameter", s.message());
    case StatusCode::kNotFound:
      return Error(res, 404, "not_found", s.message());
    case StatusCode::kFailedPrecondition:
      return Error(res, 409, "failed_precondition", s.message());
    case StatusCode::kUnavailable:
      return Error(res, 503, "unavailable", s.message());
    default:
      return Error(res, 500, "internal", s.message());
  }
}

// A non-negative integer parameter: digits only (std::stoull alone takes "-1" as 2^64-1, and "+1"
// and leading blanks).
std::optional<uint64_t> Digits(const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(text);
}

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

std::string RouteLabel(const std::string& path) {
  for (const auto& r : ServedRoutes())
    if (path == r.path) return r.path;
  return "other";  // a bounded label set
}

// Who may read what (DESIGN §2.4 roles): national roles (dnp, auditor, control_body) read
// everything; a department_reviewer reads its department and its entities; the leader or a
// reporter of an entity reads that entity. Decided from the decider state (live roles).
enum class ScopeKind { kEntity, kDepartment, kNational };

}  // namespace

struct HttpService::Impl {
  ServiceOptions options;
  std::unique_ptr<TokenStore> tokens;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  LedgerProbe ledger_probe{*registry};
  ProjectorProbe projector_probe{*registry};
  HttpProbe http_probe{*registry};
  StorageProbe storage_probe{*registry};
  std::unique_ptr<Backend> backend;  // after the probes it reports to
  std::unique_ptr<httplib::Server> server;
  int port = 0;
  std::atomic<int> in_flight{0};
  std::atomic<bool> caught_up_once{false};  // the first catch-up (a rebuild, maybe) is done
  // Serve/Stop hand-over: httplib's stop() before listen_after_bind() runs is lost.
  std::atomic<bool> stop_requested{false}, serve_entered{false}, serve_returned{false};

  // Background maintenance and detached query workers.
  std::mutex bg_mu;
  std::condition_variable bg_cv;
  bool stopping = false;                 // GUARDED_BY(bg_mu)
  std::atomic<bool> stop_verify{false};  // set by Stop(): a verification under way ends
  int workers = 0;                       // GUARDED_BY(bg_mu): query workers still running
  std::thread maintainer;
  Clock::time_point next_verify = Clock::now();
  bool first_done = false;  // GUARDED_BY(bg_mu): the first catch-up ended (well or not)
  Status first_catch_up;    // GUARDED_BY(bg_mu): how

  Status CatchUpNow() { return backend->CatchUp(); }

  // The backend's readiness, and not before the first catch-up ended well.
  json Readiness() const {
    json r = backend->Readiness();
    if (!caught_up_once && r.value("status", "") == "ready") r["status"] = "catching_up";
    return r;
  }

  void SampleStorage() { backend->SampleMetrics(); }

  // Entities whose milestone deadline passed without a report, per campaign and milestone.
  void SampleCompliance() {
    backend->ReadProjections([&](const projections::ProjectionStore& store) {
      auto view = projections::LiveView(store, NowMicros());
      std::vector<std::pair<std::string, std::string>> milestones;
      view->rows("compliance").ScanRecords("c/", [&](std::string_view, const json& c) {
        for (const auto& m : c.value("milestones", json::array()))
          milestones.emplace_back(c.value("campaign", ""), m.value("id", ""));
        return true;
      });
      for (const auto& [c, m] : milestones) {
        auto t = projections::ComplianceQuery(*view, {c, m, ""});
        if (!t.ok()) continue;
        size_t missing = 0;
        for (const auto& row : t->rows)
          if (row.value("status", "") == "missing") ++missing;
        storage_probe.SetMissingReports(c, m, missing);
      }
    });
  }

  void Verify() { (void)backend->Verify(stop_verify); }  // reported by the probes

  void Maintain() {
    std::unique_lock<std::mutex> lock(bg_mu);
    while (!stopping) {
      lock.unlock();
      Status caught = CatchUpNow();  // a broken chain is reported by the probe and /readyz
      if (!caught_up_once) {
        std::lock_guard<std::mutex> l(bg_mu);
        first_catch_up = caught;
        caught_up_once = caught.ok();
        first_done = true;
        bg_cv.notify_all();
      }
      SampleStorage();
      SampleCompliance();
      if (options.verify_every_seconds > 0 && Clock::now() >= next_verify) {
        Verify();
        next_verify = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(options.verify_every_seconds));
      }
      lock.lock();
      bg_cv.wait_for(lock, std::chrono::duration<double>(options.maintenance_seconds),
                     [&] { return stopping; });
    }
  }

  // --- authorization -------------------------------------------------------------------

  std::optional<std::string> Authenticate(const httplib::Request& req) {
    const std::string h = req.get_header_value("Authorization");
    if (h.rfind("Bearer ", 0) != 0) return std::nullopt;
    return tokens->Lookup(h.substr(7));
  }

  json Rec(const std::string& key) const { return backend->Record(key); }

  bool MayRead(const std::string& user, ScopeKind kind, const std::string& code) const {
    const json u = Rec("u/" + user);
    if (u.is_null() || !u.value("active", true)) return false;
    std::set<std::pair<std::string, std::string>> roles;
    for (const auto& r : u.value("roles", json::array()))
      if (r.is_array() && r.size() == 2) roles.insert({r[0].get<std::string>(), r[1].get<std::string>()});
    for (const char* national : {"dnp", "auditor", "control_body"})
      if (roles.count({national, "national"})) return true;
    if (kind == ScopeKind::kNational || code.empty()) return false;
    if (kind == ScopeKind::kDepartment) return roles.count({"department_reviewer", code}) > 0;
    const json e = Rec("e/" + code);
    if (e.is_null()) return false;  // an unknown entity: nothing to read, and no hint of it
    if (e.value("leader", "") == user || roles.count({"reporter", code})) return true;
    const std::string dept = e.value("department", "");
    return !dept.empty() && roles.count({"department_reviewer", dept}) > 0;
  }

  // --- handlers --------------------------------------------------------------------------

  // Wraps a /v1 handler: the concurrency limit, then the token, then the handler.
  httplib::Server::Handler V1(
      std::function<void(const httplib::Request&, httplib::Response&, const std::string&)> fn) {
    return [this, fn](const httplib::Request& req, httplib::Response& res) {
      struct Slot {
        std::atomic<int>& n;
        HttpProbe& probe;
        ~Slot() { probe.SetInFlight(--n); }
      } slot{in_flight, http_probe};
      if (!caught_up_once) {  // the projections are being built: no stale answers
        res.set_header("Retry-After", "1");
        return Error(res, 503, "catching_up", "the projections are catching up with the log; see /readyz");
      }
      const int now = ++in_flight;
      http_probe.SetInFlight(now);
      int running = 0;  // query workers, including those still finishing after a 504
      {
        std::lock_guard<std::mutex> l(bg_mu);
        running = workers;
      }
      if (now > options.max_concurrent || running >= options.max_concurrent)
        return Error(
            res, 429, "too_many_requests",
            "more than " + std::to_string(options.max_concurrent) + " requests in flight; retry later");
      auto user = Authenticate(req);
      if (!user) {
        res.set_header("WWW-Authenticate", "Bearer");
        return Error(res, 401, "unauthorized",
                     "a valid bearer token is required (Authorization: Bearer TOKEN)");
      }
      fn(req, res, *user);
    };
  }

  // Runs `work` on its own thread, waiting at most the query timeout: 504 when it is late (the
  // work finishes in the background; its answer is dropped).
  void WithTimeout(httplib::Response& res, std::function<void(httplib::Response&)> work) {
    auto done = std::make_shared<std::promise<httplib::Response>>();
    auto future = done->get_future();
    {
      std::lock_guard<std::mutex> l(bg_mu);
      ++workers;
    }
    std::thread([this, done, work] {
      httplib::Response r;
      try {
        if (options.before_query) options.before_query();
        work(r);
      } catch (const std::exception& e) {
        Error(r, 500, "internal", "the query failed");
      }
      {
        // The slot is free before the answer is: a client that got it and asks again at once
        // must not meet its own finished query as one still running (a spurious 429).
        std::lock_guard<std::mutex> l(bg_mu);
        --workers;
        bg_cv.notify_all();
      }
      done->set_value(std::move(r));  // `done` is the thread's own: nothing of *this after the slot
    }).detach();
    if (future.wait_for(std::chrono::milliseconds(options.query_timeout_ms)) != std::future_status::ready)
      return Error(res, 504, "query_timeout",
                   "the query took longer than " + std::to_string(options.query_timeout_ms) + " ms");
    res = future.get();
  }

  using Params = std::map<std::string, std::string>;

  // The query parameters, refusing any not in `allowed` (a typo must not widen a query).
  std::optional<Params> ParamsOf(const httplib::Request& req, httplib::Response& res,
                                 std::initializer_list<const char*> allowed,
                                 std::initializer_list<const char*> required) {
    Params p;
    for (const auto& [k, v] : req.params) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || k == a;
      if (!ok) {
        Error(res, 400, "bad_parameter", "unknown query parameter '" + k + "'");
        return std::nullopt;
      }
      p[k] = v;
    }
    for (const char* r : required)
      if (p[r].empty()) {
        Error(res, 400, "missing_parameter", std::string("query parameter '") + r + "' is required");
        return std::nullopt;
      }
    return p;
  }

  // Answers a table as the CLI's --json prints it; `limit`/`offset` page the rows, the total and
  // the next page go in headers (X-Total-Count, Link) so the body keeps the CLI's shape.
  void Table(const httplib::Request& req, httplib::Response& res, const Params& p, ScopeKind kind,
             const std::string& code, const std::string& user,
             std::function<Result<projections::Table>(const projections::ProjectionStore&)> query) {
    if (!MayRead(user, kind, code))
      return Error(res, 403, "forbidden", "the token's user may not read this scope");
    const std::string limit_text = Get(p, "limit"), offset_text = Get(p, "offset");
    const std::optional<uint64_t> given_limit =
        limit_text.empty() ? options.default_limit : Digits(limit_text);
    const std::optional<uint64_t> given_offset = offset_text.empty() ? 0 : Digits(offset_text);
    if (!given_limit || !given_offset)
      return Error(res, 400, "bad_parameter", "limit and offset are non-negative integers");
    const size_t limit = *given_limit, offset = *given_offset;
    if (limit == 0 || limit > options.max_limit)
      return Error(res, 400, "bad_parameter", "limit must be 1.." + std::to_string(options.max_limit));
    const std::string path = req.path;
    Params params = p;
    WithTimeout(res, [this, query, limit, offset, path, params](httplib::Response& r) {
      std::optional<Result<projections::Table>> result;
      backend->ReadProjections(
          [&](const projections::ProjectionStore& store) { result.emplace(query(store)); });
      Result<projections::Table>& table = *result;
      if (!table.ok()) return Error(r, table.status());
      const size_t total = table->rows.size();
      if (offset > 0 || total > limit) {
        std::vector<nlohmann::ordered_json> page;
        for (size_t i = offset; i < total && i < offset + limit; ++i)
          page.push_back(std::move(table->rows[i]));
        table->rows = std::move(page);
        if (offset + limit < total) {
          std::string next = path + "?";
          for (const auto& [k, v] : params)
            if (k != "offset")
              next +=
                  httplib::detail::encode_query_param(k) + "=" + httplib::detail::encode_query_param(v) + "&";
          next += "offset=" + std::to_string(offset + limit);
          if (!params.count("limit")) next += "&limit=" + std::to_string(limit);
          r.set_header("Link", "<" + next + ">; rel=\"next\"");
        }
      }
      r.set_header("X-Total-Count", std::to_string(total));
      r.set_content(projections::Render(*table, projections::Format::kJson), "application/json");
    });
  }

  static std::string Get(const Params& p, const char* k) {
    auto it = p.find(k);
    return it == p.end() ? "" : it->second;
  }

  void Audit(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    auto p = ParamsOf(req, res,
                      {"entity", "object", "actor", "type", "from", "to", "as_of", "limit", "offset"}, {});
    if (!p) return;
    projections::AuditParams a;
    a.entity = Get(*p, "entity"), a.object = Get(*p, "object"), a.actor = Get(*p, "actor"),
    a.type = Get(*p, "type");
    if (a.entity.empty() && a.actor.empty())
      return Error(res, 400, "missing_parameter", "query parameter 'entity' or 'actor' is required");
    const std::string from = Get(*p, "from"), to = Get(*p, "to"), as_of = Get(*p, "as_of");
    // An actor's trail across entities is read by the national roles.
    Table(req, res, *p, a.entity.empty() ? ScopeKind::kNational : ScopeKind::kEntity, a.entity, user,
          [=](const projections::ProjectionStore& s) { return cli::AuditTable(s, a, from, to, as_of); });
  }

  void Progress(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    auto p = ParamsOf(
        req, res, {"entity", "department", "national", "campaign", "milestone", "as_of", "limit", "offset"},
        {});
    if (!p) return;
    projections::ProgressParams q;
    q.entity = Get(*p, "entity"), q.department = Get(*p, "department");
    q.national = Get(*p, "national") == "true" || Get(*p, "national") == "1";
    q.campaign = Get(*p, "campaign"), q.milestone = Get(*p, "milestone");
    q.bands = backend->bands();
    if ((!q.entity.empty()) + (!q.department.empty()) + q.national != 1)
      return Error(res, 400, "bad_parameter", "give exactly one of entity, department, national=true");
    const ScopeKind kind = !q.entity.empty()       ? ScopeKind::kEntity
                           : !q.department.empty() ? ScopeKind::kDepartment
                                                   : ScopeKind::kNational;
    const std::string as_of = Get(*p, "as_of");
    Table(req, res, *p, kind, q.entity.empty() ? q.department : q.entity, user,
          [=](const projections::ProjectionStore& s) { return cli::ProgressTable(s, q, as_of); });
  }

  void Reviews(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    auto p =
        ParamsOf(req, res,
                 {"entity", "department", "campaign", "milestone", "status", "as_of", "limit", "offset"}, {});
    if (!p) return;
    projections::ReviewsParams q;
    q.entity = Get(*p, "entity"), q.department = Get(*p, "department");
    q.campaign = Get(*p, "campaign"), q.milestone = Get(*p, "milestone"), q.status = Get(*p, "status");
    if (q.entity.empty() == q.department.empty())
      return Error(res, 400, "bad_parameter", "give exactly one of entity, department");
    if (!q.status.empty() && q.status != "open" && q.status != "overdue")
      return Error(res, 400, "bad_parameter", "status is open or overdue");
    const std::string as_of = Get(*p, "as_of");
    Table(req, res, *p, q.entity.empty() ? ScopeKind::kDepartment : ScopeKind::kEntity,
          q.entity.empty() ? q.department : q.entity, user,
          [=](const projections::ProjectionStore& s) { return cli::ReviewsTable(s, q, as_of); });
  }

  void Compliance(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    auto p = ParamsOf(req, res, {"campaign", "milestone", "department", "as_of", "limit", "offset"},
                      {"campaign", "milestone"});
    if (!p) return;
    projections::ComplianceParams q{Get(*p, "campaign"), Get(*p, "milestone"), Get(*p, "department")};
    const std::string as_of = Get(*p, "as_of");
    Table(req, res, *p, q.department.empty() ? ScopeKind::kNational : ScopeKind::kDepartment, q.department,
          user, [=](const projections::ProjectionStore& s) { return cli::ComplianceTable(s, q, as_of); });
  }

  void Users(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    auto p = ParamsOf(req, res, {"entity", "as_of", "limit", "offset"}, {"entity"});
    if (!p) return;
    projections::UsersParams q{Get(*p, "entity")};
    const std::string as_of = Get(*p, "as_of");
    Table(req, res, *p, ScopeKind::kEntity, q.entity, user,
          [=](const projections::ProjectionStore& s) { return cli::UsersTable(s, q, as_of); });
  }

  void Mdm(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    auto p = ParamsOf(req, res,
                      {"vigencia", "group", "department", "entity", "explain", "as_of", "limit", "offset"},
                      {"vigencia"});
    if (!p) return;
    cli::MdmOptions o;
    const std::optional<uint64_t> vigencia = Digits(Get(*p, "vigencia"));
    if (!vigencia || *vigencia < 1900 || *vigencia > 9999)
      return Error(res, 400, "bad_parameter", "vigencia is a year");
    o.vigencia = static_cast<int>(*vigencia);
    o.params.group = Get(*p, "group"), o.params.department = Get(*p, "department"),
    o.params.entity = Get(*p, "entity");
    o.explain = Get(*p, "explain") == "true" || Get(*p, "explain") == "1";
    const ScopeKind kind = !o.params.entity.empty()       ? ScopeKind::kEntity
                           : !o.params.department.empty() ? ScopeKind::kDepartment
                                                          : ScopeKind::kNational;
    const std::string as_of = Get(*p, "as_of");
    Table(req, res, *p, kind, o.params.entity.empty() ? o.params.department : o.params.entity, user,
          [=](const projections::ProjectionStore& s) { return cli::MdmTable(s, o, as_of); });
  }

  // The evidence bundle of `veeduria evidence`, as one JSON object: the summary, and every file
  // of the bundle (path → base64 of its bytes), so a client can write it out and run
  // `veeduria verify --bundle` on it.
  void Evidence(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    auto p = ParamsOf(req, res, {"entity", "campaign", "milestone", "from", "to"}, {"entity"});
    if (!p) return;
    cli::EvidenceOptions o;
    o.entity = Get(*p, "entity"), o.campaign = Get(*p, "campaign"), o.milestone = Get(*p, "milestone");
    o.from = Get(*p, "from"), o.to = Get(*p, "to");
    if (!MayRead(user, ScopeKind::kEntity, o.entity))
      return Error(res, 403, "forbidden", "the token's user may not read this scope");
    WithTimeout(res, [this, o](httplib::Response& r) mutable {
      std::string tmpl = (fs::temp_directory_path() / "veeduria-evidence-XXXXXX").string();
      if (!::mkdtemp(tmpl.data())) return Error(r, 500, "internal", "cannot create a temporary directory");
      o.out = tmpl;
      auto summary = backend->WriteEvidence(o);
      if (!summary.ok()) {
        fs::remove_all(tmpl);
        return Error(r, summary.status());
      }
      nlohmann::ordered_json out;
      out["entity"] = o.entity;
      out["events"] = summary->events;
      out["checkpoint_tree_size"] = summary->tree_size;
      out["root"] = summary->root_hex;
      out["key_id"] = summary->key_id;
      out["after_checkpoint"] = summary->after;
      nlohmann::ordered_json files = nlohmann::ordered_json::object();
      std::vector<fs::path> paths;
      for (const auto& f : fs::recursive_directory_iterator(tmpl))
        if (f.is_regular_file()) paths.push_back(f.path());
      std::sort(paths.begin(), paths.end());
      for (const auto& f : paths) {
        std::ifstream in(f, std::ios::binary);
        files[fs::relative(f, tmpl).string()] =
            Base64(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
      }
      out["files"] = std::move(files);
      fs::remove_all(tmpl);
      r.set_content(out.dump() + "\n", "application/json");
    });
  }

  // The consistency proof of `veeduria consistency` between two signed checkpoints, as its
  // document (`veeduria verify --consistency` checks it offline). Read by the national roles.
  void Consistency(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    if (!MayRead(user, ScopeKind::kNational, ""))
      return Error(res, 403, "forbidden", "the token's user may not read this scope");
    auto p = ParamsOf(req, res, {"from_size", "to_size"}, {"from_size"});
    if (!p) return;
    const std::string to_text = Get(*p, "to_size");
    const std::optional<uint64_t> from = Digits(Get(*p, "from_size"));
    const std::optional<uint64_t> to = to_text.empty() ? std::nullopt : Digits(to_text);
    if (!from || (!to_text.empty() && !to))
      return Error(res, 400, "bad_parameter", "from_size and to_size are tree sizes (non-negative integers)");
    WithTimeout(res, [this, from = *from, to](httplib::Response& r) {
      auto doc = backend->Consistency(from, to);
      if (!doc.ok()) return Error(r, doc.status());
      r.set_content(*doc, "application/json");
    });
  }

  // JSON Lines in, one `submit --json` line out per input line. The actor is the token's user:
  // a line without `actor` gets it; a line naming someone else is refused (not_authorized) and
  // recorded like any refusal.
  void Commands(const httplib::Request& req, httplib::Response& res, const std::string& user) {
    const auto lines = events::SplitLines(req.body);
    if (lines.size() > options.max_lines)
      return Error(res, 413, "too_many_lines",
                   std::to_string(lines.size()) + " lines; at most " + std::to_string(options.max_lines) +
                       " per request");
    std::vector<std::pair<std::string, CommandOutcome>> out(lines.size());  // command_id, outcome
    std::vector<events::Command> commands;
    std::vector<size_t> slots;
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string text(lines[i].text);
      json j = json::parse(text, nullptr, false);
      if (j.is_object() && !j.empty() && !j.contains("actor")) {
        // Inserted textually so every other byte (numbers as written) reaches the parser as sent.
        const size_t brace = text.find('{');
        text.insert(brace + 1, "\"actor\":" + json(user).dump() + ",");
      }
      auto parsed = events::ParseCommand(text, lines[i].line_no);
      if (parsed.error) {
        out[i].second.decision = cli::InvalidLine(*parsed.error, "request", lines[i].text, &out[i].first);
        ledger_probe.OnInvalid(parsed.error->reason);
        continue;
      }
      parsed.command->authenticated_actor = user;
      out[i].first = parsed.command->command_id;
      slots.push_back(i);
      commands.push_back(std::move(*parsed.command));
    }
    if (!commands.empty()) {
      auto decided = backend->Decide(commands);
      if (!decided.ok()) return Error(res, 503, "unavailable", decided.status().message());
      for (size_t k = 0; k < slots.size(); ++k) out[slots[k]].second = std::move((*decided)[k]);
      Status caught = CatchUpNow();  // read-your-writes
      if (!caught.ok()) res.set_header("X-Projections", "behind");
    }
    std::string body;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (out[i].second.timed_out) {
        body += json{{"line", lines[i].line_no},
                     {"command_id", out[i].first},
                     {"status", "timeout"},
                     {"message",
                      "no outcome within the command timeout; the command may still be decided: "
                      "resubmitting it is safe (a retry is a duplicate)"},
                     {"events", json::array()},
                     {"flags", json::array()}}
                    .dump() +
                "\n";
        continue;
      }
      body += cli::SubmitResultJson(lines[i].line_no, out[i].first, out[i].second.decision) + "\n";
    }
    res.set_content(body, "application/x-ndjson");
  }

  void Install() {
    httplib::Server& s = *server;
    s.set_payload_max_length(options.max_body_bytes);
    // Small JSON answers: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms per request
    // on a kept-alive connection; httplib's default of 5 requests per connection is raised.
    s.set_tcp_nodelay(true);
    s.set_keep_alive_max_count(1000);
    s.new_task_queue = [n = options.threads] { return new httplib::ThreadPool(n); };
    s.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      RequestStart() = Clock::now();
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // Metrics of every request, including those httplib answers itself (413, 404). Nothing is
    // logged: headers carry tokens.
    s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      http_probe.OnRequest(RouteLabel(req.path), res.status, Since(RequestStart()));
    });
    s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      const char* what = res.status == 404   ? "not_found"
                         : res.status == 413 ? "payload_too_large"
                         : res.status == 405 ? "method_not_allowed"
                                             : "error";
      Error(res, res.status, what, res.status == 413 ? "the request body is too large" : what);
    });
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      Error(res, 500, "internal", "internal error");
    });
    std::map<std::string, httplib::Server::Handler> handlers;
    handlers["/healthz"] = [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"ok\"}\n", "application/json");
    };
    handlers["/readyz"] = [this](const httplib::Request&, httplib::Response& res) {
      const json r = Readiness();
      res.status = r.value("status", "") == "ready" ? 200 : 503;
      res.set_content(r.dump() + "\n", "application/json");
    };
    handlers["/metrics"] = [this](const httplib::Request&, httplib::Response& res) {
      SampleStorage();
      res.set_content(prometheus::TextSerializer().Serialize(registry->Collect()),
                      "text/plain; version=0.0.4; charset=utf-8");
    };
    auto bind = [this](auto member) {
      return V1([this, member](const httplib::Request& q, httplib::Response& r, const std::string& u) {
        (this->*member)(q, r, u);
      });
    };
    handlers["/v1/audit"] = bind(&Impl::Audit);
    handlers["/v1/progress"] = bind(&Impl::Progress);
    handlers["/v1/reviews"] = bind(&Impl::Reviews);
    handlers["/v1/compliance"] = bind(&Impl::Compliance);
    handlers["/v1/users"] = bind(&Impl::Users);
    handlers["/v1/mdm"] = bind(&Impl::Mdm);
    handlers["/v1/evidence"] = bind(&Impl::Evidence);
    handlers["/v1/consistency"] = bind(&Impl::Consistency);
    handlers["/v1/commands"] = bind(&Impl::Commands);
    for (const Route& r : ServedRoutes()) {
      if (r.method == "GET") s.Get(r.path, handlers.at(r.path));
      if (r.method == "POST") s.Post(r.path, handlers.at(r.path));
    }
  }

  static Clock::time_point& RequestStart() {
    thread_local Clock::time_point t = Clock::now();
    return t;
  }
};

const std::vector<Route>& ServedRoutes() {
  static const std::vector<Route> routes = {
      {"GET", "/healthz"},     {"GET", "/readyz"},      {"GET", "/metrics"},        {"GET", "/v1/audit"},
      {"GET", "/v1/progress"}, {"GET", "/v1/reviews"},  {"GET", "/v1/compliance"},  {"GET", "/v1/users"},
      {"GET", "/v1/mdm"},      {"GET", "/v1/evidence"}, {"GET", "/v1/consistency"}, {"POST", "/v1/commands"}};
  return routes;
}

HttpService::HttpService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpService::~HttpService() {
  Stop();
  std::unique_lock<std::mutex> lock(impl_->bg_mu);
  impl_->stopping = true;  // Stop() above has ended a verification under way
  impl_->bg_cv.notify_all();
  impl_->bg_cv.wait(lock, [&] { return impl_->workers == 0; });
  lock.unlock();
  if (impl_->maintainer.joinable()) impl_->maintainer.join();
}

Result<std::unique_ptr<HttpService>> HttpService::Open(ServiceOptions options) {
  return Open(std::move(options),
              [](const ServiceOptions& o, Probes probes) { return OpenEmbeddedBackend(o.data, probes); });
}

Result<std::unique_ptr<HttpService>> HttpService::Open(ServiceOptions options,
                                                       const BackendFactory& factory) {
  auto impl = std::make_unique<Impl>();
  if (options.tokens_file.empty()) options.tokens_file = options.data + "/tokens";
  impl->options = options;
  auto backend = factory(
      options, Probes{*impl->registry, impl->ledger_probe, impl->projector_probe, impl->storage_probe});
  if (!backend.ok()) return backend.status();
  impl->backend = std::move(*backend);
  impl->tokens = std::make_unique<TokenStore>(options.tokens_file);
  if (options.tls_cert.empty() != options.tls_key.empty())
    return Status::InvalidArgument("TLS needs both --tls-cert and --tls-key");
  if (!options.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!ssl->is_valid())
      return Status::InvalidArgument("cannot load the TLS certificate " + options.tls_cert + " and key " +
                                     options.tls_key);
    impl->server = std::move(ssl);
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  impl->Install();
  if (options.port == 0) {
    impl->port = impl->server->bind_to_any_port(options.host);
  } else {
    impl->port = impl->server->bind_to_port(options.host, options.port) ? options.port : -1;
  }
  if (impl->port <= 0)
    return Status::Unavailable("cannot listen on " + options.host + ":" + std::to_string(options.port));
  Impl* raw = impl.get();
  raw->SampleStorage();
  raw->maintainer = std::thread([raw] { raw->Maintain(); });
  return std::unique_ptr<HttpService>(new HttpService(std::move(impl)));
}

Status HttpService::WaitCaughtUp() {
  std::unique_lock<std::mutex> lock(impl_->bg_mu);
  impl_->bg_cv.wait(lock, [&] { return impl_->first_done || impl_->stopping; });
  return impl_->first_done ? impl_->first_catch_up : Status::Unavailable("stopped");
}

int HttpService::port() const { return impl_->port; }
bool HttpService::tls() const { return !impl_->options.tls_cert.empty(); }

Status HttpService::Serve() {
  impl_->serve_entered = true;
  struct Returned {
    std::atomic<bool>& flag;
    ~Returned() { flag = true; }
  } returned{impl_->serve_returned};
  if (impl_->stop_requested) return Status::Ok();  // stopped before it could listen
  if (!impl_->server->listen_after_bind() && impl_->server->is_running())
    return Status::IOError("the HTTP server stopped with an error");
  return Status::Ok();
}

void HttpService::Stop() {
  impl_->stop_verify = true;  // a verification under way ends (it is read between batches)
  if (!impl_->server) return;
  impl_->stop_requested = true;
  // Serve() may be between its check and listening: wait (bounded) until it listens, so that
  // stop() is not lost (a SIGTERM right after the "serving" line left the server running).
  for (int i = 0; i < 5000 && impl_->serve_entered && !impl_->serve_returned && !impl_->server->is_running();
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->server->stop();
}

}  // namespace veeduria::service
