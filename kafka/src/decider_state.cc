#include "decider_state.h"

#include <rocksdb/write_batch.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "client.h"
#include "veeduria/events/render.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::kafka::internal {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::string U64(uint64_t v) {
  std::string out;
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
// The state format (events::kStateFormat, u64 BE); no partition key is this short.
constexpr char kFormatKey[] = "F";

}  // namespace

Result<std::unique_ptr<DeciderDb>> DeciderDb::Open(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  VEEDURIA_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(o, path, &db), "opening " + path));
  auto out = std::make_unique<DeciderDb>();
  out->db_.reset(db);
  // The state's records are of events::kStateFormat. A database of another format (none recorded:
  // format 1) is emptied, so every partition's state is rebuilt from the log by the catch-up.
  const std::string want = U64(events::kStateFormat);
  std::string have;
  const rocksdb::Status f = db->Get(rocksdb::ReadOptions(), kFormatKey, &have);
  if (!f.ok() && !f.IsNotFound()) return FromRocks(f, "reading the decider state's format");
  if (!f.ok() || have != want) {
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) batch.Delete(it->key());
    VEEDURIA_RETURN_IF_ERROR(FromRocks(it->status(), "scanning the decider state"));
    batch.Put(kFormatKey, want);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    VEEDURIA_RETURN_IF_ERROR(FromRocks(db->Write(wo, &batch), "resetting the decider state"));
  }
  return out;
}

PartitionState::PartitionState(DeciderDb* db, uint32_t partition)
    : db_(db), partition_(partition), stored_(db, Key('s', "")), overlay_(&stored_) {}

std::string PartitionState::Key(char kind, std::string_view rest) const {
  std::string k(1, kind);
  PutU32(&k, partition_);
  k.append(rest);
  return k;
}

std::optional<std::string> PartitionState::Stored::Get(std::string_view key) const {
  std::string v;
  std::string k = prefix_;
  k.append(key);
  rocksdb::Status s = db_->db()->Get(rocksdb::ReadOptions(), k, &v);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) throw std::runtime_error("decider state read failed: " + s.ToString());
  return v;
}

uint64_t PartitionState::offset(char which) const {
  if (auto it = offsets_.find(which); it != offsets_.end()) return it->second;
  std::string v;
  if (db_->db()->Get(rocksdb::ReadOptions(), Key('o', std::string(1, which)), &v).ok() && v.size() == 8)
    return GetU64(v.data());
  return 0;
}

std::optional<std::pair<uint64_t, events::Hash>> PartitionState::head(const std::string& stream) const {
  if (auto it = heads_.find(stream); it != heads_.end()) return it->second;
  std::string v;
  if (!db_->db()->Get(rocksdb::ReadOptions(), Key('h', stream), &v).ok() || v.size() != 40)
    return std::nullopt;
  std::pair<uint64_t, events::Hash> h;
  h.first = GetU64(v.data());
  std::memcpy(h.second.data(), v.data() + 8, 32);
  return h;
}

bool PartitionState::Evolve(const events::SealedEvent& se) {
  if (!events::Evolve(overlay_, se)) return false;
  set_head(se.stream, se.stream_seq, se.hash);
  return true;
}

Result<bool> PartitionState::ShouldApply(const std::string& bytes, const events::Hash& hash,
                                         events::SealedEvent* out) const {
  const schema::Event* ev = schema::GetEvent(bytes.data());
  *out = events::DescribeEvent(bytes, hash);
  std::pair<uint64_t, events::Hash> h{0, events::GenesisHash(out->stream)};
  if (auto stored = head(out->stream)) h = *stored;
  const uint64_t seq = out->stream_seq;
  if (seq == h.first && hash == h.second) return false;  // an exact re-delivery of the head
  if (seq < h.first) return false;  // a re-delivery of an earlier event (cannot change the state)
  const auto* prev = ev->envelope()->prev_hash();
  if (seq != h.first + 1 || !prev || std::memcmp(prev->b()->data(), h.second.data(), 32) != 0)
    return Status::Corruption("stream " + out->stream + " forks or has a gap at seq " + std::to_string(seq) +
                              " (head " + std::to_string(h.first) + "): the decider of partition " +
                              std::to_string(partition_) + " stops (see ops/kafka/RUNBOOK.md)");
  return true;
}

