// Redaction: secret values are replaced before an event leaves the capture
// layer, so no secret is ever queued, spooled, sent or stored. A redacted
// value becomes "[REDACTED:<kind>]" -- the kind of secret stays visible to
// investigators, the value does not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bt::agent::redact {

// Redacts an argument vector: values of secret-bearing flags (--password X,
// --password=X, --token, --api-key, -p<pass> of known tools...), HTTP header
// values (-H "Authorization: ..."), URL credentials and well-known token
// shapes anywhere in any argument.
std::vector<std::string> argv(const std::vector<std::string>& args);

// Redacts free text: token shapes, URL credentials, header values.
std::string text(std::string_view s);

// Redacts a URL: user:pass@ and secret query parameters.
std::string url(std::string_view u);

// The marker for a kind of secret: "[REDACTED:<kind>]".
std::string marker(std::string_view kind);

}  // namespace bt::agent::redact
