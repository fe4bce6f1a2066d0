#include "records.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace veeduria::events::records {
namespace {

constexpr char kTag = static_cast<char>(0xC1);
enum Kind : char {
  kStreamHead = 1,
  kMeta = 2,
  kOutcome = 3,
  kGoalYear = 4,
  kProgress = 5,
  kCampaign = 6,
  kGoal = 7
};

class Writer {
 public:
  explicit Writer(Kind kind, size_t reserve = 32) {
    out_.reserve(reserve);
    out_.push_back(kTag);
    out_.push_back(kind);
  }
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Fixed(v); }
  void I32(int32_t v) { Fixed(static_cast<uint32_t>(v)); }
  void U64(uint64_t v) { Fixed(v); }
  void I64(int64_t v) { Fixed(static_cast<uint64_t>(v)); }
  void F64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    Fixed(bits);
  }
  void Bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Strs(const std::vector<std::string>& v) {
    U32(static_cast<uint32_t>(v.size()));
    for (const auto& s : v) Str(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  template <typename T>
  void Fixed(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view in, Kind kind) : in_(in) {
    ok_ = in_.size() >= 2 && in_[0] == kTag && in_[1] == kind;
    pos_ = 2;
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == in_.size(); }
  uint8_t U8() {
    uint8_t v = 0;
    if (Need(1)) v = static_cast<uint8_t>(in_[pos_++]);
    return v;
  }
  uint32_t U32() { return Fixed<uint32_t>(); }
  int32_t I32() { return static_cast<int32_t>(Fixed<uint32_t>()); }
  uint64_t U64() { return Fixed<uint64_t>(); }
  int64_t I64() { return static_cast<int64_t>(Fixed<uint64_t>()); }
  double F64() {
    const uint64_t bits = Fixed<uint64_t>();
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  void Bytes(void* p, size_t n) {
    if (!Need(n)) return;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::string Str() {
    const uint32_t n = U32();
    if (!Need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::vector<std::string> Strs() {
    const uint32_t n = U32();
    std::vector<std::string> v;
    if (!ok_ || n > in_.size() - pos_) {  // each string takes at least 4 bytes
      ok_ = false;
      return v;
    }
    v.reserve(n);
    for (uint32_t i = 0; i < n && ok_; ++i) v.push_back(Str());
    return v;
  }

 private:
  bool Need(size_t n) {
    if (ok_ && in_.size() - pos_ >= n) return true;
    ok_ = false;
    return false;
  }
  template <typename T>
  T Fixed() {
    T v = 0;
    if (!Need(sizeof(T))) return v;
    for (size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<T>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += sizeof(T);
    return v;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = false;
};

template <typename R>
std::optional<R> Read(const StateStore& st, std::string_view key) {
  std::optional<R> r;
  st.Read(key, [&](std::string_view bytes) {
    r.emplace();
    if (!Decode(bytes, &*r))
      throw std::runtime_error("decider state record '" + std::string(key) +
                               "' is malformed or of another format");
  });
  return r;
}

}  // namespace

std::string Encode(const StreamHead& r) {
  Writer w(kStreamHead, 42);
  w.U64(r.seq);
  w.Bytes(r.hash.data(), r.hash.size());
  return w.Take();
}

bool Decode(std::string_view bytes, StreamHead* out) {
  Reader in(bytes, kStreamHead);
  out->seq = in.U64();
  in.Bytes(out->hash.data(), out->hash.size());
  return in.done();
}

std::string Encode(const Meta& r) {
  Writer w(kMeta);
  w.Str(r.clock);
  w.I64(r.last_at);
  w.U32(r.partitions);
  return w.Take();
}

bool Decode(std::string_view bytes, Meta* out) {
  Reader in(bytes, kMeta);
  out->clock = in.Str();
  out->last_at = in.I64();
  out->partitions = in.U32();
  return in.done();
}

std::string Encode(const Outcome& r) {
  Writer w(kOutcome, 128);
  w.U8(r.has_fingerprint);
  w.Bytes(r.fingerprint.data(), r.fingerprint.size());
  w.U8(r.rejected);
  w.Str(r.reason);
  w.Str(r.command);
  w.Strs(r.events);
  w.Strs(r.flags);
  w.I32(r.days_late);
  return w.Take();
}

bool Decode(std::string_view bytes, Outcome* out) {
  Reader in(bytes, kOutcome);
  out->has_fingerprint = in.U8() != 0;
  in.Bytes(out->fingerprint.data(), out->fingerprint.size());
  out->rejected = in.U8() != 0;
  out->reason = in.Str();
  out->command = in.Str();
  out->events = in.Strs();
  out->flags = in.Strs();
  out->days_late = in.I32();
  return in.done();
}

void SetYear(Goal* g, int32_t year, double physical) {
  auto y = std::lower_bound(g->years.begin(), g->years.end(), year,
                            [](const auto& e, int32_t v) { return e.first < v; });
  if (y != g->years.end() && y->first == year)
    y->second = physical;
  else
    g->years.emplace(y, year, physical);
}

std::string Encode(const Goal& r) {
  Writer w(kGoal, 48 + r.cpi.size() + r.payload.size() + 12 * r.years.size());
  w.U8(r.homologated);
  w.Str(r.cpi);
  w.U8(r.acumulativo);
  w.F64(r.target);
  w.Str(r.payload);
  w.U32(static_cast<uint32_t>(r.years.size()));
  for (const auto& [year, physical] : r.years) {
    w.I32(year);
    w.F64(physical);
  }
  return w.Take();
}

bool Decode(std::string_view bytes, Goal* out) {
  Reader in(bytes, kGoal);
  out->homologated = in.U8() != 0;
  out->cpi = in.Str();
  out->acumulativo = in.U8() != 0;
  out->target = in.F64();
  out->payload = in.Str();
  const uint32_t n = in.U32();
  if (!in.ok() || n > bytes.size()) return false;  // each year takes 12 bytes
  out->years.clear();
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    const int32_t year = in.I32();
    out->years.emplace_back(year, in.F64());
  }
  return in.done();
}

std::string Encode(const GoalYear& r) {
  Writer w(kGoalYear, 32 + r.payload.size());
  w.F64(r.physical);
  w.I64(r.pesos);
  w.Strs(r.sources);
  w.Str(r.payload);
  return w.Take();
}

bool Decode(std::string_view bytes, GoalYear* out) {
  Reader in(bytes, kGoalYear);
  out->physical = in.F64();
  out->pesos = in.I64();
  out->sources = in.Strs();
  out->payload = in.Str();
  return in.done();
}

std::string Encode(const Progress& r) {
  Writer w(kProgress, 16 + r.payload.size());
  w.F64(r.physical_ytd);
  w.Str(r.payload);
  return w.Take();
}

bool Decode(std::string_view bytes, Progress* out) {
  Reader in(bytes, kProgress);
  out->physical_ytd = in.F64();
  out->payload = in.Str();
  return in.done();
}

std::string Encode(const Campaign& r) {
  Writer w(kCampaign, 256);
  w.Str(r.campaign);
  w.Str(r.system);
  w.I32(r.vigencia);
  w.U32(static_cast<uint32_t>(r.milestones.size()));
  for (const Milestone& m : r.milestones) {
    w.Str(m.id);
    w.Str(m.activity);
    w.Str(m.cut);
    w.Str(m.deadline);
  }
  w.U32(static_cast<uint32_t>(r.variables.size()));
  for (const Variable& v : r.variables) {
    w.Str(v.code);
    w.Str(v.name);
    w.Str(v.type);
  }
  return w.Take();
}

bool Decode(std::string_view bytes, Campaign* out) {
  Reader in(bytes, kCampaign);
  out->campaign = in.Str();
  out->system = in.Str();
  out->vigencia = in.I32();
  const uint32_t n_milestones = in.U32();
  if (n_milestones > bytes.size()) return false;  // each takes at least 16 bytes
  out->milestones.resize(n_milestones);
  for (Milestone& m : out->milestones) {
    m.id = in.Str();
    m.activity = in.Str();
    m.cut = in.Str();
    m.deadline = in.Str();
  }
  const uint32_t n_variables = in.U32();
  if (n_variables > bytes.size()) return false;
  out->variables.resize(n_variables);
  for (Variable& v : out->variables) {
    v.code = in.Str();
    v.name = in.Str();
    v.type = in.Str();
  }
  return in.done();
}

std::optional<StreamHead> ReadStreamHead(const StateStore& st, std::string_view key) {
  return Read<StreamHead>(st, key);
}
std::optional<Meta> ReadMeta(const StateStore& st, std::string_view key) { return Read<Meta>(st, key); }
std::optional<Outcome> ReadOutcome(const StateStore& st, std::string_view key) {
  return Read<Outcome>(st, key);
}
std::optional<Goal> ReadGoal(const StateStore& st, std::string_view key) { return Read<Goal>(st, key); }
std::optional<GoalYear> ReadGoalYear(const StateStore& st, std::string_view key) {
  return Read<GoalYear>(st, key);
}
std::optional<Progress> ReadProgress(const StateStore& st, std::string_view key) {
  return Read<Progress>(st, key);
}
std::optional<Campaign> ReadCampaign(const StateStore& st, std::string_view key) {
  return Read<Campaign>(st, key);
}

}  // namespace veeduria::events::records
