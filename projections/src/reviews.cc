// The reviews projection: per entity, campaign and milestone, the state of the review the
// gobernación (or DNP, for a gobernación's own reports) owes each report — submitted on time or
// late, adjustments and clarifications requested, answered (late or not) or overdue, validated,
// notified, referred — with the evidence trail (DESIGN §1 "Duties of the gobernación", §2.6).
//
// Rows:
//   e/<entity>      {"name", "kind", "department"}                          (EntityRegistered)
//                   The directory, kept here too so that reviews answer without other projections.
//   r/<entity>/<campaign>/<milestone>
//                   {"campaign", "milestone",
//                    "submitted": {"first_at", "first_event", "late", "days_late", "seq",
//                                  "on_time_at", "on_time_seq", "last_at", "count"},
//                    "requests": [{"id", "kind", "items": [{"goal" | "variable", "observation"}],
//                                  "due", "requested_at", "requested_by", "role",
//                                  "through_department", "department", "event_id", "seq",
//                                  "corrections": [event ids],
//                                  after the answer: "answered_at", "answered_by", "answer_note",
//                                  "answer_late", "answer_days_late",
//                                  "evidence": [{"name", "sha256"}], "answer_event", "answer_seq"}],
//                    "validations": [{"at", "by", "role", "note", "event_id", "seq"}],
//                    "notices": [{"at", "by", "reason", "channel", "message_sha256", "copy_to",
//                                 "event_id", "seq"}],
//                    "referrals": [{"at", "by", "control_body", "case", "reason", "event_id", "seq"}]}
//                   Members are absent until their first fact. "seq" is the event's stream_seq, so
//                   the query can tell the story in the order it happened.
//   t/<entity>/<campaign>/<milestone>/<stream_seq hex>
//                   {"at", "type", "event_id", "actor", "role"}: the evidence trail, one row per
//                   event of the review (submissions, reports that answer a request, requests,
//                   answers, validations, notices, referrals), in stream order. Append-only
//                   rows, so a long trail never rewrites a growing record.
// Times are µs since the epoch (recorded_at); dates ("due") are "YYYY-MM-DD", end of day in Bogotá.
// In keys, '%' and '/' of campaign and milestone ids are escaped as %25 and %2F.
//
// Every review event is on the entity's own stream (DNP's requests too), so r/ and t/ rows are
// written by one stream and e/ by the directory: rows do not depend on how streams interleave.
// "open" and "overdue" depend on the clock and are computed at query time against view.now().
// Timeliness comes from the envelope (flag `late`, `days_late`): the ledger's decision.

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "projections_internal.h"
#include "veeduria/events/time.h"
#include "veeduria/projections/query.h"

namespace veeduria::projections {
namespace {

namespace s = veeduria::schema;
using nlohmann::json;

json Documents(const flatbuffers::Vector<flatbuffers::Offset<s::Document>>* docs) {
  json out = json::array();
  if (docs)
    for (const auto* d : *docs) out.push_back({{"name", Str(d->name())}, {"sha256", Str(d->sha256())}});
  return out;
}

// <entity>/<campaign>/<milestone>, shared by the review row and its trail.
std::string ReviewPath(const std::string& entity, const std::string& campaign, const std::string& milestone) {
  return entity + "/" + KeyPart(campaign) + "/" + KeyPart(milestone);
}

json* FindRequest(json& review, const std::string& id) {
  if (!review.contains("requests")) return nullptr;
  for (auto& r : review["requests"])
    if (r["id"] == id) return &r;
  return nullptr;
}

class Reviews : public Projection {
 public:
  std::string_view name() const override { return "reviews"; }
  int version() const override { return 1; }

