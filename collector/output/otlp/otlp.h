// The otlp output: OTLP/HTTP logs (the OpenTelemetry protocol
// specification, "OTLP/HTTP"). A chunk of records is one
// ExportLogsServiceRequest (or several, past max_batch_bytes), POSTed to
// <url>/v1/logs as binary protobuf (application/x-protobuf) or in OTLP's
// JSON mapping (application/json: lowerCamelCase keys, enums as integers,
// 64-bit integers as strings), built with libprotobuf from the messages
// declared in proto/ (the published OTLP files, the part we send).
//
// One ResourceLogs per (agent, build): service.name "buildtrail",
// host.name, buildtrail.agent.id, buildtrail.ci, cicd.pipeline.name (the
// job), cicd.pipeline.run.id, vcs.repository.url.full,
// vcs.ref.head.revision; an alert carries its agent only. Each record is
// one LogRecord: its time, the time it was sent as observed time, a
// severity (below), the record's JSON text as the string body, and the
// attributes event.name (the event kind, or "alert") and
// buildtrail.record.id (what receivers dedup on).
//
// Severity: the record's syslog severity (output.h) as the logs data
// model's syslog mapping has it: informational (every event, informational
// alerts) INFO 9, notice (loss, low alerts) INFO2 10, warning (medium)
// WARN 13, error (high) ERROR 17, critical FATAL 21; severity_text is the
// alert's severity, or "informational"/"notice" for events.
//
// Answers, as the specification says: 2xx is taken (a partial_success with
// rejected_log_records counts those as dropped); 429, 502, 503, 504 and
// no answer are tried again (after Retry-After); every other 4xx and 5xx
// is a refusal, never sent again.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "collector/output/output.h"

namespace bt::collector::output::otlp {

// The POST target for `url`: unchanged when it ends in /v1/logs, else
// with /v1/logs added.
std::string endpoint(const std::string& url);

// OTLP/HTTP status to outcome.
Outcome classify_otlp(long status);

// One request body of `records` in `encoding` ("protobuf" or "json").
std::string encode(const std::vector<Record>& records, const std::string& encoding, uint64_t observed_ns);

Result<std::unique_ptr<Sink>> create(const config::Output& config);

}  // namespace bt::collector::output::otlp
