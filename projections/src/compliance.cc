// The compliance projection: per campaign milestone, which entities reported on time, late or
// not at all, and which of them were notified in writing and referred to a control body — the
// lists a gobernación and DNP act on (DESIGN §1 "Duties of the gobernación", "Consequences").
//
// Rows:
//   e/<entity>      {"name", "kind", "department"}                          (EntityRegistered)
//                   The directory. view.cc's AsOfKeysForDepartment/AsOfKeysNational read this
//                   exact layout: change it only together with them.
//   c/<campaign>    {"campaign", "system", "vigencia",
//                    "milestones": [{"id", "activity", "cut", "deadline",
//                                    "extensions": [{"at", "from", "to", "reason"}]}]}
//                   (CampaignOpened; DeadlineExtended moves "deadline" and appends an extension)
//   f/<campaign>/<milestone>/<entity>
//                   {"report": {"first_at", "first_event", "late", "days_late", "on_time_at",
//                               "last_at", "count"},
//                    "notices": [{"at", "by", "role", "reason", "channel", "message_sha256",
//                                 "copy_to", "event_id"}],
//                    "referrals": [{"at", "by", "control_body", "case", "reason", "event_id"}]}
//                   The facts of one entity on one milestone: its reports (ReportSubmitted,
//                   GestionReported), notices (NonComplianceNotified) and referrals
//                   (ReferredToControlBody). Members are absent until their first fact.
// Times are µs since the epoch (recorded_at); dates are "YYYY-MM-DD" (end of day in Bogotá). In
// keys, '%' and '/' of campaign and milestone ids are escaped as %25 and %2F.
//
// Each row is written by a single stream (e/ and c/ by the directory, f/ by the entity's own
// stream), so the rows do not depend on how streams interleave (embedded log vs Kafka,
// incremental vs rebuild). Whatever combines streams and the clock — who was expected, whether
// a deadline has passed ("missing" vs "pending"), what to do next — is computed at query time.
//
// Timeliness is the ledger's own decision, read from the envelope (flag `late`, `days_late`),
// never recomputed: it is what the entity was told when it reported. As in the decider, a
// milestone counts as reported on time once any on-time report exists (e.g. a resubmission
// after a deadline extension).

#include <algorithm>
#include <map>

#include "projections_internal.h"
#include "veeduria/events/time.h"
#include "veeduria/projections/query.h"

namespace veeduria::projections {
namespace {

namespace s = veeduria::schema;
using nlohmann::json;

std::string CampaignKey(const std::string& campaign) { return "c/" + KeyPart(campaign); }

std::string FactsKey(const std::string& campaign, const std::string& milestone, const std::string& entity) {
  return "f/" + KeyPart(campaign) + "/" + KeyPart(milestone) + "/" + entity;
}

class Compliance : public Projection {
 public:
  std::string_view name() const override { return "compliance"; }
  int version() const override { return 1; }

