// AsOfView against the plain fold it must equal: the events of the audit index up to T, applied
// through each projection's Apply into MemoryRows (a MessagePack overlay), at every instant the
// index holds, a microsecond before and after each, for every projection and through every
// read path of Rows (Get, Scan, a cursor from every key, Record, ScanRecords, and at every 16th
// instant and the last a cursor re-sought everywhere); and the progress query of every entity over both (it
// reads r/ rows with its own MessagePack reader).

#include <set>

#include "fixture.h"
#include "msgpack_reader.h"
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
      if (proj->name() != "progress") continue;
      // The progress query reads its rows through its own paths (r/ rows field by field from
      // their MessagePack): the same table from the view as from the plain fold, per entity.
      const PlainView plain(*want, t);
      want->Scan("e/", [&](std::string_view k, std::string_view) {
        const p::ProgressParams q{.entity = std::string(k.substr(2))};
        const auto a = p::ProgressQuery(plain, q);
        const auto b = p::ProgressQuery(**view, q);
        EXPECT_TRUE(a.ok() && b.ok());
        if (a.ok() && b.ok()) {
          EXPECT_EQ(nlohmann::json(a->rows), nlohmann::json(b->rows)) << k;
        }
        return true;
      });
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

// The reader progress's query uses for r/ rows reads every field as json::from_msgpack would:
// integers of every width and sign, float32 and float64, strings of every length prefix, and
// maps and arrays (counted, skipped) before the fields after them.
TEST(MsgpackReaderTest, ReadsWhatToMsgpackWrites) {
  const nlohmann::json record = {{"a_small", 5},
                                 {"b_neg", -3},
                                 {"c_u8", 200},
                                 {"d_u16", 60000},
                                 {"e_u32", 4000000000u},
                                 {"f_u64", 1ull << 40},
                                 {"g_i8", -100},
                                 {"h_i16", -30000},
                                 {"i_i32", -2000000000},
                                 {"j_i64", -(1ll << 40)},
                                 {"k_f32", 0.5},
                                 {"l_f64", 0.1},
                                 {"m_str", "hola"},
                                 {"n_long", std::string(300, 'x')},
                                 {"o_map", {{"x", {{"y", 1}}}, {"z", {1, 2, 3}}}},
                                 {"p_empty", nlohmann::json::object()},
                                 {"q_null", nullptr},
                                 {"r_true", true},
                                 {"s_after", 7}};
  const std::vector<uint8_t> v = nlohmann::json::to_msgpack(record);
  const std::string bytes(v.begin(), v.end());
  nlohmann::json got = nlohmann::json::object();
  ASSERT_TRUE(p::MsgpackReader(bytes).ForEachField([&](std::string_view k, const p::MsgpackReader::Value& x) {
    using V = p::MsgpackReader::Value;
    switch (x.kind) {
      case V::kStr:
        got[std::string(k)] = std::string(x.s);
        break;
      case V::kMap:
        got[std::string(k)] = "map" + std::to_string(x.n);
        break;
      case V::kArray:
        got[std::string(k)] = "array" + std::to_string(x.n);
        break;
      case V::kNil:
        got[std::string(k)] = nullptr;
        break;
      case V::kBool:
        got[std::string(k)] = x.b;
        break;
      case V::kDouble:
        got[std::string(k)] = x.as_double(-1);
        break;
      default:
        got[std::string(k)] = x.as_int(-1);
        break;
    }
  }));
  for (const auto& [k, want] : record.items()) {
    if (want.is_object())
      EXPECT_EQ(got[k], "map" + std::to_string(want.size())) << k;
    else if (want.is_number_float())
      EXPECT_EQ(got[k].get<double>(), want.get<double>()) << k;
    else if (want.is_number())
      EXPECT_EQ(got[k].get<int64_t>(), want.get<int64_t>()) << k;
    else
      EXPECT_EQ(got[k], want) << k;
  }
  // Truncated anywhere: never reads past the end, and says so.
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(p::MsgpackReader(std::string_view(bytes).substr(0, n)).ForEachField([](auto, const auto&) {
    })) << n;
}

}  // namespace
}  // namespace veeduria
