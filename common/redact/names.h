// Names that announce a secret: flag, variable and property names
// (`--api-key`, `PGPASSWORD`, `-Dgpg.passphrase`), URL query parameters and
// HTTP headers. The value next to such a name is redacted whatever it looks
// like. Tables in names.cpp, published as docs/redaction.md#names.
#pragma once

#include <string>
#include <string_view>

namespace bt::redact {

// The kind of secret a variable, flag or property name announces, else
// empty. Accepts "--api-key", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD",
// "-Dgpg.passphrase", "-PsigningPassword" and npm's "_authToken". Names in
// environment-variable style (upper case, no dashes) also match the
// variable-only rules: `*_KEY`, `*_PWD`, `*_AUTH`, ...
std::string_view name_kind(std::string_view raw);

// The kind of a URL query parameter that carries a credential, else empty.
std::string_view url_param_kind(std::string_view name);

// The kind of an HTTP header whose value is a credential, else empty.
std::string_view header_kind(std::string_view name);

// Whether a (lower-case) word is an Authorization scheme that stays visible
// ("Bearer [REDACTED:...]").
bool is_auth_scheme(std::string_view lower_word);

// docker/buildx `--secret id=x,src=file` names a secret, it does not carry
// one; nor does the Jenkins agent's `-secret @file` (the file holds it).
bool is_secret_reference(std::string_view flag, std::string_view value);

// Whether `name` is an environment variable name in the conventional style:
// [A-Z_][A-Z0-9_]*.
bool is_env_style(std::string_view name);

// The tables as Markdown (docs/redaction.md, part "names").
std::string names_reference();

}  // namespace bt::redact
