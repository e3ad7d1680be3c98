// HTTP(S) client of the collector on the agent's libuv loop: libcurl's multi
// interface driven by libuv (a uv_poll_t per socket from
// CURLMOPT_SOCKETFUNCTION, one uv_timer_t from CURLMOPT_TIMERFUNCTION), so no
// call blocks the loop and no thread is made per request. Keep-alive
// connections are reused across requests.
//
// The sender only moves bytes and classifies answers; retry timing, ordering
// and what to do with a rejected batch are the shipper's (transport/ship).
//
// Use it from the loop's thread only. Shutdown: close() (or destroying the
// sender) aborts in-flight transfers, runs their `done` with kRetry "sender
// closed" before it returns, and uv_close()s its handles; the owner then runs
// the loop (uv_run(loop, UV_RUN_DEFAULT)) so the close callbacks free them,
// before uv_loop_close(). Handles never refer back to a destroyed sender.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace bt::transport::sender {

struct Config {
  std::string collector_url;  // e.g. https://collector.example.com:8443 (no trailing path)
  std::string ca_file;        // PEM bundle to trust instead of the system store
  std::string client_cert;    // PEM client certificate for mTLS
  std::string client_key;     // PEM key of the client certificate
  long connect_timeout_ms = 10000;
  long transfer_timeout_ms = 60000;
  // Proxies come from the standard environment (https_proxy, no_proxy, ...)
  // as libcurl reads them.
};

// Tri-state outcome (fluent-bit's FLB_OK/FLB_RETRY/FLB_ERROR).
enum class Delivery {
  kDelivered,  // 2xx: the collector has it durably
  kRetry,      // network error, timeout, 408, 429, 5xx: try again later
  kRejected,   // any other 4xx (400/401/403/409/413...): will never succeed as is
};

struct Response {
  Delivery delivery = Delivery::kRetry;
  long status = 0;         // HTTP status, 0 when no answer
  int retry_after_s = -1;  // Retry-After in seconds when the server sent one
  std::string body;        // response body (capped at 64 KiB)
  std::string error;       // transport error text (curl) when status is 0
};

Delivery classify(long status);

class Sender {
 public:
  // Validates the config (URL scheme, readable files) and sets up curl multi
  // on `loop`. The loop must outlive the sender.
  static Result<std::unique_ptr<Sender>> create(uv_loop_t* loop, const Config& config);
  ~Sender();  // aborts transfers; handles are closed through the loop

  // POSTs `body` to collector_url + path with `content_type`; `done` runs on
  // the loop thread exactly once (also when the sender is closed first, with
  // kRetry and error "sender closed").
  void post(const std::string& path, std::string body, const std::string& content_type,
            std::function<void(Response)> done);

  std::size_t in_flight() const;
  // Aborts transfers and starts closing libuv handles; the loop must run
  // once more for the close callbacks. Idempotent.
  void close();

  struct Impl;

 private:
  explicit Sender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bt::transport::sender
