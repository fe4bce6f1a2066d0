// `veeduria serve --http HOST:PORT`: the HTTP JSON API (service/http_service.h), and
// `veeduria token add|revoke|list`: its bearer tokens (service/tokens.h).

#include <signal.h>

#include <iostream>
#include <thread>

#include "cli.h"
#include "serve_cli.h"
#include "service/tokens.h"

namespace veeduria::cli {

ServeCli::ServeCli(CLI::App& app) {
  serve_ = app.add_subcommand("serve",
                              "run the service: the HTTP JSON API with tokens, /metrics, /healthz (--http), "
                              "or a Kafka node (--kafka)");
  serve_->add_option("--http", http_, "listen on HOST:PORT (PORT 0: an ephemeral port, printed on start)");
  serve_->add_option("--tokens", tokens_file_, "the token file (default DATA/tokens)");
  serve_->add_option("--tls-cert", options_.tls_cert,
                     "serve HTTPS with this certificate (PEM; needs --tls-key)");
  serve_->add_option("--tls-key", options_.tls_key, "the certificate's private key (PEM)");
  serve_->add_option("--max-body-bytes", options_.max_body_bytes,
                     "larger request bodies get 413 (default 8 MiB)");
  serve_->add_option("--max-lines", options_.max_lines,
                     "POST /v1/commands: more lines get 413 (default 10000)");
  serve_
      ->add_option("--query-timeout-ms", options_.query_timeout_ms, "slower queries get 504 (default 10000)")
      ->check(CLI::PositiveNumber);
  serve_
      ->add_option("--max-concurrent", options_.max_concurrent,
                   "/v1 requests in flight; beyond: 429 (default 32)")
      ->check(CLI::PositiveNumber);
  serve_->add_option("--threads", options_.threads, "HTTP worker threads (default 8)")
      ->check(CLI::PositiveNumber);
  serve_->add_option("--verify-every", options_.verify_every_seconds,
                     "verify the whole log every N seconds, first at start (default 3600; 0: never)");
  serve_
      ->add_option("--maintenance-every", options_.maintenance_seconds,
                   "background catch-up and metric sampling period in seconds (default 5)")
      ->check(CLI::PositiveNumber);
  serve_
      ->add_option("--command-timeout-ms", options_.command_timeout_ms,
                   "with --kafka: POST /v1/commands waits this long for each outcome, then answers it "
                   "\"timeout\" (default 30000)")
      ->check(CLI::PositiveNumber);

  auto* token = app.add_subcommand("token", "bearer tokens of the HTTP API (only their hashes are stored)");
  token->require_subcommand(1);
  token_add_ = token->add_subcommand("add", "create a token for a user and print it once");
  token_add_->add_option("--user", token_user_, "the user's e-mail (the actor of its commands)")->required();
  token_add_->add_option("--tokens", tokens_file_, "the token file (default DATA/tokens)");
  token_revoke_ = token->add_subcommand("revoke", "revoke a token by id, or every token of a user");
  auto* id = token_revoke_->add_option("--id", token_id_, "the token's id (the 8 hex digits after vdr_)");
  auto* user = token_revoke_->add_option("--user", token_user_, "every token of this user");
  id->excludes(user);
  token_revoke_->add_option("--tokens", tokens_file_, "the token file (default DATA/tokens)");
  token_list_ = token->add_subcommand("list", "print each token's id and user");
  token_list_->add_option("--tokens", tokens_file_, "the token file (default DATA/tokens)");
}

bool ServeCli::Selected() const { return *serve_ || *token_add_ || *token_revoke_ || *token_list_; }

int ServeCli::Run(const std::string& data) {
  const std::string tokens = tokens_file_.empty() ? data + "/tokens" : tokens_file_;
  if (*token_add_) {
    auto t = service::AddToken(tokens, token_user_);
    if (!t.ok()) return Fail(t.status().ToString());
    std::cout << *t << "\n";
    std::cerr << "token for " << token_user_ << " stored (its SHA-256 only) in " << tokens
              << "; it is shown this once\n";
    return 0;
  }
  if (*token_revoke_) {
    auto n = service::RevokeTokens(tokens, token_id_, token_user_);
    if (!n.ok()) return Fail(n.status().ToString());
    std::cout << "revoked " << *n << " token(s)\n";
    return *n ? 0 : 1;
  }
  if (*token_list_) {
    auto records = service::ReadTokens(tokens);
    if (!records.ok()) return Fail(records.status().ToString());
    for (const auto& r : *records) std::cout << r.id << "  " << r.user << "\n";
    return 0;
  }
  if (http_.empty())
    return Fail("serve: give --http HOST:PORT, or --kafka BROKERS (--kafka-config FILE, --kafka-mock N)");
  return RunHttp(data, nullptr, "");
}

int ServeCli::RunHttp(const std::string& data, const service::HttpService::BackendFactory* factory,
                      const std::string& what) {
  const std::string tokens = tokens_file_.empty() ? data + "/tokens" : tokens_file_;
  const size_t colon = http_.rfind(':');
  if (colon == std::string::npos) return Fail("--http: expected HOST:PORT, got '" + http_ + "'");
  options_.data = data;
  options_.host = http_.substr(0, colon);
  try {
    options_.port = std::stoi(http_.substr(colon + 1));
  } catch (const std::exception&) {
    return Fail("--http: expected HOST:PORT, got '" + http_ + "'");
  }
  options_.tokens_file = tokens;
  // SIGINT/SIGTERM stop the server from a thread of their own (no work in a signal handler).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto service =
      factory ? service::HttpService::Open(options_, *factory) : service::HttpService::Open(options_);
  if (!service.ok()) return Fail(service.status().ToString());
  service::HttpService* raw = service->get();
  std::thread([set, raw] {
    int sig = 0;
    sigwait(&set, &sig);
    raw->Stop();
  }).detach();
  Status served;
  std::thread server([&] { served = raw->Serve(); });
  // Listening already (/metrics shows a rebuild's progress); announced once the projections
  // have caught up, so that whoever waits for this line can query at once.
  Status caught = raw->WaitCaughtUp();
  if (!caught.ok())
    std::cerr << "serve: the projections could not catch up (" << caught.ToString()
              << "); /readyz answers 503 and /v1 routes 503 until fixed\n";
  std::cout << "serving " << (raw->tls() ? "https" : "http") << "://" << options_.host << ":" << raw->port()
            << " (data " << data << ")" << std::endl;
  if (!what.empty()) std::cerr << "serve: the HTTP service runs over " << what << std::endl;
  server.join();
  if (!served.ok()) return Fail(served.ToString());
  std::cerr << "serve: stopped\n";
  return 0;
}

}  // namespace veeduria::cli
