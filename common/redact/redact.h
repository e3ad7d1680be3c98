// Redaction of secret values in free text and URLs: the one implementation
// both sides use. The agent applies it (under its argv rules,
// agent/enrich/rules/redact.h) before an event leaves the capture layer; the
// collector applies it again to every string it indexes
// (collector/ingest/ingest.cpp), so a value the agent let through -- an
// older agent, a rule added since -- is not indexed in clear either.
//
// A redacted value becomes "[REDACTED:<kind>]": the kind of secret stays
// visible to investigators, the value does not. What is recognised is
// published in docs/redaction.md (generated from formats.cpp and names.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bt::redact {

// Every kind a marker may name. A marker with another kind is not a marker:
// its contents are scanned like any text, so a secret cannot hide from the
// scanner by dressing up as one. The rule tables check their kinds against
// this list at compile time (static_assert(known_kinds(...))).
inline constexpr std::string_view kKinds[] = {
    "password",
    "token",
    "api_key",
    "authorization",
    "url_credentials",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "jwt",
    "private_key",
    "npm_token",
    "generic_secret",
    "stripe_key",
    "google_api_key",
    "pypi_token",
    "docker_token",
    "sendgrid_key",
    "twilio_key",
    "vault_token",
    "hf_token",
    "databricks_token",
    "newrelic_key",
    "sentry_token",
    "doppler_token",
    "webhook",
};

constexpr bool is_kind(std::string_view k) {
  for (std::string_view known : kKinds)
    if (k == known) return true;
  return false;
}

// Whether every row of a rule table names a known kind (for static_assert).
template <class Table>
constexpr bool known_kinds(const Table& rows) {
  for (const auto& r : rows)
    if (!is_kind(r.kind)) return false;
  return true;
}

// Redacts free text: token formats anywhere a word starts, PEM private key
// blocks, URL credentials, `name=value` and `Header: value` where the name
// says secret, `--secret-flag value`. Idempotent: text(text(x)) == text(x).
std::string text(std::string_view s);

// Redacts a URL: user:pass@ (also without a scheme), secret query
// parameters, and everything text() finds. Idempotent.
std::string url(std::string_view u);

// The marker for a kind of secret: "[REDACTED:<kind>]".
std::string marker(std::string_view kind);

// Length of the marker `s` starts with, or 0.
std::size_t marker_length(std::string_view s);

// Whether `s` is exactly one marker.
bool is_marker(std::string_view s);

}  // namespace bt::redact
