#pragma once
// Submits commands through <prefix>commands and learns each outcome by its command_id from
// <prefix>outcomes (written by the decider in the same transaction as the events).
//
// Commands are keyed by their stream (config.h CommandKey) and produced by an idempotent
// producer (acks=all, murmur2_random), pipelined: each partition keeps their order. Where the
// file switches between directory commands and entity commands the submitter waits for every
// earlier outcome (a barrier), and entity commands carry the directory sequence it has seen
// (header vd-dir) so that their decider reads the directory at least that far before deciding.
// The outcomes therefore match what the embedded ledger decides for the same file.
//
// Thread-safety: one Submit at a time.

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "veeduria/events/command.h"
#include "veeduria/kafka/config.h"

namespace veeduria::kafka {

class KafkaSubmitter {
 public:
  static Result<std::unique_ptr<KafkaSubmitter>> Open(const KafkaConfig& config);
  ~KafkaSubmitter();

  // Sends `commands` and returns one outcome per command, in order: the JSON the decider wrote
  // (command_id, status, reason, field, message, events, flags, days_late, stream, partition), or
  // {"status":"timeout"} when none arrived within `timeout` of its sending (resubmitting the
  // same command is safe: a retry is a duplicate). An error only if producing failed.
  Result<std::vector<nlohmann::json>> Submit(const std::vector<events::Command>& commands,
                                             std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit KafkaSubmitter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace veeduria::kafka
