// Redaction: secret values are replaced before an event leaves the capture
// layer, so no secret is ever queued, spooled, sent or stored. A redacted
// value becomes "[REDACTED:<kind>]" -- the kind of secret stays visible to
// investigators, the value does not.
//
// text() and url() are common/redact (the collector applies the same code
// to what it indexes); argv() adds what needs argument boundaries.
#pragma once

#include <string>
#include <vector>

#include "common/redact/redact.h"

namespace bt::agent::redact {

using bt::redact::marker;
using bt::redact::text;
using bt::redact::url;

// Redacts an argument vector: values of secret-bearing flags (--password X,
// --password=X, --token, --api-key, -p<pass> of known tools...), HTTP header
// values (-H "Authorization: ..."), inside `sh -c` scripts too; plus
// everything text() finds in any argument.
std::vector<std::string> argv(const std::vector<std::string>& args);

}  // namespace bt::agent::redact
