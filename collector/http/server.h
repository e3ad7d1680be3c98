// The collector's HTTP(S) front on libmicrohttpd: thread per connection (a
// request blocks until its batch is durably committed), bounded bodies,
// connection limit and idle timeout, optional TLS and client certificates.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "collector/ingest/ingest.h"
#include "collector/metrics/metrics.h"

namespace bt::collector::http {

struct Config {
  std::string listen = "127.0.0.1:8443";     // ADDR:PORT, [v6]:PORT; port 0 picks a free one
  std::string tls_cert, tls_key, client_ca;  // PEM file paths; TLS when cert+key given
  std::size_t max_body = 16u << 20;
  unsigned max_connections = 512;
  unsigned idle_timeout_s = 30;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> start(const Config& config, ingest::Ingest& ingest, metrics::Metrics& metrics);
  ~Server();
  // The bound address, e.g. "127.0.0.1:39211".
  std::string address() const;
  // Stops accepting, lets in-flight requests finish, closes the listener.
  void stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bt::collector::http
