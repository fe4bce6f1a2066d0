// AsOfView against the plain fold it must equal: the events of the audit index up to T, applied
// through each projection's Apply into MemoryRows (a MessagePack overlay), at every instant the
// index holds, a microsecond before and after each, for every projection and through every
// read path of Rows (Get, Scan, a cursor from every key, Record, ScanRecords, and at every 16th
// instant and the last a cursor re-sought everywhere); and the progress query of every entity,
// the department and the nation over both (it reads the latest version of each temporal row, r/
// rows with its own MessagePack reader).

#include <set>

#include "fixture.h"
#include "projections_internal.h"
#include "veeduria/events/render.h"
#include "veeduria/projections/query.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria {
namespace {

namespace p = projections;

// The reference: the index rows of `keys` up to `t`, one per time key, folded through `proj`.
std::unique_ptr<p::MemoryRows> PlainFold(const p::ProjectionStore& store,
                                         const std::vector<std::string>& keys, events::Micros t,
                                         const p::Projection& proj) {
  std::map<std::string, std::string> rows;
  const std::string limit = p::Hex16(static_cast<uint64_t>(t));
  for (const std::string& key : keys) {
    const std::string prefix = "i/" + key + "/";
    store.rows("audit").Scan(prefix, [&](std::string_view k, std::string_view row) {
      const std::string_view tk = k.substr(prefix.size());
      if (tk.substr(0, 16) > limit) return false;
      rows.emplace(std::string(tk), std::string(row));
      return true;
    });
  }
  auto out = std::make_unique<p::MemoryRows>();
  for (const auto& [tk, row] : rows) {
    p::IndexEntry entry;
    EXPECT_TRUE(p::DecodeIndexEntry(row, &entry) && events::VerifyEventBytes(entry.bytes)) << tk;
    const schema::Event* ev = schema::GetEvent(entry.bytes.data());
    proj.Apply(p::EventRef{ev, ev->envelope(), entry.bytes, entry.hash, entry.position}, out->state());
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
  f.store().rows("audit").Scan("i/", [&](std::string_view k, std::string_view) {
    const size_t at = k.find('/', 2) + 1;  // i/<key>/<recorded_at hex>/…
    const auto t = static_cast<events::Micros>(std::stoull(std::string(k.substr(at, 16)), nullptr, 16));
    instants.insert({t - 1, t, t + 1});
    return true;
  });
  ASSERT_GT(instants.size(), 30u);
  size_t n = 0;
  for (const events::Micros t : instants) {
    auto view = p::AsOfView(f.store(), keys, t);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    const bool cursors = n++ % 16 == 0 || n == instants.size();  // a cursor's checks are many seeks
    for (const p::Projection* proj : p::AllProjections()) {
      const auto want = PlainFold(f.store(), keys, t, *proj);
      const std::string where = std::string(proj->name()) + " as of " + events::FormatRfc3339(t);
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
