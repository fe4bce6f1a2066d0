#include "veeduria/consumers/verify.h"

#include <cstring>
#include <unordered_map>

#include "veeduria/events/decide.h"
#include "veeduria/events/render.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::consumers {

namespace s = veeduria::schema;

Result<VerifyReport> VerifyLog(const events::LogReader& log) {
  VerifyReport report;
  struct Head {
    uint64_t seq = 0;
    events::Hash hash{};
  };
  std::unordered_map<std::string, Head> heads;
  auto fail = [&](const events::LogEntry& e, std::string stream, uint64_t seq, std::string problem) {
    report.ok = false;
    report.position = e.position;
    report.stream = std::move(stream);
    report.stream_seq = seq;
    report.problem = std::move(problem);
    return false;
  };
  Status st = log.ScanLog(0, [&](const events::LogEntry& e) {
    if (!events::VerifyEventBytes(e.bytes)) return fail(e, "", 0, "bytes are not a valid event");
    if (events::Sha256(e.bytes) != e.hash) {
      const auto* ev = s::GetEvent(e.bytes.data());
      return fail(e, ev->envelope()->stream()->str(), ev->envelope()->stream_seq(),
                  "stored hash is not SHA-256 of the event's bytes (the bytes or the hash were changed)");
    }
    const auto* env = s::GetEvent(e.bytes.data())->envelope();
    const std::string stream = env->stream() ? env->stream()->str() : "";
    auto [it, fresh] = heads.try_emplace(stream);
    if (fresh) it->second.hash = events::GenesisHash(stream);
    Head& h = it->second;
    if (env->stream_seq() != h.seq + 1)
      return fail(e, stream, env->stream_seq(),
                  "stream_seq " + std::to_string(env->stream_seq()) + " follows " + std::to_string(h.seq) +
                      " (an event is missing, repeated or out of order)");
    if (!env->prev_hash() || std::memcmp(env->prev_hash()->b()->data(), h.hash.data(), 32) != 0)
      return fail(e, stream, env->stream_seq(),
                  "prev_hash is not the hash of the stream's previous event (the chain is broken)");
    h.seq = env->stream_seq();
    h.hash = e.hash;
    ++report.events;
    return true;
  });
  VEEDURIA_RETURN_IF_ERROR(st);
  report.streams = heads.size();
  return report;
}

}  // namespace veeduria::consumers
