// The webhook output: one record per POST, its body the record in the
// output's format (for an alert in json: the object `alerts list --format
// jsonl` prints, collector/view/alert.h), signed so the receiver knows it
// came from this collector:
//
//   Content-Type: application/json
//   X-Buildtrail-Delivery: <record id>       (at-least-once: receivers dedup on it)
//   X-Buildtrail-Timestamp: <unix seconds>
//   X-Buildtrail-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>
//
// A record id is an alert's id, or an event's "<agent>/<seq>/<line>". One
// POST per record suits alerts and narrow event filters; the whole trail
// goes to syslog or a file.
#pragma once

#include <memory>
#include <string>

#include "collector/output/http_client.h"
#include "collector/output/output.h"

namespace bt::collector::output::webhook {

// "sha256=<hex>" over "<timestamp>.<body>" with `key`.
std::string signature(const std::string& key, const std::string& timestamp, std::string_view body);

class Webhook final : public Sink {
 public:
  static Result<std::unique_ptr<Sink>> create(const config::Output& config);
  ~Webhook() override;
  std::size_t max_records() const override { return 1; }
  Attempt deliver(const std::vector<Record>& records, const std::atomic<bool>& stop) override;

 private:
  Webhook(const config::Output& config, std::unique_ptr<http::Client> client);
  std::string url_, key_, ca_file_;
  long timeout_ms_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace bt::collector::output::webhook
