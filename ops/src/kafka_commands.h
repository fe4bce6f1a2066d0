#pragma once
// `serve --kafka` and `submit --kafka` (kafka_commands.cc). Flags are registered on construction
// (on the `serve` subcommand serve_cli.h defines, and on `submit`) and read by Run() after parsing.

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "serve_cli.h"

namespace veeduria::cli {

// Adds --kafka/--kafka-config/--kafka-mock/--partitions/--stats-every to `serve`.
class KafkaServe {
 public:
  KafkaServe(CLI::App* serve, const std::string& data);
  ~KafkaServe();
  // `serve` was chosen with a Kafka option.
  bool requested() const;
  // With `http` (serve --http was given too): the HTTP service over this node (kafka_backend.h).
  int Run(ServeCli* http);

 private:
  struct Flags;
  const std::string& data_;
  CLI::App* cmd_;
  std::unique_ptr<Flags> flags_;
};

// Adds --kafka/--kafka-config/--partitions/--timeout to `submit`.
class SubmitKafka {
 public:
  SubmitKafka(CLI::App* submit, const std::string& data, const std::string& file, const bool& json);
  ~SubmitKafka();
  bool requested() const;
  int Run();

 private:
  struct Flags;
  const std::string& file_;
  const bool& json_;
  std::unique_ptr<Flags> flags_;
};

// Adds --kafka/--kafka-config/--partitions to `verify`: every stream of the Kafka topics
// (kafka/verify.h); names the first bad event.
class VerifyKafka {
 public:
  explicit VerifyKafka(CLI::App* verify);
  ~VerifyKafka();
  bool requested() const;
  int Run();

 private:
  struct Flags;
  std::unique_ptr<Flags> flags_;
};

}  // namespace veeduria::cli
