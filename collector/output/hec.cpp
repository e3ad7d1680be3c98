// The Splunk HEC sink; see hec.h. Protocol as Splunk documents it:
// "Format events for HTTP Event Collector" (envelope fields, several
// events in one body), "About HTTP Event Collector Indexer
// Acknowledgment" (channel, ackId, /services/collector/ack), and the HEC
// status codes table (code 9: server is busy).
#include "collector/output/hec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <thread>

#include "collector/output/answers.h"
#include "collector/output/body.h"
#include "common/text.h"

namespace bt::collector::output::hec {

namespace {

constexpr int kServerBusy = 9;  // HEC status code "Server is busy"

std::string local_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "buildtrail-collector";
  return name;
}

}  // namespace

std::string channel_uuid() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  const std::string h(hex, 32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::string envelope(const Record& record, const config::Output& config, const std::string& host) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  // Epoch seconds with a millisecond fraction, written as digits: a double
  // would not always print as the same decimal.
  const uint64_t ns = record.time_ns();
  char time[32];
  const int n = std::snprintf(time, sizeof time, "%llu.%03llu", static_cast<unsigned long long>(ns / 1000000000),
                              static_cast<unsigned long long>(ns / 1000000 % 1000));
  w.Key("time");
  w.RawValue(time, static_cast<std::size_t>(n), rapidjson::kNumberType);
  const std::string from_record = body::valid_utf8(record.host());
  w.Key("host");
  const std::string& h = !config.host.empty() || from_record.empty() ? host : from_record;
  w.String(h.data(), static_cast<rapidjson::SizeType>(h.size()));
  w.Key("source");
  w.String("buildtrail");
  w.Key("sourcetype");
  const std::string sourcetype = !config.sourcetype.empty() ? config.sourcetype
                                 : record.alert             ? "buildtrail:alert"
                                                            : "buildtrail:event";
  w.String(sourcetype.data(), static_cast<rapidjson::SizeType>(sourcetype.size()));
  if (!config.index.empty()) {
    w.Key("index");
    w.String(config.index.data(), static_cast<rapidjson::SizeType>(config.index.size()));
  }
  // The record is one JSON object the format wrote with every string
  // escaped; json_printable makes it valid UTF-8 without changing what it
  // says (bytes that are not UTF-8 become U+FFFD).
  const std::string event = text::json_printable(record.text);
  w.Key("event");
  w.RawValue(event.data(), event.size(), rapidjson::kObjectType);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

Hec::Hec(const config::Output& config, std::unique_ptr<http::Client> client)
    : config_(config),
      channel_(config.ack ? channel_uuid() : ""),
      local_host_(config.host.empty() ? local_host_name() : config.host),
      max_records_(static_cast<std::size_t>(config.max_records)),
      timeout_ms_(static_cast<long>(std::min<uint64_t>(config.timeout_ms, LONG_MAX))),
      client_(std::move(client)) {
  base_ = config.url;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

Hec::~Hec() { sodium_memzero(config_.token.data(), config_.token.size()); }

Result<std::unique_ptr<Sink>> Hec::create(const config::Output& config) {
  if (sodium_init() < 0) return make_error(ErrorCode::kCrypto, "libsodium could not be initialised");
  auto client = http::Client::create();
  if (!client) return client.error();
  return std::unique_ptr<Sink>(new Hec(config, std::move(*client)));
}

std::vector<std::string> Hec::headers(bool gzip) const {
  std::vector<std::string> h = {"Authorization: Splunk " + config_.token, "Content-Type: application/json"};
  if (gzip) h.push_back("Content-Encoding: gzip");
  if (!channel_.empty()) h.push_back("X-Splunk-Request-Channel: " + channel_);
  return h;
}

Attempt Hec::deliver(const std::vector<Record>& records, const std::atomic<bool>& stop) {
  Attempt done;
  done.outcome = Outcome::kDelivered;
  std::string body;
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::string one = envelope(records[i], config_, local_host_);
    // A request holds at most max_batch_bytes, or one envelope alone.
    if (!body.empty() && body.size() + one.size() > config_.max_batch_bytes) {
      Attempt a = send(body, stop);
      if (a.outcome != Outcome::kDelivered) return a;
      done.status = a.status;
      body.clear();
    }
    body += one;
  }
  if (!body.empty()) {
    Attempt a = send(body, stop);
    if (a.outcome != Outcome::kDelivered) return a;
    done.status = a.status;
  }
  return done;
}

Attempt Hec::send(const std::string& json, const std::atomic<bool>& stop) {
  std::string compressed;
  if (config_.gzip) {
    auto z = body::gzip(json);
    if (!z) {
      Attempt a;
      a.error = z.error().message;
      return a;
    }
    compressed = std::move(*z);
  }
  http::Post post;
  post.url = base_ + "/services/collector/event";
  post.headers = headers(config_.gzip);
  post.body = config_.gzip ? std::string_view(compressed) : std::string_view(json);
  post.ca_file = config_.ca_file;
  post.timeout_ms = timeout_ms_;
  post.max_response = 4096;
  http::Answer answer = client_->post(post, stop);
  Attempt& a = answer.attempt;
  if (a.status == 0) return a;  // no answer: the client's error says why
  const HecAnswer hec = parse_hec_answer(answer.response);
  if (hec.parsed && hec.code >= 0)
    a.error = "HTTP " + std::to_string(a.status) + ": HEC code " + std::to_string(hec.code) + " (" +
              text::printable(text::truncate(hec.text, 200)) + ")";
  if (hec.code == kServerBusy) a.outcome = Outcome::kRetry;
  if (a.outcome == Outcome::kDelivered && hec.parsed && hec.code > 0) a.outcome = Outcome::kRetry;
  if (a.outcome != Outcome::kDelivered || !config_.ack) return a;
  if (!hec.has_ack) {
    a.outcome = Outcome::kRetry;
    a.error = "ack = true, but the answer has no ackId (is indexer acknowledgement on for this token?)";
    return a;
  }
  return wait_for_ack(hec.ack_id, stop);
}

// Polls /services/collector/ack every 200 ms at first, then up to every
// second, until the ack is true or timeout_ms passed since the event was
// taken.
Attempt Hec::wait_for_ack(uint64_t ack_id, const std::atomic<bool>& stop) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  const std::string key = std::to_string(ack_id);
  const std::string request = "{\"acks\":[" + key + "]}";
  auto pause = std::chrono::milliseconds(200);
  Attempt last;
  last.error = "no ack for ackId " + key + " within timeout_ms";
  while (!stop.load()) {
    http::Post post;
    post.url = base_ + "/services/collector/ack?channel=" + channel_;
    post.headers = headers(false);
    post.body = request;
    post.ca_file = config_.ca_file;
    post.timeout_ms = std::max<long>(
        1, std::min<long>(timeout_ms_, static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                             deadline - std::chrono::steady_clock::now())
                                                             .count())));
    post.max_response = 4096;
    http::Answer answer = client_->post(post, stop);
    if (answer.attempt.outcome == Outcome::kDelivered) {
      if (hec_acked(answer.response, ack_id)) {
        Attempt ok;
        ok.outcome = Outcome::kDelivered;
        ok.status = answer.attempt.status;
        return ok;
      }
    } else {
      // The ack endpoint's refusal (ack disabled, channel unknown) is no
      // refusal of the events: they are sent again.
      last = answer.attempt;
      last.outcome = Outcome::kRetry;
      last.error = "ack: " + last.error;
    }
    if (std::chrono::steady_clock::now() + pause > deadline) break;
    for (auto slept = std::chrono::milliseconds(0); slept < pause && !stop.load();
         slept += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
  last.outcome = Outcome::kRetry;
  return last;
}

}  // namespace bt::collector::output::hec
