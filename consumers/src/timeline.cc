// timeline.html of an evidence bundle: the case as a person reads and prints it.
// A pure function of the events' canonical JSON, so `verify --bundle` re-renders and compares.

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "veeduria/consumers/bundle.h"
#include "veeduria/events/time.h"

namespace veeduria::consumers {
namespace {

using nlohmann::json;

std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string S(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// "2023-07-24T16:28:00Z" → "2023-07-24 11:28" in Bogotá (UTC−5).
std::string Bogota(const std::string& rfc3339) {
  auto t = events::ParseRfc3339(rfc3339);
  if (!t) return rfc3339;
  const std::string utc = events::FormatRfc3339(*t + events::kBogotaOffset);  // shifted wall clock
  return utc.size() >= 16 ? utc.substr(0, 10) + " " + utc.substr(11, 5) : utc;
}

std::string Actor(const json& env) {
  const json a = env.value("actor", json::object());
  std::string s = "<span class=\"who\">" + Esc(S(a, "user")) + "</span>";
  const std::string role = S(a, "role");
  if (!role.empty() && role != "none") s += " <span class=\"role\">" + Esc(role) + "</span>";
  return s;
}

bool HasFlag(const json& env, const char* f) {
  for (const auto& x : env.value("flags", json::array()))
    if (x.is_string() && x.get<std::string>() == f) return true;
  return false;
}

std::string Report(const json& p) { return Esc(S(p, "campaign")) + " " + Esc(S(p, "milestone")); }

// One sentence (HTML) per event and a CSS class for its kind.
std::pair<std::string, std::string> Describe(const std::string& type, const json& env, const json& p) {
  if (type == "CampaignOpened") {
    std::string s = "Campaign <b>" + Esc(S(p, "campaign")) + "</b> opened (" + Esc(S(p, "system")) +
                    ", vigencia " + Esc(S(p, "vigencia")) + "). Deadlines:<ul>";
    for (const auto& m : p.value("milestones", json::array()))
      s += "<li>" + Esc(S(m, "id")) + " (" + Esc(S(m, "activity")) + "): due " + Esc(S(m, "deadline")) +
           "</li>";
    return {s + "</ul>", "due"};
  }
  if (type == "DeadlineExtended")
    return {"Deadline of " + Report(p) + " extended from " + Esc(S(p, "previous_deadline")) + " to <b>" +
                Esc(S(p, "deadline")) + "</b>: " + Esc(S(p, "reason")),
            "due"};
  if (type == "EntityRegistered")
    return {"Entity registered: <b>" + Esc(S(p, "name")) + "</b> (" + Esc(S(p, "entity")) + ", " +
                Esc(S(p, "kind")) + ", department " + Esc(S(p, "department")) + ")",
            "context"};
  if (type == "LeaderRequested")
    return {Esc(S(p, "name")) + " &lt;" + Esc(S(p, "email")) + "&gt; requested to be usuario líder of " +
                Esc(S(p, "entity")) + " (" + std::to_string(p.value("supports", json::array()).size()) +
                " supporting documents)",
            "context"};
  if (type == "LeaderActivated") {
    std::string s = "<b>" + Esc(S(p, "name")) + "</b> &lt;" + Esc(S(p, "email")) +
                    "&gt; became usuario líder of " + Esc(S(p, "entity"));
    if (!S(p, "previous_leader").empty()) s += ", replacing " + Esc(S(p, "previous_leader"));
    return {s, "context"};
  }
  if (type == "UserDeactivated")
    return {"User " + Esc(S(p, "user")) + " deactivated" +
                (S(p, "replaced_by").empty() ? "" : ", replaced by " + Esc(S(p, "replaced_by"))),
            "context"};
  if (type == "RoleGranted" || type == "RoleRevoked")
    return {std::string(type == "RoleGranted" ? "Role granted" : "Role revoked") + ": " + Esc(S(p, "user")) +
                " as " + Esc(S(p, "role")) + " for " + Esc(S(p, "scope")),
            "context"};
  if (type == "PlanUploaded")
    return {"Plan <b>" + Esc(S(p, "plan")) + "</b> uploaded: " + Esc(S(p, "name")) + " (" +
                Esc(S(p, "period_start")) + "–" + Esc(S(p, "period_end")) + ")",
            "context"};
  if (type == "GoalDefined")
    return {"Goal " + Esc(S(p, "goal")) + " defined: " + Esc(S(p, "name")) + " (CPI " +
                Esc(S(p, "cpi_indicator")) + ")",
            "context"};
  if (type == "GoalProgrammed")
    return {"Goal " + Esc(S(p, "goal")) + " programmed for " + Esc(S(p, "year")), "context"};
  if (type == "GoalHomologated")
    return {"Goal " + Esc(S(p, "goal")) + " homologated to CPI " + Esc(S(p, "cpi_indicator")), "context"};
  if (type == "ProgressReported") {
    std::string s = "Progress of goal " + Esc(S(p, "goal")) + " reported for " + Report(p) +
                    ": physical year-to-date " + Esc(S(p, "physical_ytd"));
    if (!S(p, "answers_request").empty()) s += " (answering " + Esc(S(p, "answers_request")) + ")";
    return {s, "sent"};
  }
  if (type == "GestionReported")
    return {"GESTIONWEB form " + Report(p) + " filled (" +
                std::to_string(p.value("values", json::array()).size()) + " variables)",
            "sent"};
  if (type == "ReportSubmitted") {
    std::string s = "<b>Report " + Report(p) + " submitted</b> (deadline " + Esc(S(p, "deadline")) + ")";
    if (HasFlag(env, "late"))
      s += " <span class=\"badge bad\">late " + Esc(S(env, "days_late")) + " day(s)</span>";
    else if (!S(p, "answers_request").empty())
      s += " <span class=\"badge\">answering " + Esc(S(p, "answers_request")) + "</span>";
    else
      s += " <span class=\"badge good\">on time</span>";
    return {s, "sent"};
  }
  if (type == "ReportValidated")
    return {
        "<b>Report " + Report(p) + " validated</b>" + (S(p, "note").empty() ? "" : ": " + Esc(S(p, "note"))),
        "ok"};
  if (type == "AdjustmentRequested") {
    std::string s = "<b>" + Esc(S(p, "kind") == "clarification" ? "Clarification" : "Adjustment") +
                    " requested</b> on " + Report(p) + " (" + Esc(S(p, "request_id")) + "), due <b>" +
                    Esc(S(p, "due")) + "</b>:<ul>";
    for (const auto& it : p.value("items", json::array()))
      s += "<li>" + Esc(S(it, "goal").empty() ? S(it, "variable") : S(it, "goal")) + ": " +
           Esc(S(it, "observation")) + "</li>";
    return {s + "</ul>", "asked"};
  }
  if (type == "AdjustmentAnswered")
    return {"<b>Adjustment " + Esc(S(p, "request_id")) + " answered</b> (was due " + Esc(S(p, "due")) + ")" +
                (S(p, "note").empty() ? "" : ": " + Esc(S(p, "note"))),
            "sent"};
  if (type == "NonComplianceNotified") {
    std::string s = "<b>Notified of non-compliance</b> on " + Report(p) + ": " + Esc(S(p, "reason")) +
                    ", by " + Esc(S(p, "channel"));
    if (!S(p, "copy_to").empty()) s += ", copy to " + Esc(S(p, "copy_to"));
    return {s, "bad"};
  }
  if (type == "ReferredToControlBody")
    return {"<b>Referred to " + Esc(S(p, "control_body")) + "</b> (case " + Esc(S(p, "case_id")) + ") over " +
                Report(p) + (S(p, "reason").empty() ? "" : ": " + Esc(S(p, "reason"))),
            "bad"};
  if (type == "CommandRejected")
    return {"Refused: <code>" + Esc(S(p, "command")) + "</code> (" + Esc(S(p, "reason")) +
                "): " + Esc(S(p, "message")),
            "refused"};
  if (type == "MdmScoreComputed")
    return {"MDM " + Esc(S(p, "vigencia")) + " published: " + Esc(S(p, "mdm")), "context"};
  if (type == "MdmInputsRecorded") return {"MDM inputs " + Esc(S(p, "vigencia")) + " recorded", "context"};
  return {Esc(type), "context"};
}

// What happened to one report (campaign, milestone) of the entity.
struct Case {
  std::string deadline, activity;
  std::vector<std::string> submitted, validated, requested, answered, notified, referred;
  std::map<std::string, std::string> open;  // request id → due, until answered
};

constexpr const char* kCss = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#111;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:2px solid #333;padding-bottom:2px}
.sub{color:#444;margin:0 0 12px}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #bbb;padding:4px 6px;vertical-align:top;text-align:left;overflow-wrap:anywhere}th{background:#eee}
td ul{margin:2px 0 0 18px;padding:0}.when{white-space:nowrap}.who{font-weight:600}
.role{color:#555;font-size:12px}.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px;color:#555;white-space:nowrap}
tr.due td:first-child{border-left:5px solid #1f5fbf}tr.sent td:first-child{border-left:5px solid #2e7d32}
tr.asked td:first-child{border-left:5px solid #e0a000}tr.bad td:first-child{border-left:5px solid #c62828}
tr.ok td:first-child{border-left:5px solid #2e7d32}tr.refused td:first-child{border-left:5px solid #777}
tr.context td{color:#333}.badge{display:inline-block;border:1px solid #777;border-radius:3px;padding:0 4px;font-size:12px}
.bad{color:#b71c1c;border-color:#b71c1c}.good{color:#1b5e20;border-color:#1b5e20}
.legend span{margin-right:14px}.foot{margin-top:24px;font-size:12px;color:#333}.foot code{word-break:break-all}
@media print{body{margin:0;max-width:none;font-size:10.5pt}tr{break-inside:avoid}thead{display:table-header-group}
h2{break-after:avoid}a{color:inherit;text-decoration:none}}
)";

}  // namespace

std::string RenderTimelineHtml(const BundleSelection& sel, const std::string& created_at,
                               const std::vector<std::string>& events_json,
                               const std::string& checkpoint_json, const std::string& key_id) {
  std::vector<json> evs;
  for (const auto& s : events_json) evs.push_back(json::parse(s, nullptr, false));
  std::string name = sel.entity;
  std::map<std::pair<std::string, std::string>, Case> cases;
  std::set<std::string> campaigns_seen;
  for (const json& e : evs) {
    if (e.is_discarded()) continue;
    const std::string type = S(e, "type");
    const json env = e.value("envelope", json::object()), p = e.value("payload", json::object());
    const std::string when = Bogota(S(env, "recorded_at")),
                      who = S(env.value("actor", json::object()), "user");
    if (type == "EntityRegistered" && S(p, "entity") == sel.entity)
      name = S(p, "name") + " (" + sel.entity + ")";
    if (type == "CampaignOpened") {
      for (const auto& m : p.value("milestones", json::array())) {
        if (!sel.milestone.empty() && S(m, "id") != sel.milestone) continue;
        auto& c = cases[{S(p, "campaign"), S(m, "id")}];
        c.deadline = S(m, "deadline");
        c.activity = S(m, "activity");
      }
      continue;
    }
    const std::string campaign = S(p, "campaign"), milestone = S(p, "milestone");
    if (campaign.empty() || milestone.empty() ||
        (type != "CommandRejected" && S(p, "entity") != sel.entity && type != "DeadlineExtended"))
      continue;
    auto& c = cases[{campaign, milestone}];
    if (type == "DeadlineExtended") c.deadline = S(p, "deadline") + " (extended)";
    if (type == "ReportSubmitted")
      c.submitted.push_back(when + " by " + who +
                            (HasFlag(env, "late")               ? ", " + S(env, "days_late") + " day(s) late"
                             : !S(p, "answers_request").empty() ? ", answering " + S(p, "answers_request")
                                                                : ", on time"));
    if (type == "ReportValidated") c.validated.push_back(when + " by " + who);
    if (type == "AdjustmentRequested") {
      c.requested.push_back(S(p, "request_id") + " on " + when + " by " + who + ", due " + S(p, "due"));
      c.open[S(p, "request_id")] = S(p, "due");
    }
    if (type == "AdjustmentAnswered") {
      c.answered.push_back(S(p, "request_id") + " on " + when + " by " + who);
      c.open.erase(S(p, "request_id"));
    }
    if (type == "NonComplianceNotified")
      c.notified.push_back(when + " by " + who + " (" + S(p, "reason") + ", " + S(p, "channel") +
                           (S(p, "copy_to").empty() ? "" : ", copy to " + S(p, "copy_to")) + ")");
    if (type == "ReferredToControlBody")
      c.referred.push_back(when + " to " + S(p, "control_body") + ", case " + S(p, "case_id") + " by " + who);
  }

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Evidence: " << Esc(name)
    << "</title>\n<style>" << kCss << "</style></head><body>\n";
  h << "<h1>Evidence: " << Esc(name) << "</h1>\n<p class=\"sub\">";
  if (!sel.campaign.empty())
    h << "Campaign " << Esc(sel.campaign) << (sel.milestone.empty() ? "" : " / " + Esc(sel.milestone))
      << " · ";
  if (!sel.from.empty() || !sel.to.empty())
    h << "from " << Esc(sel.from.empty() ? "the start" : sel.from) << " to "
      << Esc(sel.to.empty() ? "the end" : sel.to) << " · ";
  h << events_json.size() << " events from the veeduria ledger · bundle created " << Esc(created_at)
    << " · times are Bogotá (UTC−5)</p>\n";

  // The summary per report.
  h << "<h2>What was due and what happened</h2>\n<table><thead><tr><th>Report</th><th>Due</th><th>Sent</th>"
       "<th>Adjustments "
       "requested</th><th>Answered</th><th>Validated</th><th>Notified</th><th>Referred</th></tr>"
       "</thead><tbody>\n";
  auto cell = [&](const std::vector<std::string>& v, const char* none) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : "<br>") + Esc(x);
    return s.empty() ? std::string("<span class=\"role\">") + none + "</span>" : s;
  };
  size_t rows = 0;
  for (const auto& [key, c] : cases) {
    if (!c.activity.empty() && c.activity != "report") continue;  // validation windows etc.: in the log below
    bool any = !c.submitted.empty() || !c.requested.empty() || !c.notified.empty() || !c.referred.empty() ||
               !c.validated.empty();
    if (!any && sel.campaign.empty()) continue;
    ++rows;
    std::string unanswered;
    for (const auto& [id, due] : c.open)
      unanswered +=
          "<br><span class=\"badge bad\">" + Esc(id) + " not answered (due " + Esc(due) + ")</span>";
    h << "<tr><td><b>" << Esc(key.first) << " " << Esc(key.second) << "</b></td><td class=\"when\">"
      << (c.deadline.empty() ? "—" : Esc(c.deadline)) << "</td><td>"
      << (c.submitted.empty() ? "<span class=\"badge bad\">not sent</span>" : cell(c.submitted, ""))
      << "</td><td>" << cell(c.requested, "none") << "</td><td>" << cell(c.answered, "—") << unanswered
      << "</td><td>" << cell(c.validated, "no") << "</td><td>" << cell(c.notified, "no") << "</td><td>"
      << cell(c.referred, "no") << "</td></tr>\n";
  }
  if (rows == 0) h << "<tr><td colspan=\"8\">No report of this entity in the selection.</td></tr>\n";
  h << "</tbody></table>\n";

  // The account, event by event.
  h << "<h2>Timeline</h2>\n<p class=\"legend\"><span style=\"color:#1f5fbf\">▌<b>due</b></span><span "
       "style=\"color:#2e7d32\">▌<b>sent / validated</b></span><span "
       "style=\"color:#e0a000\">▌<b>requested</b></span>"
       "<span style=\"color:#c62828\">▌<b>notified / referred</b></span><span "
       "style=\"color:#777\">▌<b>refused</b>"
       "</span></p>\n<table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Event</th></tr></"
       "thead><tbody>\n";
  size_t n = 0;
  for (const json& e : evs) {
    ++n;
    if (e.is_discarded()) continue;
    const json env = e.value("envelope", json::object()), p = e.value("payload", json::object());
    auto [what, cls] = Describe(S(e, "type"), env, p);
    h << "<tr class=\"" << cls << "\"><td class=\"when\">" << Esc(Bogota(S(env, "recorded_at")))
      << "</td><td>" << Actor(env) << "</td><td>" << what << "</td><td class=\"id\">#" << n << " "
      << Esc(S(e, "type")) << "<br>" << Esc(S(env, "stream")) << " seq " << Esc(S(env, "stream_seq"))
      << "<br>" << Esc(S(env, "event_id").substr(0, 18)) << "</td></tr>\n";
  }
  h << "</tbody></table>\n";

  json cp = json::parse(checkpoint_json, nullptr, false);
  json cpp = cp.is_discarded() ? json::object() : cp.value("payload", json::object());
  h << "<div class=\"foot\"><h2>How to check this document</h2><p>Each event above is a file in this bundle "
       "(<code>events/NNNN.vdev</code>, its canonical bytes, and <code>events/NNNN.json</code>), with a "
       "Merkle "
       "inclusion proof (<code>proofs/NNNN.json</code>) against the ledger's signed checkpoint of "
    << Esc(S(cpp, "tree_size")) << " events, root <code>" << Esc(S(cpp, "root_hash"))
    << "</code>, signed with key <code>" << Esc(key_id)
    << "</code> (<code>public_key.pem</code>). Run <code>veeduria verify --bundle DIR --key "
       "PUBLISHED_KEY.pem</code>; it needs nothing but these files. The numbering #n is the order of "
       "<code>manifest.json</code>.</p></div>\n</body></html>\n";
  return h.str();
}

}  // namespace veeduria::consumers
