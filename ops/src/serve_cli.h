#pragma once
// `veeduria serve` and `veeduria token` (serve_commands.cc): their options, added to the app by
// the constructor, and what runs when one of them was chosen.

#include <CLI/CLI.hpp>
#include <string>

#include "service/http_service.h"

namespace veeduria::cli {

class ServeCli {
 public:
  explicit ServeCli(CLI::App& app);
  // True when `serve` or `token …` was on the command line (after parsing).
  bool Selected() const;
  int Run(const std::string& data);
  // `serve --http` over the backend `factory` makes (null: the embedded ledger in `data`), until
  // SIGINT/SIGTERM. `what` names the backend on stderr (e.g. "kafka 127.0.0.1:9092"); the
  // "serving http://HOST:PORT (data DIR)" line on stdout stays the same for both backends.
  int RunHttp(const std::string& data, const service::HttpService::BackendFactory* factory,
              const std::string& what);
  CLI::App* serve() const { return serve_; }
  bool http_requested() const { return !http_.empty(); }

 private:
  CLI::App* serve_ = nullptr;
  CLI::App* token_add_ = nullptr;
  CLI::App* token_revoke_ = nullptr;
  CLI::App* token_list_ = nullptr;
  std::string http_;  // HOST:PORT
  std::string tokens_file_, token_user_, token_id_;
  service::ServiceOptions options_;
};

}  // namespace veeduria::cli
