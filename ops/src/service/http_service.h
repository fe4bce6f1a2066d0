#pragma once
// The HTTP JSON API of `veeduria serve --http` (issue 9): the CLI's queries as GET /v1/…, the
// write API as POST /v1/commands (JSON Lines, one `submit --json` line per input line),
// /healthz, /readyz and /metrics; bearer tokens (tokens.h) and read scopes by role; limits.
// Routes, parameters and errors: ops/openapi.yaml.
//
// Threading: httplib's thread pool serves requests. The ledger's Append is thread-safe (group
// commit); the projections have one writer at a time (catch-up holds store_mu_ exclusively,
// queries share it). After every append the service catches the projections up before it
// answers, so a client reads its own writes; a background thread also catches up, samples the
// storage metrics and verifies the log every `verify_every_seconds`.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "veeduria/events/status.h"

namespace veeduria::service {

struct ServiceOptions {
  std::string data;                // the data directory (ledger, projections, tokens)
  std::string host = "127.0.0.1";  // where to listen
  int port = 0;                    // 0: an ephemeral port (see HttpService::port())
  std::string tokens_file;         // default DATA/tokens
  std::string tls_cert, tls_key;   // PEM files: serve HTTPS when both are set
  size_t max_body_bytes = 8 << 20;  // larger requests get 413
  size_t max_lines = 10000;         // POST /v1/commands with more lines gets 413
  int query_timeout_ms = 10000;     // a query (or evidence bundle) not done by then gets 504
  int max_concurrent = 32;          // /v1 requests in flight beyond this get 429
  int threads = 8;                  // HTTP worker threads
  size_t default_limit = 1000;      // rows per page when `limit` is not given
  size_t max_limit = 100000;
  double verify_every_seconds = 3600;  // verify the whole log this often (first: at start); 0: never
  double maintenance_seconds = 5;      // background catch-up and metric sampling period
  // Tests only: runs inside every /v1 query (on its worker) before it reads, e.g. a latch.
  std::function<void()> before_query;
};

// Every route the service installs (method, path): ops/openapi.yaml describes exactly these
// (tests/ops/serve_test.cc checks both ways).
struct Route {
  std::string method, path;
};
const std::vector<Route>& ServedRoutes();

class HttpService {
 public:
  // Opens the ledger and projections in options.data and binds; a background thread starts
  // catching the projections up (a rebuild when a projection changed version), observable on
  // /metrics and /readyz meanwhile, while /v1 answers 503 catching_up.
  static Result<std::unique_ptr<HttpService>> Open(ServiceOptions options);
  ~HttpService();

  // Blocks until the first catch-up ended; its status (a broken chain: kCorruption).
  Status WaitCaughtUp();
  int port() const;
  bool tls() const;
  // Serves until Stop() (from any thread). Blocks.
  Status Serve();
  void Stop();

 private:
  struct Impl;
  explicit HttpService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace veeduria::service
