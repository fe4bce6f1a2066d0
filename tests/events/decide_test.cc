// decide() as a pure function: determinism, the hash chain it seals, and idempotency.
// (The rules themselves are in the scenario files, tests/scenarios/*.scn.)

#include "veeduria/events/decide.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "veeduria/events/render.h"
#include "veeduria/events/sha256.h"

namespace veeduria::events {
namespace {

using nlohmann::json;

Command Parse(const json& j) {
  ParsedLine p = ParseCommand(j.dump(), 1);
  EXPECT_TRUE(p.command) << (p.error ? p.error->message : "");
  return *p.command;
}

json Init() {
  return {{"command", "init"},    {"command_id", "init"},        {"actor", "admin@dnp.gov.co"},
          {"clock", "simulated"}, {"admin", "admin@dnp.gov.co"}, {"at", "2023-01-02T08:00:00-05:00"}};
}

json Register(const std::string& id, const std::string& at) {
  return {{"command", "register_entity"},
          {"command_id", id},
          {"actor", "admin@dnp.gov.co"},
          {"at", at},
          {"entity", "25"},
          {"name", "CUNDINAMARCA"},
          {"kind", "departamento"},
          {"department", "25"}};
}

Decision Apply(MemoryState& st, const json& cmd) {
  Decision d = Decide(st, Parse(cmd), 0);
  for (const auto& e : d.events) EXPECT_TRUE(Evolve(st, e));
  return d;
}

TEST(DecideTest, SameStateAndCommandGiveByteIdenticalEvents) {
  MemoryState a, b;
  Apply(a, Init());
  Apply(b, Init());
  Decision da = Decide(a, Parse(Register("r1", "2023-01-03T08:00:00-05:00")), 0);
  Decision db = Decide(b, Parse(Register("r1", "2023-01-03T08:00:00-05:00")), 0);
  ASSERT_EQ(da.events.size(), 1u);
  ASSERT_EQ(db.events.size(), 1u);
  EXPECT_EQ(da.events[0].bytes, db.events[0].bytes);
  EXPECT_EQ(da.events[0].event_id, db.events[0].event_id);
  // Decide does not write: deciding again on the same state gives the same again.
  EXPECT_EQ(Decide(a, Parse(Register("r1", "2023-01-03T08:00:00-05:00")), 0).events[0].bytes,
            da.events[0].bytes);
}

// An event's id is a UUID of version 8: the first 16 bytes of SHA-256("veeduria event " ||
// the command's fingerprint || the event's index in decimal), with the version and variant bits
// set, so a retried command's events have the ids they had.
TEST(DecideTest, AnEventIdIsAVersion8UuidOfTheCommandsFingerprintAndIndex) {
  MemoryState st;
  const Command init = Parse(Init());
  const Decision d = Apply(st, Init());
  ASSERT_EQ(d.events.size(), 1u);
  Hash h = Sha256(
      "veeduria event " +
      std::string(reinterpret_cast<const char*>(init.fingerprint.data()), init.fingerprint.size()) + "0");
  h[6] = static_cast<uint8_t>((h[6] & 0x0f) | 0x80);
  h[8] = static_cast<uint8_t>((h[8] & 0x3f) | 0x80);
  char want[37];
  std::snprintf(want, sizeof want, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
                h[15]);
  EXPECT_EQ(d.events[0].event_id, want);
  // The same as every binary before this one gave (pinned, so the derivation cannot drift).
  EXPECT_EQ(d.events[0].event_id, "e1e26afb-242d-89ea-8b8c-9c261254711a");
}

TEST(DecideTest, SealsAHashChainPerStream) {
  MemoryState st;
  Decision init = Apply(st, Init());
  Decision reg = Apply(st, Register("r1", "2023-01-03T08:00:00-05:00"));
  ASSERT_EQ(init.events.size(), 1u);
  ASSERT_EQ(reg.events.size(), 1u);
  EXPECT_EQ(init.events[0].stream, "directory");
  EXPECT_EQ(init.events[0].stream_seq, 1u);
  EXPECT_EQ(reg.events[0].stream_seq, 2u);
  EXPECT_EQ(reg.events[0].hash, Sha256(reg.events[0].bytes));
  json first = json::parse(RenderEventJson(init.events[0].bytes, init.events[0].hash));
  json second = json::parse(RenderEventJson(reg.events[0].bytes, reg.events[0].hash));
  EXPECT_EQ(first["envelope"]["prev_hash"], ToHex(GenesisHash("directory")));
  EXPECT_EQ(second["envelope"]["prev_hash"], ToHex(init.events[0].hash));
  EXPECT_EQ(second["envelope"]["recorded_at"], "2023-01-03T13:00:00Z");
  EXPECT_EQ(second["envelope"]["actor"]["role"], "dnp");
}

TEST(DecideTest, ARetryReturnsTheOriginalOutcomeAndWritesNothing) {
  MemoryState st;
  Apply(st, Init());
  Decision first = Apply(st, Register("r1", "2023-01-03T08:00:00-05:00"));
  Decision retry = Decide(st, Parse(Register("r1", "2023-01-03T08:00:00-05:00")), 0);
  EXPECT_EQ(retry.outcome, Outcome::kDuplicate);
  EXPECT_TRUE(retry.events.empty());
  EXPECT_EQ(retry.event_ids, first.event_ids);
  // The same command_id on a different command is refused, and the refusal is recorded.
  Decision reused = Decide(st, Parse(Register("r1", "2023-01-04T08:00:00-05:00")), 0);
  EXPECT_EQ(reused.outcome, Outcome::kRejected);
  EXPECT_EQ(reused.reason, "command_id_reused");
  ASSERT_EQ(reused.events.size(), 1u);
  EXPECT_EQ(reused.events[0].type, "CommandRejected");
  EXPECT_NE(reused.event_ids, first.event_ids);
}

TEST(DecideTest, EveryRefusalIsARecordedEventWithTheCommandItRefused) {
  MemoryState st;
  Apply(st, Init());
  json cmd = Register("r2", "2023-01-03T08:00:00-05:00");
  cmd["actor"] = "intruder@example.com";
  Decision d = Apply(st, cmd);
  EXPECT_EQ(d.outcome, Outcome::kRejected);
  EXPECT_EQ(d.reason, "not_authorized");
  ASSERT_EQ(d.events.size(), 1u);
  json ev = json::parse(RenderEventJson(d.events[0].bytes, d.events[0].hash));
  EXPECT_EQ(ev["type"], "CommandRejected");
  EXPECT_EQ(ev["payload"]["reason"], "not_authorized");
  EXPECT_EQ(json::parse(ev["payload"]["command_json"].get<std::string>())["actor"], "intruder@example.com");
  EXPECT_EQ(ev["envelope"]["actor"]["user"], "intruder@example.com");
}

TEST(DecideTest, NothingIsDecidedBeforeInit) {
  MemoryState st;
  Decision d = Decide(st, Parse(Register("r1", "2023-01-03T08:00:00-05:00")), 0);
  EXPECT_EQ(d.outcome, Outcome::kRejected);
  EXPECT_EQ(d.reason, "not_initialized");
}

}  // namespace
}  // namespace veeduria::events

namespace veeduria::events {
namespace {

// The HTTP API sets authenticated_actor to the token's user: a command naming anyone else as
// its actor is refused (not_authorized) and recorded, even when that actor could issue it.
TEST(DecideTest, ACommandWhoseActorIsNotTheAuthenticatedSenderIsRefusedAndRecorded) {
  MemoryState st;
  Apply(st, Init());
  Command c = Parse(Register("r1", "2023-01-03T08:00:00-05:00"));
  c.authenticated_actor = "someone@tenjo.gov.co";
  Decision d = Decide(st, c, 0);
  EXPECT_EQ(d.outcome, Outcome::kRejected);
  EXPECT_EQ(d.reason, "not_authorized");
  EXPECT_EQ(d.field, "actor");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, "CommandRejected");
  EXPECT_NE(d.message.find("someone@tenjo.gov.co"), std::string::npos) << "the sender is on record";
  // The same command sent by its actor is decided on its own merits.
  c.authenticated_actor = "admin@dnp.gov.co";
  EXPECT_EQ(Decide(st, c, 0).outcome, Outcome::kAccepted);
}

}  // namespace
}  // namespace veeduria::events
