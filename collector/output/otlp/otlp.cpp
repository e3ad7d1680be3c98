// The OTLP/HTTP logs sink; see otlp.h.
#include "collector/output/otlp/otlp.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <climits>
#include <map>
#include <tuple>

#include "collector/output/answers.h"
#include "collector/output/body.h"
#include "collector/output/http_client.h"
#include "common/clock.h"
#include "common/text.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"

namespace bt::collector::output::otlp {

namespace {

namespace pb_collector = opentelemetry::proto::collector::logs::v1;
namespace pb_logs = opentelemetry::proto::logs::v1;
namespace pb_common = opentelemetry::proto::common::v1;

constexpr const char* kPath = "/v1/logs";
// What one record adds to a request beside its text (attributes, times):
// the byte cap is kept by this estimate.
constexpr std::size_t kRecordOverhead = 256;

// The resource a record belongs to: its agent and build.
using ResourceKey = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string,
                               std::string>;  // agent, host, ci, job, run id, repository, commit

ResourceKey resource_of(const Record& r) {
  if (r.event) {
    const auto& e = *r.event;
    return {e.agent_id, e.host, e.build.ci, e.build.job, e.build.id, e.build.repository, e.build.commit};
  }
  return {r.alert ? r.alert->agent_id : "", "", "", "", "", "", ""};
}

void add_attribute(google::protobuf::RepeatedPtrField<pb_common::KeyValue>* to, const std::string& key,
                   const std::string& value) {
  if (value.empty()) return;
  auto* kv = to->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(body::valid_utf8(value));
}

// The logs data model's syslog mapping (Appendix B) of RFC 5424 severities.
pb_logs::SeverityNumber severity_number(int syslog) {
  switch (syslog) {
    case 0:
    case 1:
    case 2:
      return pb_logs::SEVERITY_NUMBER_FATAL;
    case 3:
      return pb_logs::SEVERITY_NUMBER_ERROR;
    case 4:
      return pb_logs::SEVERITY_NUMBER_WARN;
    case 5:
      return pb_logs::SEVERITY_NUMBER_INFO2;
    default:
      return pb_logs::SEVERITY_NUMBER_INFO;
  }
}

std::string severity_text(const Record& r) {
  if (r.alert) return body::valid_utf8(r.alert->severity);
  return r.severity() == 5 ? "notice" : "informational";
}

struct Request {
  std::string body;
  std::size_t records = 0;
};

}  // namespace

std::string endpoint(const std::string& url) {
  std::string base = url;
  if (base.size() >= 8 && base.compare(base.size() - 8, 8, kPath) == 0) return base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + kPath;
}

Outcome classify_otlp(long status) {
  if (status >= 200 && status < 300) return Outcome::kDelivered;
  if (status == 0 || status == 429 || status == 502 || status == 503 || status == 504) return Outcome::kRetry;
  if (status >= 400) return Outcome::kRejected;
  return Outcome::kRetry;  // 1xx, 3xx (not followed)
}

std::string encode(const std::vector<Record>& records, const std::string& encoding, uint64_t observed_ns) {
  pb_collector::ExportLogsServiceRequest request;
  std::map<ResourceKey, pb_logs::ScopeLogs*> scopes;
  for (const auto& r : records) {
    const ResourceKey key = resource_of(r);
    auto [at, added] = scopes.try_emplace(key, nullptr);
    if (added) {
      auto* rl = request.add_resource_logs();
      auto* attrs = rl->mutable_resource()->mutable_attributes();
      const auto& [agent, host, ci, job, run, repository, commit] = key;
      add_attribute(attrs, "service.name", "buildtrail");
      add_attribute(attrs, "host.name", host);
      add_attribute(attrs, "buildtrail.agent.id", agent);
      add_attribute(attrs, "buildtrail.ci", ci);
      add_attribute(attrs, "cicd.pipeline.name", job);
      add_attribute(attrs, "cicd.pipeline.run.id", run);
      add_attribute(attrs, "vcs.repository.url.full", repository);
      add_attribute(attrs, "vcs.ref.head.revision", commit);
      auto* scope = rl->add_scope_logs();
      scope->mutable_scope()->set_name("buildtrail-collector");
      scope->mutable_scope()->set_version(BUILDTRAIL_VERSION);
      at->second = scope;
    }
    auto* log = at->second->add_log_records();
    log->set_time_unix_nano(r.time_ns());
    log->set_observed_time_unix_nano(observed_ns);
    log->set_severity_number(severity_number(r.severity()));
    log->set_severity_text(severity_text(r));
    // The record's JSON, valid UTF-8 and without raw control characters
    // (json_printable: the same JSON value).
    log->mutable_body()->set_string_value(text::json_printable(r.text));
    add_attribute(log->mutable_attributes(), "event.name", std::string(r.kind()));
    add_attribute(log->mutable_attributes(), "buildtrail.record.id", r.id);
  }
  std::string out;
  if (encoding == "json") {
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_enums_as_ints = true;   // OTLP JSON: enums as integers
    options.preserve_proto_field_names = false;  // lowerCamelCase keys
    (void)google::protobuf::util::MessageToJsonString(request, &out, options);
  } else {
    request.SerializeToString(&out);
  }
  return out;
}

namespace {

class Otlp final : public Sink {
 public:
  Otlp(const config::Output& config, std::unique_ptr<http::Client> client)
      : config_(config),
        url_(endpoint(config.url)),
        timeout_ms_(static_cast<long>(std::min<uint64_t>(config.timeout_ms, LONG_MAX))),
        client_(std::move(client)) {}
  std::size_t max_records() const override { return static_cast<std::size_t>(config_.max_records); }

