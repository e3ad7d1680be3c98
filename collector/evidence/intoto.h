// The in-toto Statement v1 of one build record, with the runtime-trace
// predicate of in-toto/attestation (spec/predicates/runtime-trace.md,
// v0.1): what the build uploaded is the subject; the processes, network
// destinations and file accesses (secrets read, files written and
// uploaded) the agent recorded are the monitor log; every entry names the
// signed batch and line it comes from, and the metadata lists the SHA-256
// of each of those batches, so the statement can be checked against the
// agent's own signatures. docs/evidence.md shows a statement.
#pragma once

#include <string>
#include <vector>

#include "collector/readback/event_reader.h"
#include "collector/store/store.h"
#include "common/result.h"

namespace bt::collector::evidence {

inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kRuntimeTraceType = "https://in-toto.io/attestation/runtime-trace/v0.1";

// The statement's JSON (one line). `batches` are the build's batches as
// readback::EventReader::for_each_build_batch hands them out (their bytes
// are not needed). kNotFound when the build uploaded no file with a digest:
// a statement needs at least one subject.
Result<std::string> runtime_trace_statement(const store::BuildRow& build,
                                            const std::vector<readback::BuildBatch>& batches);

// What `verify` says of a statement: "in-toto statement: N subjects, predicate TYPE",
// or kMalformed when it is not an in-toto Statement v1 with subjects that
// each have a digest.
Result<std::string> describe_statement(std::string_view json);

}  // namespace bt::collector::evidence
