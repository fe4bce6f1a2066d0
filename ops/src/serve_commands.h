#pragma once
// `serve` and `submit --kafka` (serve_commands.cc). Flags are registered on construction and
// read when Run() is called after parsing.

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

namespace veeduria::cli {

class ServeCommand {
 public:
  ServeCommand(CLI::App& app, const std::string& data);
  ~ServeCommand();
  bool parsed() const;
  int Run();

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

}  // namespace veeduria::cli