  bool Uses(const EventRef& e) const override {
    switch (e.event->payload_type()) {
      case s::Payload::EntityRegistered:
      case s::Payload::CampaignOpened:
      case s::Payload::DeadlineExtended:
      case s::Payload::ReportSubmitted:
      case s::Payload::GestionReported:
      case s::Payload::NonComplianceNotified:
      case s::Payload::ReferredToControlBody:
        return true;
      default:
        return false;
    }
  }
  void Apply(const EventRef& e, events::StateStore& rows) const override {
    const s::Event* ev = e.event;
    const events::Micros at = e.env->recorded_at();
    switch (ev->payload_type()) {
      case s::Payload::EntityRegistered: {
        WriteEntityRow(ev->payload_as_EntityRegistered(), rows);
        return;
      }
      case s::Payload::CampaignOpened: {
        const auto* p = ev->payload_as_CampaignOpened();
        json c{{"campaign", Str(p->campaign())},
               {"system", s::EnumNameReportingSystem(p->system())},
               {"vigencia", p->vigencia()},
               {"milestones", json::array()}};
        if (p->milestones())
          for (const auto* m : *p->milestones())
            c["milestones"].push_back({{"id", Str(m->id())},
                                       {"activity", s::EnumNameMilestoneActivity(m->activity())},
                                       {"cut", Str(m->cut())},
                                       {"deadline", Str(m->deadline())},
                                       {"extensions", json::array()}});
        events::WriteRecord(rows, CampaignKey(Str(p->campaign())), c);
        return;
      }
      case s::Payload::DeadlineExtended: {
        // Same (directory) stream as CampaignOpened, so the campaign row is always there.
        const auto* p = ev->payload_as_DeadlineExtended();
        const std::string key = CampaignKey(Str(p->campaign()));
        json c = events::ReadRecord(rows, key);
        if (!c.is_object()) return;
        for (auto& m : c["milestones"]) {
          if (m["id"] != Str(p->milestone())) continue;
          m["extensions"].push_back({{"at", at},
                                     {"from", Str(p->previous_deadline())},
                                     {"to", Str(p->deadline())},
                                     {"reason", Str(p->reason())}});
          m["deadline"] = Str(p->deadline());
        }
        events::WriteRecord(rows, key, c);
        return;
      }
      case s::Payload::ReportSubmitted: {
        const auto* p = ev->payload_as_ReportSubmitted();
        Reported(e, rows, FactsKey(Str(p->campaign()), Str(p->milestone()), Str(p->entity())));
        return;
      }
      case s::Payload::GestionReported: {
        const auto* p = ev->payload_as_GestionReported();
        Reported(e, rows, FactsKey(Str(p->campaign()), Str(p->milestone()), Str(p->entity())));
        return;
      }
      case s::Payload::NonComplianceNotified: {
        const auto* p = ev->payload_as_NonComplianceNotified();
        const std::string key = FactsKey(Str(p->campaign()), Str(p->milestone()), Str(p->entity()));
        json f = Facts(rows, key);
        const json actor = ActorOf(e);
        f["notices"].push_back({{"at", at},
                                {"by", actor["user"]},
                                {"role", actor["role"]},
                                {"reason", s::EnumNameNonComplianceReason(p->reason())},
                                {"channel", s::EnumNameChannel(p->channel())},
                                {"message_sha256", Str(p->message_sha256())},
                                {"copy_to", Str(p->copy_to())},
                                {"event_id", Str(e.env->event_id())}});
        events::WriteRecord(rows, key, f);
        return;
      }
      case s::Payload::ReferredToControlBody: {
        const auto* p = ev->payload_as_ReferredToControlBody();
        const std::string key = FactsKey(Str(p->campaign()), Str(p->milestone()), Str(p->entity()));
        json f = Facts(rows, key);
        f["referrals"].push_back({{"at", at},
                                  {"by", ActorOf(e)["user"]},
                                  {"control_body", Str(p->control_body())},
                                  {"case", Str(p->case_id())},
                                  {"reason", Str(p->reason())},
                                  {"event_id", Str(e.env->event_id())}});
        events::WriteRecord(rows, key, f);
        return;
      }
      default:
        return;
    }
  }

 private:
  static json Facts(const events::StateStore& rows, const std::string& key) {
    json f = events::ReadRecord(rows, key);
    if (!f.is_object()) f = json::object();
    for (const char* list : {"notices", "referrals"})
      if (!f.contains(list)) f[list] = json::array();
    return f;
  }

  // A report of the milestone: the first one fixes when the entity reported and how late; any
  // later on-time one (after an extension, or answering a request) makes it on time.
  static void Reported(const EventRef& e, events::StateStore& rows, const std::string& key) {
    json f = Facts(rows, key);
    const events::Micros at = e.env->recorded_at();
    const bool late = HasFlag(e.env, s::Flag::late);
    json& r = f["report"];
    if (r.is_null()) {
      r = {{"first_at", at},
           {"first_event", Str(e.env->event_id())},
           {"late", late},
           {"days_late", late ? e.env->days_late() : 0},
           {"count", 0}};
    }
    if (!late && !r.contains("on_time_at")) r["on_time_at"] = at;
    r["last_at"] = at;
    r["count"] = r["count"].get<int>() + 1;
    events::WriteRecord(rows, key, f);
  }
};

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
  return out;
}

std::string Time(const json& micros) { return events::FormatRfc3339(micros.get<events::Micros>()); }

}  // namespace

const Projection& ComplianceProjection() {
  static const Compliance kCompliance;
  return kCompliance;
}

