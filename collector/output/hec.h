// The splunk_hec output: Splunk's HTTP Event Collector. A chunk of records
// goes as JSON event envelopes, one after the other in one body,
//
//   POST <url>/services/collector/event
//   Authorization: Splunk <token>
//   {"time":1795775400.123,"host":"ci-7","source":"buildtrail",
//    "sourcetype":"buildtrail:event","index":"ci","event":{...the record...}}{...}
//
// each envelope written by RapidJSON's Writer with the record inserted as
// the raw JSON object the format wrote (every string in it escaped), so
// nothing inside a record can close its envelope and open another. A chunk
// larger than max_batch_bytes goes in several requests; deliver() reports
// Delivered only when every one was taken. With `ack` on, each request
// carries the channel (a random UUID per start) and counts as taken only
// once /services/collector/ack says its ackId was indexed; an ack that has
// not come within timeout_ms means the chunk is sent again (at-least-once:
// duplicates are possible, losses are not).
//
// HEC answers: 2xx code 0 is taken; code 9 (server busy) and 503 are tried
// again; other 4xx (code 4 invalid token, 6 invalid data format, ...) are
// refusals (Output counts the chunk as dropped). The token is never logged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "collector/output/http_client.h"
#include "collector/output/output.h"

namespace bt::collector::output::hec {

// One record's envelope (exposed for the tests). `host` is used when the
// record has none of its own or `host_override` is set.
std::string envelope(const Record& record, const config::Output& config, const std::string& host);

// A random UUID (version 4), the HEC channel.
std::string channel_uuid();

class Hec final : public Sink {
 public:
  static Result<std::unique_ptr<Sink>> create(const config::Output& config);
  ~Hec() override;
  std::size_t max_records() const override { return max_records_; }
  Attempt deliver(const std::vector<Record>& records, const std::atomic<bool>& stop) override;

 private:
  Hec(const config::Output& config, std::unique_ptr<http::Client> client);
  // One request's body: POST, then (ack on) wait for its ack.
  Attempt send(const std::string& body, const std::atomic<bool>& stop);
  Attempt wait_for_ack(uint64_t ack_id, const std::atomic<bool>& stop);
  std::vector<std::string> headers(bool json) const;

  config::Output config_;  // token kept here; wiped on destruction
  std::string base_, channel_, local_host_;
  std::size_t max_records_;
  long timeout_ms_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace bt::collector::output::hec
