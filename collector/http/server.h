// The collector's HTTP(S) front on libmicrohttpd: thread per connection (a
// request blocks until its batch is durably committed), bodies bounded by
// what an agent can send (batch::kMaxWireBytes) and by one budget for all
// of them, deadlines per phase, connections capped in all and per client
// address (collector/http/guard.h), optional TLS and client certificates.
// /healthz and /metrics can also be served on a listener of their own, so
// a crowd of clients on the main one cannot starve the probes. The read
// API (collector/api/) is served under /v1/ on the main listener, beside
// the agents' two endpoints, and the UI (collector/ui/) under /ui/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "collector/api/api.h"
#include "collector/http/guard.h"
#include "collector/ingest/ingest.h"
#include "collector/metrics/metrics.h"
#include "collector/ui/front.h"
#include "common/batch/batch.h"

namespace bt::collector::http {

struct Config {
  std::string listen = "127.0.0.1:8443";     // ADDR:PORT, [v6]:PORT; port 0 picks a free one
  std::string health_listen;                 // empty: /healthz and /metrics on `listen` only
  std::string tls_cert, tls_key, client_ca;  // PEM file paths; TLS when cert+key given
  std::size_t max_body = batch::kMaxWireBytes;
  unsigned max_connections = 512;
  unsigned max_connections_per_address = 128;  // agents behind one NAT share an address
  unsigned idle_timeout_s = 30;
  int retry_after_s = 1;  // the Retry-After of a 503 for a full body budget
  GuardLimits guard;
};

class Server {
 public:
  // `api` (may be null: no read API) and `ui` (may be null: no UI) must
  // outlive the server.
  static Result<std::unique_ptr<Server>> start(const Config& config, ingest::Ingest& ingest, metrics::Metrics& metrics,
                                               api::Api* api = nullptr, ui::Front* ui = nullptr);
  ~Server();
  // The bound address, e.g. "127.0.0.1:39211"; the health listener's.
  std::string address() const;
  std::string health_address() const;
  // Stops accepting, lets in-flight requests finish, closes the listener.
  void stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bt::collector::http