Result<Table> ComplianceQuery(const View& view, const ComplianceParams& q) {
  const Rows& rows = view.rows("compliance");
  if (q.campaign.empty() || q.milestone.empty())
    return Status::InvalidArgument("compliance needs --campaign and --milestone");
  const json campaign = rows.Record(CampaignKey(q.campaign));
  if (!campaign.is_object()) {
    std::vector<std::string> known;
    rows.ScanRecords("c/", [&](std::string_view, const json& c) {
      known.push_back(c.value("campaign", ""));
      return true;
    });
    return Status::InvalidArgument("unknown campaign '" + q.campaign +
                                   "'; known campaigns: " + (known.empty() ? "(none)" : Join(known)));
  }
  const json* milestone = nullptr;
  std::vector<std::string> ids, report_ids;
  for (const auto& m : campaign["milestones"]) {
    ids.push_back(m["id"].get<std::string>());
    if (m["activity"] == "report") report_ids.push_back(ids.back());
    if (m["id"] == q.milestone) milestone = &m;
  }
  if (!milestone)
    return Status::InvalidArgument("unknown milestone '" + q.milestone + "' of campaign '" + q.campaign +
                                   "'; its milestones: " + Join(ids));
  // Only report milestones have something for entities to meet; the others (guide, opening,
  // validation, adjustments) are the dates of DNP and the gobernaciones.
  if ((*milestone)["activity"] != "report")
    return Status::InvalidArgument("milestone '" + q.milestone + "' of campaign '" + q.campaign + "' is a " +
                                   (*milestone)["activity"].get<std::string>() +
                                   " milestone, not a report; compliance is measured on: " +
                                   (report_ids.empty() ? "(none)" : Join(report_ids)));
  const std::string system = campaign.value("system", "");
  const std::string deadline = (*milestone)["deadline"].get<std::string>();
  const bool passed = view.now() >= events::EndOfBogotaDay(*events::ParseDate(deadline));

  Table t;
  t.title = "Compliance " + q.campaign + " " + q.milestone + " (deadline " + deadline + ")" +
            (q.department.empty() ? ", national" : ", department " + q.department);
  t.columns = {"entity",      "name",     "kind",        "department", "status",       "days_late",
               "reported_at", "notified", "notified_at", "referred",   "control_body", "action"};
  std::map<std::string, int> totals;
  int notified_total = 0, referred_total = 0;
  rows.ScanRecords("e/", [&](std::string_view key, const json& entity) {
    const std::string code(key.substr(2));
    const std::string kind = entity.value("kind", "");
    const std::string department = entity.value("department", "");
    if (!q.department.empty() && department != q.department) return true;
    // GESTIONWEB measures the gestión of municipalities and districts; departments report in KPT.
    if (system == "gestionweb" && kind == "departamento") return true;
    const json facts = rows.Record(FactsKey(q.campaign, q.milestone, code));
    const json report = facts.is_object() ? facts.value("report", json()) : json();
    const json notices = facts.is_object() ? facts.value("notices", json::array()) : json::array();
    const json referrals = facts.is_object() ? facts.value("referrals", json::array()) : json::array();

    std::string status;
    json days_late, reported_at;
    if (report.is_object() && report.contains("on_time_at")) {
      status = "on time";
      days_late = 0;
      reported_at = Time(report["on_time_at"]);
    } else if (report.is_object()) {
      status = "late";
      days_late = report["days_late"];
      reported_at = Time(report["first_at"]);
    } else {
      status = passed ? "missing" : "pending";
    }
    // The next step of the circular's procedure: the gobernación notifies in writing, then DNP
    // may inform a control body. Nobody but DNP acts on a gobernación's own report (the ledger
    // accepts no notice to a departamento), so a missing departamento goes straight to "refer".
    std::string action;
    if (status == "missing" && referrals.empty())
      action = !notices.empty() || kind == "departamento" ? "refer" : "notify";
    nlohmann::ordered_json row;
    row["entity"] = code;
    row["name"] = entity.value("name", "");
    row["kind"] = kind;
    row["department"] = department;
    row["status"] = status;
    row["days_late"] = days_late;
    row["reported_at"] = reported_at;
    row["notified"] = !notices.empty();
    row["notified_at"] = notices.empty() ? json() : json(Time(notices[0]["at"]));
    row["referred"] = !referrals.empty();
    row["control_body"] = referrals.empty() ? json() : referrals.back()["control_body"];
    row["action"] = action;
    ++totals[status];
    notified_total += !notices.empty();
    referred_total += !referrals.empty();
    t.rows.push_back(std::move(row));
    return true;
  });
  t.notes.push_back("deadline " + deadline + " (end of the day in Bogotá)" +
                    (passed ? ", passed" : ", not yet passed"));
  for (const auto& ext : (*milestone)["extensions"])
    t.notes.push_back("deadline extended from " + ext["from"].get<std::string>() + " to " +
                      ext["to"].get<std::string>() + " on " + Time(ext["at"]) + ": " +
                      ext["reason"].get<std::string>());
  t.notes.push_back("totals: " + std::to_string(totals["on time"]) + " on time, " +
                    std::to_string(totals["late"]) + " late, " + std::to_string(totals["missing"]) +
                    " missing, " + std::to_string(totals["pending"]) + " pending; " +
                    std::to_string(notified_total) + " notified, " + std::to_string(referred_total) +
                    " referred; " + std::to_string(t.rows.size()) + " expected to report");
  if (view.as_of()) t.notes.push_back("as of " + events::FormatRfc3339(view.now()));
  return t;
}

}  // namespace veeduria::projections
