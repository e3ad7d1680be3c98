// The syslog output's connection to its server: TCP (RFC 6587), TLS over
// TCP (RFC 5425, GnuTLS: the server's certificate checked against the CA
// file or the system store and the configured name; an optional client
// certificate), or UDP (RFC 5426). Sockets are non-blocking and every
// wait is a poll of at most 250 ms that also looks at `stop`, so a server
// that stops reading cannot hold serve's shutdown.
//
// Syslog over TCP has no acknowledgement. What the output can know is
// that the server's kernel took every byte (the socket's send queue is
// empty, SIOCOUTQ) and that the connection is still up: taken() waits for
// that, and only then is a chunk delivered. What a server loses after its
// kernel took it (a crash with unread data) is beyond what the protocol can
// tell; docs/collector-config.md "Syslog" says so.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "collector/config/config.h"
#include "common/result.h"

namespace bt::collector::output::syslog {

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Status send(std::string_view bytes, const std::atomic<bool>& stop) = 0;
  // Returns once the server took every byte sent, or fails (the
  // connection broke, or `timeout` passed).
  virtual Status taken(std::chrono::milliseconds timeout, const std::atomic<bool>& stop) = 0;
};

// Connects as `config` says (transport, address, TLS files), within its
// timeout_ms.
Result<std::unique_ptr<Connection>> connect(const config::Output& config, const std::atomic<bool>& stop);

}  // namespace bt::collector::output::syslog
