// AsOfView against the plain fold it must equal: the events of the audit index up to T, applied
// through each projection's Apply into MemoryRows (a MessagePack overlay), at every instant the
// index holds, a microsecond before and after each, for every projection and through every
// read path of Rows (Get, Scan, a cursor from every key, Record, ScanRecords, and at every 16th
// instant and the last a cursor re-sought everywhere); and the progress query of every entity,
// the department and the nation over both (it reads the latest version of each temporal row, r/
// rows with its own MessagePack reader).

#include <map>
#include <set>

#include "fixture.h"
#include "projections_internal.h"
#include "veeduria/events/render.h"
#include "veeduria/events/sha256.h"
#include "veeduria/projections/query.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria {
namespace {

namespace p = projections;

// The reference: every event of the log indexed under one of `keys` and recorded up to `t`, in
// time-key order, folded through `proj` (or only those `proj` uses, when `used_only`).
std::unique_ptr<p::MemoryRows> PlainFold(const events::LogReader& log, const std::vector<std::string>& keys,
                                         events::Micros t, const p::Projection& proj,
                                         bool used_only = false) {
  std::map<std::string, events::LogEntry> events;  // time key → event
  EXPECT_TRUE(log.ScanLog(0,
                          [&](const events::LogEntry& le) {
                            const schema::Event* ev = schema::GetEvent(le.bytes.data());
                            if (ev->envelope() == nullptr || ev->envelope()->recorded_at() > t) return true;
                            const p::EventRef ref{ev, ev->envelope(), le.bytes, le.hash, le.position};
                            for (const std::string& k : p::IndexKeysOf(ref))
                              if (std::find(keys.begin(), keys.end(), k) != keys.end()) {
                                events.emplace(p::TimeKey(ref), le);
                                break;
                              }
                            return true;
                          })
                  .ok());
  auto out = std::make_unique<p::MemoryRows>();
  for (const auto& [tk, le] : events) {
    const schema::Event* ev = schema::GetEvent(le.bytes.data());
    const p::EventRef ref{ev, ev->envelope(), le.bytes, le.hash, le.position};
    if (!used_only || proj.Uses(ref)) proj.Apply(ref, out->state());
  }
  return out;
}

using Listing = std::vector<std::pair<std::string, std::string>>;
// The rows from the first key >= `start` on (a cursor; Scan("") when `start` is empty).
Listing ScanAll(const p::Rows& rows, std::string_view start) {
  Listing out;
  if (start.empty()) {
    rows.Scan("", [&](std::string_view k, std::string_view v) {
      out.emplace_back(k, v);
      return true;
    });
    return out;
  }
  auto c = rows.NewCursor("");
  for (c->Seek(start); c->Valid(); c->Next()) out.emplace_back(c->key(), c->value());
  return out;
}

// Every way a query reads rows gives the same answer from `got` as from `want`.
void ExpectSameRows(const p::Rows& want, const p::Rows& got, const std::string& where) {
  const Listing all = ScanAll(want, "");
  ASSERT_EQ(all, ScanAll(got, "")) << where;
  std::set<std::string> prefixes, not_records;  // audit's i/ rows are binary, not MessagePack
  for (const auto& [k, v] : all) {
    EXPECT_EQ(got.Get(k), std::optional<std::string>(v)) << where << " " << k;
    ASSERT_EQ(ScanAll(want, k), ScanAll(got, k)) << where << " from " << k;
    const std::string prefix = k.substr(0, k.find('/') + 1);
    const nlohmann::json record = nlohmann::json::from_msgpack(v, true, false);
    if (record.is_discarded()) {
      not_records.insert(prefix);
      continue;
    }
    EXPECT_EQ(got.Record(k), record) << where << " " << k;
    prefixes.insert(prefix);
  }
  for (const std::string& prefix : not_records) prefixes.erase(prefix);
  EXPECT_EQ(got.Get("g/none"), std::nullopt);
  EXPECT_TRUE(got.Record("g/none").is_null());
  for (const std::string& prefix : prefixes) {
    std::vector<std::pair<std::string, nlohmann::json>> a, b;
    want.ScanRecords(prefix, [&](std::string_view k, const nlohmann::json& v) {
      a.emplace_back(k, v);
      return true;
    });
    got.ScanRecords(prefix, [&](std::string_view k, const nlohmann::json& v) {
      b.emplace_back(k, v);
      return a.size() > b.size() || b.size() < 3;  // stopping early works too
    });
    b.resize(std::min(a.size(), b.size()));
    a.resize(b.size());
    EXPECT_EQ(a, b) << where << " " << prefix;
  }
}

// A view over plainly folded rows of one projection.
class PlainView : public p::View {
 public:
  PlainView(const p::Rows& rows, events::Micros t) : rows_(rows), t_(t) {}
  const p::Rows& rows(std::string_view) const override { return rows_; }
  events::Micros now() const override { return t_; }
  bool as_of() const override { return true; }

