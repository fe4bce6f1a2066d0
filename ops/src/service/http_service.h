#pragma once
// The HTTP JSON API of `veeduria serve --http` (issue 9): the CLI's queries as GET /v1/…, the
// write API as POST /v1/commands (JSON Lines, one `submit --json` line per input line),
// /healthz, /readyz and /metrics; bearer tokens (tokens.h) and read scopes by role; limits.
// Routes, parameters and errors: ops/openapi.yaml.
//
// One service, either backend (backend.h): the embedded ledger (default) or a Kafka node
// (kafka_backend.h, `serve --kafka … --http`).
//
// Threading: httplib's thread pool serves requests; the backend is thread-safe (backend.h).
// After every POST the service catches the projections up before it answers, so a client reads
// its own writes; a background thread also catches up, samples the metrics and runs the
// backend's verification every `verify_every_seconds`.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "veeduria/events/status.h"

namespace veeduria::service {

struct ServiceOptions {
  std::string data;                 // the data directory (ledger, projections, tokens)
  std::string host = "127.0.0.1";   // where to listen
  int port = 0;                     // 0: an ephemeral port (see HttpService::port())
  std::string tokens_file;          // default DATA/tokens
  std::string tls_cert, tls_key;    // PEM files: serve HTTPS when both are set
  size_t max_body_bytes = 8 << 20;  // larger requests get 413
  size_t max_lines = 10000;         // POST /v1/commands with more lines gets 413
  int query_timeout_ms = 10000;     // a query (or evidence bundle) not done by then gets 504
  int max_concurrent = 32;          // /v1 requests in flight beyond this get 429
  int threads = 8;                  // HTTP worker threads
  size_t default_limit = 1000;      // rows per page when `limit` is not given
  size_t max_limit = 100000;
  double verify_every_seconds = 3600;  // verify the whole log this often (first: at start); 0: never
  double maintenance_seconds = 5;      // background catch-up and metric sampling period
  int command_timeout_ms = 30000;      // Kafka: POST /v1/commands waits this long for each outcome
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
  // Opens the embedded ledger and projections in options.data and binds; a background thread starts
  // catching the projections up (a rebuild when a projection changed version), observable on
  // /metrics and /readyz meanwhile, while /v1 answers 503 catching_up.
  static Result<std::unique_ptr<HttpService>> Open(ServiceOptions options);
  // The same over the backend `factory` makes (called once, with the service's probes).
  using BackendFactory = std::function<Result<std::unique_ptr<Backend>>(const ServiceOptions&, Probes)>;
  static Result<std::unique_ptr<HttpService>> Open(ServiceOptions options, const BackendFactory& factory);
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