  bool Uses(const EventRef& e) const override {
    switch (e.event->payload_type()) {
      case s::Payload::EntityRegistered:
      case s::Payload::ReportSubmitted:
      case s::Payload::GestionReported:
      case s::Payload::ReportValidated:
      case s::Payload::AdjustmentRequested:
      case s::Payload::AdjustmentAnswered:
      case s::Payload::NonComplianceNotified:
      case s::Payload::ReferredToControlBody:
        return true;
      case s::Payload::ProgressReported:  // a correction asked for
        if (const auto* a = e.event->payload_as_ProgressReported()->answers_request()) return a->size() > 0;
        return false;
      default:
        return false;
    }
  }
  void Apply(const EventRef& e, events::StateStore& rows) const override {
    const s::Event* ev = e.event;
    switch (ev->payload_type()) {
      case s::Payload::EntityRegistered: {
        WriteEntityRow(ev->payload_as_EntityRegistered(), rows);
        return;
      }
      case s::Payload::ReportSubmitted: {
        const auto* p = ev->payload_as_ReportSubmitted();
        Submitted(e, rows, Str(p->entity()), Str(p->campaign()), Str(p->milestone()),
                  Str(p->answers_request()));
        return;
      }
      case s::Payload::GestionReported: {
        const auto* p = ev->payload_as_GestionReported();
        Submitted(e, rows, Str(p->entity()), Str(p->campaign()), Str(p->milestone()),
                  Str(p->answers_request()));
        return;
      }
      case s::Payload::ProgressReported: {
        // Only the corrections asked for belong to the review; the values themselves are the
        // progress projection's, and every report is in the audit trail.
        const auto* p = ev->payload_as_ProgressReported();
        const std::string answers = Str(p->answers_request());
        if (answers.empty()) return;
        Update(e, rows, Str(p->entity()), Str(p->campaign()), Str(p->milestone()), [&](json& r) {
          if (json* req = FindRequest(r, answers)) (*req)["corrections"].push_back(Str(e.env->event_id()));
        });
        return;
      }
      case s::Payload::ReportValidated: {
        const auto* p = ev->payload_as_ReportValidated();
        Update(e, rows, Str(p->entity()), Str(p->campaign()), Str(p->milestone()), [&](json& r) {
          const json actor = ActorOf(e);
          r["validations"].push_back({{"at", e.env->recorded_at()},
                                      {"by", actor["user"]},
                                      {"role", actor["role"]},
                                      {"note", Str(p->note())},
                                      {"event_id", Str(e.env->event_id())},
                                      {"seq", e.env->stream_seq()}});
        });
        return;
      }
      case s::Payload::AdjustmentRequested: {
        const auto* p = ev->payload_as_AdjustmentRequested();
        Update(e, rows, Str(p->entity()), Str(p->campaign()), Str(p->milestone()), [&](json& r) {
          json items = json::array();
          if (p->items())
            for (const auto* it : *p->items()) {
              json item{{"observation", Str(it->observation())}};
              if (it->goal() && it->goal()->size()) item["goal"] = Str(it->goal());
              if (it->variable() && it->variable()->size()) item["variable"] = Str(it->variable());
              items.push_back(std::move(item));
            }
          const json actor = ActorOf(e);
          r["requests"].push_back({{"id", Str(p->request_id())},
                                   {"kind", s::EnumNameAdjustmentKind(p->kind())},
                                   {"items", std::move(items)},
                                   {"due", Str(p->due())},
                                   {"requested_at", e.env->recorded_at()},
                                   {"requested_by", actor["user"]},
                                   {"role", actor["role"]},
                                   {"through_department", HasFlag(e.env, s::Flag::through_department)},
                                   {"department", Str(p->department())},
                                   {"event_id", Str(e.env->event_id())},
                                   {"seq", e.env->stream_seq()},
                                   {"corrections", json::array()}});
        });
        return;
      }
      case s::Payload::AdjustmentAnswered: {
        const auto* p = ev->payload_as_AdjustmentAnswered();
        Update(e, rows, Str(p->entity()), Str(p->campaign()), Str(p->milestone()), [&](json& r) {
          json* req = FindRequest(r, Str(p->request_id()));
          if (!req) return;  // the request is earlier on the same stream; never happens
          const bool late = HasFlag(e.env, s::Flag::late);
          (*req)["answered_at"] = e.env->recorded_at();
          (*req)["answered_by"] = ActorOf(e)["user"];
          (*req)["answer_note"] = Str(p->note());
          (*req)["answer_late"] = late;
          (*req)["answer_days_late"] = late ? e.env->days_late() : 0;
          (*req)["evidence"] = Documents(p->evidence());
          (*req)["answer_event"] = Str(e.env->event_id());
          (*req)["answer_seq"] = e.env->stream_seq();
        });
        return;
      }
      case s::Payload::NonComplianceNotified: {
        const auto* p = ev->payload_as_NonComplianceNotified();
        Update(e, rows, Str(p->entity()), Str(p->campaign()), Str(p->milestone()), [&](json& r) {
          r["notices"].push_back({{"at", e.env->recorded_at()},
                                  {"by", ActorOf(e)["user"]},
                                  {"reason", s::EnumNameNonComplianceReason(p->reason())},
                                  {"channel", s::EnumNameChannel(p->channel())},
                                  {"message_sha256", Str(p->message_sha256())},
                                  {"copy_to", Str(p->copy_to())},
                                  {"event_id", Str(e.env->event_id())},
                                  {"seq", e.env->stream_seq()}});
        });
        return;
      }
      case s::Payload::ReferredToControlBody: {
        const auto* p = ev->payload_as_ReferredToControlBody();
        Update(e, rows, Str(p->entity()), Str(p->campaign()), Str(p->milestone()), [&](json& r) {
          r["referrals"].push_back({{"at", e.env->recorded_at()},
                                    {"by", ActorOf(e)["user"]},
                                    {"control_body", Str(p->control_body())},
                                    {"case", Str(p->case_id())},
                                    {"reason", Str(p->reason())},
                                    {"event_id", Str(e.env->event_id())},
                                    {"seq", e.env->stream_seq()}});
        });
        return;
      }
      default:
        return;
    }
  }