 private:
  const p::Rows& rows_;
  events::Micros t_;
};

void ExpectAsOfEqualsPlainFold(testing::LedgerFixture& f) {
  f.CatchUp();
  const std::vector<std::string> keys = p::AsOfKeysNational(f.store());
  std::set<events::Micros> instants;
  ASSERT_TRUE(f.ledger()
                  .ScanLog(0,
                           [&](const events::LogEntry& le) {
                             const schema::Event* ev = schema::GetEvent(le.bytes.data());
                             if (const auto* env = ev->envelope()) {
                               const events::Micros t = env->recorded_at();
                               instants.insert({t - 1, t, t + 1});
                             }
                             return true;
                           })
                  .ok());
  ASSERT_GT(instants.size(), 30u);
  size_t n = 0;
  for (const events::Micros t : instants) {
    auto view = p::AsOfView(f.store(), keys, t);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    const bool cursors = n++ % 16 == 0 || n == instants.size();  // a cursor's checks are many seeks
    for (const p::Projection* proj : p::AllProjections()) {
      const auto want = PlainFold(f.ledger(), keys, t, *proj);
      const std::string where = std::string(proj->name()) + " as of " + events::FormatRfc3339(t);
      if (proj->time_indexed()) {
        // The view hands the live index to the audit query, which reads it up to t: the same
        // trail as from the folded index, for every index key and, at every 16th instant, for
        // every object of the entities.
        const PlainView plain(*want, t);
        std::set<std::pair<std::string, std::string>> trails;  // key, object ("" for the whole)
        for (const std::string& key : keys) trails.insert({key, ""});
        if (cursors)
          want->Scan("o/", [&](std::string_view k, std::string_view) {
            const size_t key_end = k.find('/', 2);
            std::string_view rest = k.substr(key_end + 1);  // <object>/<recorded_at>/<stream>/<seq>
            for (int parts = 0; parts < 3; ++parts) rest = rest.substr(0, rest.rfind('/'));
            const std::string key(k.substr(2, key_end - 2));
            // The fold holds a key outside `keys` (a user's "@…") only where it shares an event.
            if (std::find(keys.begin(), keys.end(), key) != keys.end())
              trails.insert({key, std::string(rest)});
            return true;
          });
        for (const auto& [key, object] : trails) {
          const auto a = p::AuditQuery(plain, {.entity = key, .object = object});
          const auto b = p::AuditQuery(**view, {.entity = key, .object = object});
          ASSERT_TRUE(a.ok() && b.ok()) << where;
          EXPECT_EQ(nlohmann::json(a->rows), nlohmann::json(b->rows)) << where << " " << key << " " << object;
        }
        continue;
      }
      ExpectSameRows(*want, (*view)->rows(proj->name()), where);
      if (cursors)
        testing::ExpectCursorWalksLike(want->state().entries(), (*view)->rows(proj->name()), where);
      if (::testing::Test::HasFatalFailure()) return;
      if (!proj->temporal()) continue;
      // A temporal projection is read from the live rows below t, whatever the index keys: a
      // view given none (what progress queries use) has the same rows.
      auto bare = p::AsOfView(f.store(), {}, t);
      ASSERT_TRUE(bare.ok()) << bare.status().ToString();
      ExpectSameRows(*want, (*bare)->rows(proj->name()),
                     std::string(proj->name()) + " with no keys as of " + events::FormatRfc3339(t));
      // The progress query reads its rows through its own paths (the latest version of each
      // row, r/ rows field by field from their MessagePack): the same table from the views as
      // from the plain fold, for every entity and for the department and the nation.
      const PlainView plain(*want, t);
      std::vector<p::ProgressParams> queries = {{.department = "25"}, {.national = true}};
      want->Scan("e/", [&](std::string_view k, std::string_view) {
        queries.push_back({.entity = std::string(k.substr(2, k.size() - 2 - p::kVersionSize))});
        return true;
      });
      for (const p::ProgressParams& q : queries) {
        const auto a = p::ProgressQuery(plain, q);
        const auto b = p::ProgressQuery(**view, q);
        const auto c = p::ProgressQuery(**bare, q);
        ASSERT_TRUE(a.ok() && b.ok() && c.ok());
        EXPECT_EQ(nlohmann::json(a->rows), nlohmann::json(b->rows)) << q.entity;
        EXPECT_EQ(nlohmann::json(a->rows), nlohmann::json(c->rows)) << q.entity;
      }
    }
  }
}

// An audit index row holds the event after a header of any length, and a RocksDB value starts
// anywhere: the event read through the schema is at an 8-byte-aligned address whatever the row's,
// the same bytes, hash and position; bytes the verifier refuses are refused.
TEST(IndexEntryTest, TheEventIsReadAlignedWhereverTheRowStarts) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  std::vector<events::LogEntry> entries;
  ASSERT_TRUE(f.ledger()
                  .ScanLog(0,
                           [&](const events::LogEntry& e) {
                             entries.push_back(e);
                             return entries.size() < 50;
                           })
                  .ok());
  ASSERT_EQ(entries.size(), 50u);
  for (const events::LogEntry& e : entries) {
    const schema::Event* ev = schema::GetEvent(e.bytes.data());
    const std::string row = p::EncodeIndexEntry({ev, ev->envelope(), e.bytes, e.hash, e.position});
    for (size_t shift = 0; shift < 8; ++shift) {
      const std::string at(std::string(shift, 'x') + row);
      p::IndexEntry entry;
      ASSERT_TRUE(p::DecodeIndexEvent(std::string_view(at).substr(shift), &entry)) << shift;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(entry.bytes.data()) % 8, 0u) << shift;
      EXPECT_EQ(entry.bytes, e.bytes);
      EXPECT_EQ(entry.hash, e.hash);
      EXPECT_EQ(entry.position.lsn, e.position.lsn);
      EXPECT_EQ(entry.position.offset, e.position.offset);
      EXPECT_EQ(entry.position.topic, e.position.topic);
    }
  }
  const std::string cut = p::EncodeIndexEntry({schema::GetEvent(entries[0].bytes.data()),
                                               schema::GetEvent(entries[0].bytes.data())->envelope(),
                                               entries[0].bytes, entries[0].hash, entries[0].position});
  p::IndexEntry entry;
  EXPECT_FALSE(
      p::DecodeIndexEvent(std::string_view(cut).substr(0, cut.size() - entries[0].bytes.size() / 2), &entry));
}