  Attempt deliver(const std::vector<Record>& records, const std::atomic<bool>& stop) override {
    Attempt done;
    done.outcome = Outcome::kDelivered;
    std::vector<Record> part;
    std::size_t bytes = 0;
    auto flush = [&]() -> bool {
      if (part.empty()) return true;
      Attempt a = send(part, stop);
      part.clear();
      bytes = 0;
      done.rejected += a.rejected;
      if (!a.error.empty() && a.outcome == Outcome::kDelivered) done.error = a.error;
      if (a.outcome == Outcome::kDelivered) {
        done.status = a.status;
        return true;
      }
      a.rejected = 0;
      done = a;
      return false;
    };
    for (const auto& r : records) {
      const std::size_t size = r.text.size() + r.id.size() + kRecordOverhead;
      if (!part.empty() && bytes + size > config_.max_batch_bytes && !flush()) return done;
      part.push_back(r);
      bytes += size;
    }
    flush();
    return done;
  }

 private:
  Attempt send(const std::vector<Record>& records, const std::atomic<bool>& stop) {
    const bool json = config_.encoding == "json";
    std::string payload = encode(records, config_.encoding, clock::now_ns());
    if (config_.gzip) {
      auto z = body::gzip(payload);
      if (!z) {
        Attempt a;
        a.error = z.error().message;
        return a;
      }
      payload = std::move(*z);
    }
    http::Post post;
    post.url = url_;
    post.headers = config_.headers;
    post.headers.push_back(json ? "Content-Type: application/json" : "Content-Type: application/x-protobuf");
    if (config_.gzip) post.headers.push_back("Content-Encoding: gzip");
    post.body = payload;
    post.ca_file = config_.ca_file;
    post.timeout_ms = timeout_ms_;
    post.max_response = 64 << 10;
    http::Answer answer = client_->post(post, stop);
    Attempt a = answer.attempt;
    if (a.status == 0) return a;
    a.outcome = classify_otlp(a.status);
    if (a.outcome == Outcome::kDelivered) {
      a.error.clear();
      const OtlpAnswer partial = parse_otlp_answer(answer.response, json);
      if (partial.rejected > 0) {
        a.rejected = std::min<uint64_t>(static_cast<uint64_t>(partial.rejected), records.size());
        a.error = "partial success: " + std::to_string(partial.rejected) +
                  " log records rejected: " + text::printable(text::truncate(partial.message, 200));
      }
    }
    return a;
  }

  config::Output config_;  // headers kept here: never logged
  std::string url_;
  long timeout_ms_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace

Result<std::unique_ptr<Sink>> create(const config::Output& config) {
  auto client = http::Client::create();
  if (!client) return client.error();
  return std::unique_ptr<Sink>(new Otlp(config, std::move(*client)));
}

}  // namespace bt::collector::output::otlp