 private:
  // Read-modify-write of the review row, plus the event's line in the trail.
  template <typename Fn>
  static void Update(const EventRef& e, events::StateStore& rows, const std::string& entity,
                     const std::string& campaign, const std::string& milestone, Fn&& fn) {
    const std::string path = ReviewPath(entity, campaign, milestone);
    const std::string key = "r/" + path;
    UpdateRecord(rows, key, [&](json& r) {  // in place when the rows are kept decoded
      if (!r.is_object()) r = json{{"campaign", campaign}, {"milestone", milestone}};
      for (const char* list : {"requests", "validations", "notices", "referrals"})
        if (!r.contains(list)) r[list] = json::array();
      fn(r);
    });
    const json actor = ActorOf(e);
    events::WriteRecord(rows, "t/" + path + "/" + Hex16(e.env->stream_seq()),
                        json{{"at", e.env->recorded_at()},
                             {"type", s::EnumNamePayload(e.event->payload_type())},
                             {"event_id", Str(e.env->event_id())},
                             {"actor", actor["user"]},
                             {"role", actor["role"]}});
  }

  // A submission (submit_report, or a GESTIONWEB report): the first fixes when and how late;
  // as in the decider, any later on-time one makes the milestone on time.
  static void Submitted(const EventRef& e, events::StateStore& rows, const std::string& entity,
                        const std::string& campaign, const std::string& milestone,
                        const std::string& answers) {
    Update(e, rows, entity, campaign, milestone, [&](json& r) {
      const events::Micros at = e.env->recorded_at();
      const bool late = HasFlag(e.env, s::Flag::late);
      json& sub = r["submitted"];
      if (sub.is_null())
        sub = {{"first_at", at}, {"first_event", Str(e.env->event_id())},
               {"late", late},   {"days_late", late ? e.env->days_late() : 0},
               {"count", 0},     {"seq", e.env->stream_seq()}};
      if (!late && !sub.contains("on_time_at")) {
        sub["on_time_at"] = at;
        sub["on_time_seq"] = e.env->stream_seq();
      }
      sub["last_at"] = at;
      sub["count"] = sub["count"].get<int>() + 1;
      if (!answers.empty())
        if (json* req = FindRequest(r, answers)) (*req)["corrections"].push_back(Str(e.env->event_id()));
    });
  }
};

std::string Time(const json& micros) { return events::FormatRfc3339(micros.get<events::Micros>()); }

bool Answered(const json& req) { return req.contains("answered_at"); }

bool Overdue(const json& req, events::Micros now) {
  if (Answered(req)) return false;
  auto due = events::ParseDate(req.value("due", ""));
  return due && now >= events::EndOfBogotaDay(*due);
}

std::string Plural(size_t n, const std::string& one) {
  return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
}

// "submitted late (6 days) → adjustment requested → answered → validated": the review's steps
// in the order they happened, then what is still awaited.
std::string Story(const json& r, events::Micros now) {
  std::vector<std::pair<uint64_t, std::string>> steps;
  if (r.contains("submitted")) {
    const json& sub = r["submitted"];
    steps.emplace_back(sub["seq"].get<uint64_t>(),
                       sub["late"].get<bool>()
                           ? "submitted late (" + Plural(sub["days_late"].get<int>(), "day") + ")"
                           : "submitted on time");
    // A late first submission made good (after a deadline extension, or answering a request).
    if (sub["late"].get<bool>() && sub.contains("on_time_seq"))
      steps.emplace_back(sub["on_time_seq"].get<uint64_t>(), "resubmitted on time");
  }
  for (const auto& q : r["requests"]) {
    std::string what = q["kind"].get<std::string>() + " requested";
    if (q.value("through_department", false)) what += " by DNP through the gobernación";
    steps.emplace_back(q["seq"].get<uint64_t>(), what);
    if (Answered(q))
      steps.emplace_back(q["answer_seq"].get<uint64_t>(),
                         q["answer_late"].get<bool>()
                             ? "answered late (" + Plural(q["answer_days_late"].get<int>(), "day") + ")"
                             : "answered");
  }
  for (const auto& v : r["validations"]) steps.emplace_back(v["seq"].get<uint64_t>(), "validated");
  for (const auto& n : r["notices"])
    steps.emplace_back(n["seq"].get<uint64_t>(), n["reason"] == "not_reported"
                                                     ? "notified (not reported)"
                                                     : "notified (adjustments not made)");
  for (const auto& x : r["referrals"])
    steps.emplace_back(x["seq"].get<uint64_t>(), "referred to " + x["control_body"].get<std::string>());
  std::sort(steps.begin(), steps.end());
  std::string out = r.contains("submitted") ? "" : "not submitted";
  for (const auto& [seq, what] : steps) out += (out.empty() ? "" : " → ") + what;
  for (const auto& q : r["requests"]) {
    if (Answered(q)) continue;
    out += std::string(" → ") + (Overdue(q, now) ? "answer overdue since " : "awaiting answer, due ") +
           q["due"].get<std::string>();
  }
  return out;
}

// The details behind one review: the requests with their items, answers and evidence, the
// notices and referrals, and the trail of event ids in order.
void Details(const Rows& rows, const std::string& entity, const std::string& campaign,
             const std::string& milestone, const json& r, std::vector<std::string>* notes) {
  const std::string head = entity + " " + campaign + " " + milestone + ": ";
  for (const auto& q : r["requests"]) {
    std::string line = head + q["kind"].get<std::string>() + " request " + q["id"].get<std::string>() +
                       " by " + q["requested_by"].get<std::string>() +
                       (q.value("through_department", false) ? " (DNP, through the gobernación)" : "") +
                       " on " + Time(q["requested_at"]) + ", due " + q["due"].get<std::string>();
    for (const auto& item : q["items"])
      line += "; " + item.value("goal", item.value("variable", "")) + ": " +
              item["observation"].get<std::string>();
    notes->push_back(line);
    if (Answered(q)) {
      std::string answer = head + "  answered by " + q["answered_by"].get<std::string>() + " on " +
                           Time(q["answered_at"]) + (q["answer_late"].get<bool>() ? " (late)" : "") + ": " +
                           q["answer_note"].get<std::string>();
      for (const auto& d : q["evidence"])
        answer += "; evidence " + d["name"].get<std::string>() + " sha256 " + d["sha256"].get<std::string>();
      notes->push_back(answer);
    }
  }
  for (const auto& n : r["notices"])
    notes->push_back(head + "notified " + n["reason"].get<std::string>() + " by " +
                     n["by"].get<std::string>() + " on " + Time(n["at"]) + " via " +
                     n["channel"].get<std::string>() + ", copy to " + n["copy_to"].get<std::string>() +
                     ", message sha256 " + n["message_sha256"].get<std::string>());
  for (const auto& x : r["referrals"])
    notes->push_back(head + "referred to " + x["control_body"].get<std::string>() + " (case " +
                     x["case"].get<std::string>() + ") by " + x["by"].get<std::string>() + " on " +
                     Time(x["at"]) + ": " + x["reason"].get<std::string>());
  rows.ScanRecords("t/" + ReviewPath(entity, campaign, milestone) + "/",
                   [&](std::string_view, const json& t) {
                     notes->push_back(head + "trail " + Time(t["at"]) + " " + t["type"].get<std::string>() +
                                      " by " + t["actor"].get<std::string>() + " (" +
                                      t["role"].get<std::string>() + ") " + t["event_id"].get<std::string>());
                     return true;
                   });
}

}  // namespace

const Projection& ReviewsProjection() {
  static const Reviews kReviews;
  return kReviews;
}

Result<Table> ReviewsQuery(const View& view, const ReviewsParams& q) {
  const Rows& rows = view.rows("reviews");
  if (q.entity.empty() == q.department.empty())
    return Status::InvalidArgument("reviews needs one of --entity or --department");
  if (!q.status.empty() && q.status != "open" && q.status != "overdue")
    return Status::InvalidArgument("--status: expected open or overdue, got '" + q.status + "'");
  if (q.campaign.empty() && !q.milestone.empty())
    return Status::InvalidArgument("--milestone needs --campaign");

  // The entities in scope. A department's reviewer reviews its municipalities and districts; the
  // gobernación's own reports are reviewed by DNP and are asked for with --entity.
  std::vector<std::pair<std::string, json>> entities;
  std::string own;
  if (!q.entity.empty()) {
    json e = rows.Record("e/" + q.entity);
    if (!e.is_object()) return Status::InvalidArgument("unknown entity '" + q.entity + "'");
    entities.emplace_back(q.entity, std::move(e));
  } else {
    bool any = false;
    rows.ScanRecords("e/", [&](std::string_view k, const json& e) {
      if (e.value("department", "") != q.department) return true;
      any = true;
      if (e.value("kind", "") == "departamento")
        own = std::string(k.substr(2));
      else
        entities.emplace_back(std::string(k.substr(2)), e);
      return true;
    });
    if (!any) return Status::InvalidArgument("no entity of department '" + q.department + "' is registered");
  }

  Table t;
  t.title = "Reviews of " + (q.entity.empty() ? "department " + q.department : q.entity) +
            (q.campaign.empty() ? "" : ", " + q.campaign) + (q.milestone.empty() ? "" : " " + q.milestone) +
            (q.status.empty() ? "" : " (" + q.status + ")");
  t.columns = {"entity",           "name",        "campaign",     "milestone",     "submitted_at",
               "timeliness",       "days_late",   "requests",     "open_requests", "overdue_requests",
               "last_request_due", "answered_at", "validated_at", "validated_by",  "notified",
               "referred",         "status"};
  const events::Micros now = view.now();
  std::vector<std::tuple<std::string, std::string, std::string, json>> shown;  // for the details
  for (const auto& [code, entity] : entities) {
    const std::string prefix = "r/" + code + "/" + (q.campaign.empty() ? "" : KeyPart(q.campaign) + "/");
    rows.ScanRecords(prefix, [&](std::string_view, const json& r) {
      const std::string campaign = r["campaign"].get<std::string>(),
                        milestone = r["milestone"].get<std::string>();
      if (!q.milestone.empty() && milestone != q.milestone) return true;
      size_t open = 0, overdue = 0;
      json answered_at;
      for (const auto& req : r["requests"]) {
        open += !Answered(req);
        overdue += Overdue(req, now);
        if (Answered(req) && (answered_at.is_null() || req["answered_at"] > answered_at))
          answered_at = req["answered_at"];
      }
      if (q.status == "open" && open == 0) return true;
      if (q.status == "overdue" && overdue == 0) return true;
      nlohmann::ordered_json row;
      row["entity"] = code;
      row["name"] = entity.value("name", "");
      row["campaign"] = campaign;
      row["milestone"] = milestone;
      if (r.contains("submitted")) {
        const json& sub = r["submitted"];
        const bool on_time = sub.contains("on_time_at");
        row["submitted_at"] = Time(on_time ? sub["on_time_at"] : sub["first_at"]);
        row["timeliness"] = on_time ? "on time" : "late";
        row["days_late"] = on_time ? 0 : sub["days_late"].get<int>();
      } else {
        row["submitted_at"] = nullptr;
        row["timeliness"] = "not submitted";
        row["days_late"] = nullptr;
      }
      row["requests"] = r["requests"].size();
      row["open_requests"] = open;
      row["overdue_requests"] = overdue;
      row["last_request_due"] = r["requests"].empty() ? json() : r["requests"].back()["due"];
      row["answered_at"] = answered_at.is_null() ? json() : json(Time(answered_at));
      const json& validations = r["validations"];
      row["validated_at"] = validations.empty() ? json() : json(Time(validations.back()["at"]));
      row["validated_by"] = validations.empty() ? json() : validations.back()["by"];
      row["notified"] = !r["notices"].empty();
      row["referred"] = !r["referrals"].empty();
      row["status"] = Story(r, now);
      t.rows.push_back(std::move(row));
      shown.emplace_back(code, campaign, milestone, r);
      return true;
    });
  }
  // One review asked for: show what stands behind it.
  if (shown.size() == 1) {
    const auto& [code, campaign, milestone, r] = shown.front();
    Details(rows, code, campaign, milestone, r, &t.notes);
  }
  if (!own.empty())
    t.notes.push_back("the gobernación's own reports (entity " + own +
                      ") are reviewed by DNP: see --entity " + own);
  if (view.as_of()) t.notes.push_back("as of " + events::FormatRfc3339(now));
  return t;
}

}  // namespace veeduria::projections