// Projection::Uses: a projection folded over only the events it says it uses has the same rows
// as over all of them (the as-of views and the audit's fold index rely on it), on every scenario.
//
// The audit's stored fold index holds the events these projections use: one that starts using
// more must bump the audit projection's version, so that stored indexes are rebuilt. The test
// pins, with that version, which payload types each projection an as-of view folds uses always,
// sometimes or never over the scenarios; a change there fails it until both are updated.
TEST(AsOfViewTest, AProjectionFoldedOverTheEventsItUsesHasAllItsRows) {
  size_t unused = 0;  // events the users projection does not use, over all scenarios
  std::map<std::string, std::pair<size_t, size_t>> uses;  // "<projection> <payload>": used, seen
  for (const char* scenario : {"cycle_2023.scn", "mdm_publish.scn", "rules_clock_and_input.scn",
                               "rules_clock_system.scn", "rules_directory.scn", "rules_plans.scn",
                               "rules_reports.scn", "rules_reviews.scn", "rules_users.scn", "smoke.scn"}) {
    testing::LedgerFixture f;
    f.LoadScenario(std::string("tests/scenarios/") + scenario);
    f.CatchUp();
    const std::vector<std::string> keys = p::AsOfKeysNational(f.store());
    for (const p::Projection* proj : p::AllProjections()) {
      const auto all = PlainFold(f.ledger(), keys, std::numeric_limits<events::Micros>::max(), *proj);
      const auto used = PlainFold(f.ledger(), keys, std::numeric_limits<events::Micros>::max(), *proj, true);
      ExpectSameRows(*all, *used, std::string(proj->name()) + " in " + scenario);
    }
    ASSERT_TRUE(
        f.ledger()
            .ScanLog(
                0,
                [&](const events::LogEntry& le) {
                  const schema::Event* ev = schema::GetEvent(le.bytes.data());
                  const p::EventRef ref{ev, ev->envelope(), le.bytes, le.hash, le.position};
                  if (!ev->envelope()) return true;
                  if (!p::FindProjection("users")->Uses(ref)) ++unused;
                  for (const p::Projection* proj : p::FoldedAsOf()) {
                    auto& [used, seen] =
                        uses[std::string(proj->name()) + " " + schema::EnumNamePayload(ev->payload_type())];
                    used += proj->Uses(ref);
                    ++seen;
                  }
                  return true;
                })
            .ok());
  }
  EXPECT_GT(unused, 100u);  // the check above is not vacuous
  std::string classes;
  for (const auto& [what, count] : uses)
    classes += what +
               (count.first == count.second ? " always"
                : count.first > 0           ? " sometimes"
                                            : " never") +
               "\n";
  classes += "audit version " + std::to_string(p::AuditProjection().version()) + "\n";
  EXPECT_EQ(events::ToHex(events::Sha256(classes)),
            "81fbe256e818679f80530bcdd0333231e81be80acea75c1719deab060105b1ba")
      << "what the folded projections use changed: bump "
         "the audit projection's version, then this pin\n"
      << classes;
}

TEST(AsOfViewTest, EqualsThePlainFoldAtEveryInstantOfACycle) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/cycle_2023.scn");
  ExpectAsOfEqualsPlainFold(f);
}

// Corrections of reports between and after the cuts.
TEST(AsOfViewTest, EqualsThePlainFoldAroundCorrections) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/rules_reports.scn");
  ExpectAsOfEqualsPlainFold(f);
}

// Goals redefined, homologated and reprogrammed (the rows a fold updates in place).
TEST(AsOfViewTest, EqualsThePlainFoldAcrossPlanChanges) {
  testing::LedgerFixture f;
  f.LoadScenario("tests/scenarios/rules_plans.scn");
  ExpectAsOfEqualsPlainFold(f);
}

}  // namespace
}  // namespace veeduria