Status PartitionState::Commit() {
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : overlay_.writes().entries()) {
    if (value)
      batch.Put(Key('s', key), *value);
    else
      batch.Delete(Key('s', key));
  }
  for (const auto& [stream, h] : heads_) {
    std::string v = U64(h.first);
    v.append(reinterpret_cast<const char*>(h.second.data()), 32);
    batch.Put(Key('h', stream), v);
  }
  for (const auto& [which, next] : offsets_) batch.Put(Key('o', std::string(1, which)), U64(next));
  VEEDURIA_RETURN_IF_ERROR(
      FromRocks(db_->db()->Write(rocksdb::WriteOptions(), &batch), "writing the decider state"));
  Discard();
  return Status::Ok();
}

void PartitionState::Discard() {
  overlay_.Clear();
  offsets_.clear();
  heads_.clear();
}

Status CatchUpTopic(rd_kafka_t* reader, const std::string& topic, int32_t kafka_partition, char which,
                    PartitionState& state, int timeout_ms, uint64_t* evolved) {
  struct Pending {
    std::string command_id;
    size_t n = 0;
    std::vector<std::pair<std::string, events::Hash>> events;
  } pending;
  const uint64_t from = state.offset(which);
  uint64_t next = from;  // after the last complete decision
  uint64_t decided = state.offset('c');
  Status st;
  Status read = ReadToEnd(
      reader, topic, kafka_partition, static_cast<int64_t>(from), timeout_ms,
      [&](const rd_kafka_message_t* m) {
        std::string bytes(static_cast<const char*>(m->payload), m->len);
        if (!events::VerifyEventBytes(bytes)) {
          st = Status::Corruption("unreadable event at " + topic + "/" + std::to_string(kafka_partition) +
                                  " offset " + std::to_string(m->offset));
          return false;
        }
        const std::string cmd = Header(m, "vd-cmd");
        const size_t i = static_cast<size_t>(std::atol(Header(m, "vd-i").c_str()));
        size_t n = static_cast<size_t>(std::atol(Header(m, "vd-n").c_str()));
        if (n == 0) n = 1;  // written without headers: one event is one decision
        if (i == 0) {
          pending = Pending{cmd, n, {}};  // an incomplete earlier attempt is superseded
        } else if (pending.command_id != cmd || pending.events.size() != i) {
          pending = Pending{};  // a fragment of an attempt whose start is gone: decided again later
          return true;
        }
        pending.events.emplace_back(
            std::move(bytes), events::Sha256(std::string_view(static_cast<const char*>(m->payload), m->len)));
        if (pending.events.size() < pending.n) return true;
        for (const auto& [b, h] : pending.events) {
          events::SealedEvent se;
          Result<bool> apply = state.ShouldApply(b, h, &se);
          if (!apply.ok()) {
            st = apply.status();
            return false;
          }
          if (!*apply) continue;
          if (!state.Evolve(se)) {
            st = Status::Corruption("event at " + topic + " offset " + std::to_string(m->offset) +
                                    " does not evolve");
            return false;
          }
          ++*evolved;
        }
        pending = Pending{};
        next = static_cast<uint64_t>(m->offset) + 1;
        const std::string cpart = Header(m, "vd-cpart");
        if (!cpart.empty() && std::strtoul(cpart.c_str(), nullptr, 10) == state.partition())
          decided = std::max<uint64_t>(decided, std::strtoull(Header(m, "vd-coff").c_str(), nullptr, 10) + 1);
        return true;
      });
  VEEDURIA_RETURN_IF_ERROR(read);
  VEEDURIA_RETURN_IF_ERROR(st);
  if (next != from) state.set_offset(which, next);
  if (decided != state.offset('c')) state.set_offset('c', decided);
  return Status::Ok();
}

}  // namespace veeduria::kafka::internal
