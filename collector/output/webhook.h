// The webhook output: one alert per POST, its body the alert's JSON (the
// object `alerts list --format jsonl` prints, collector/view/alert.h),
// signed so the receiver knows it came from this collector:
//
//   Content-Type: application/json
//   X-Buildtrail-Delivery: <alert id>        (at-least-once: receivers dedup on it)
//   X-Buildtrail-Timestamp: <unix seconds>
//   X-Buildtrail-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>
//
// libcurl's easy interface on the output's own thread, one handle kept for
// keep-alive; the progress callback aborts a request within about a second
// of stop, so a receiver that never answers cannot hold serve's shutdown.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "collector/output/output.h"

namespace bt::collector::output::webhook {

// "sha256=<hex>" over "<timestamp>.<body>" with `key`.
std::string signature(const std::string& key, const std::string& timestamp, const std::string& body);

class Webhook final : public Sink {
 public:
  static Result<std::unique_ptr<Sink>> create(const config::Output& config);
  ~Webhook() override;
  Attempt deliver(const store::Alert& alert, const std::atomic<bool>& stop) override;

 private:
  Webhook(const config::Output& config, CURL* easy);
  std::string url_, key_, ca_file_;
  long timeout_ms_;
  CURL* easy_;
};

}  // namespace bt::collector::output::webhook
