// Redaction: secret values are replaced before an event leaves the capture
// layer, so no secret is ever queued, spooled, sent or stored. A redacted
// value becomes "[REDACTED:<kind>]" -- the kind of secret stays visible to
// investigators, the value does not.
//
// text() and url() are common/redact (the collector applies the same code
// to what it indexes); argv() adds what needs argument boundaries and the
// per-tool table. docs/redaction.md publishes every rule.
#pragma once

#include <string>
#include <vector>

#include "common/markdown.h"
#include "common/redact/redact.h"

namespace bt::agent::redact {

using bt::redact::marker;
using bt::redact::text;
using bt::redact::url;

// Redacts an argument vector: values of secret-bearing flags (--password X,
// --password=X, --token, --api-key, -H "Authorization: ..."), the per-tool
// option and operand secrets (`docker login -p X`, `mysql -pX`, `redis-cli
// -a X`, `vault login TOKEN`, `aws configure set aws_secret_access_key X`),
// found by the tool's name after launchers (`sudo`, `env`), assignments and
// interpreters (`python3 ./twine`: a `#!` script's argv), and inside `sh -c`
// scripts; plus everything text() finds in any argument.
std::vector<std::string> argv(const std::vector<std::string>& args);

// docs/redaction.md: token formats, names, per-tool rules, marker kinds.
std::vector<markdown::Part> reference_parts();

}  // namespace bt::agent::redact
