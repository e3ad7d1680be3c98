// Redaction of secret values in free text and URLs.
//
// Runs on every exec the sensor sees (thousands per second on a busy build)
// and on every string the collector indexes, so everything is a hand-written
// single pass over the bytes: no regex, no backtracking, one output string
// per input. Matching rules, in the order the scanner tries them at each
// position:
//   1. a marker already in the text is copied untouched, which makes text()
//      idempotent: text(text(x)) == text(x) (the fuzzer checks this);
//   2. token formats (formats.cpp) where a word starts, and PEM private key
//      blocks anywhere;
//   3. `scheme://user:pass@` userinfo;
//   4. `name=value` and `Header: value` where the name says secret
//      (names.cpp);
//   5. `--secret-flag value` separated by blanks.
// Names are read back from the output already written, never from the input,
// so a rule sees exactly what a second pass over the output would see.
//
// Over-redaction is the accepted failure: a value next to a secret-looking
// name is dropped even if it was harmless. Everything that matches no rule is
// copied byte for byte.
#include "common/redact/redact.h"

#include <algorithm>
#include <optional>

#include "common/redact/chars.h"
#include "common/redact/formats.h"
#include "common/redact/names.h"

namespace bt::redact {

namespace {

using namespace detail;
using std::string_view;

constexpr string_view kOpen = "[REDACTED:";

constexpr std::size_t kLongestKind = [] {
  std::size_t n = 0;
  for (string_view k : kKinds) n = std::max(n, k.size());
  return n;
}();

// A URL ends where a shell word or a quoted string would.
bool ends_url(char c) { return is_space(c) || is_quote(c) || c == '<' || c == '>'; }

// An unquoted value ends where the shell would end a word.
bool ends_value(char c, bool in_url) {
  return is_space(c) || is_quote(c) || c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || (in_url && c == '#');
}

// The first ':' that is not the one inside a marker, so "user:pass" tests
// agree before and after redaction.
std::size_t find_colon(string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ':') return i;
    if (s[i] == '[') {
      if (const std::size_t n = marker_length(s.substr(i))) i += n - 1;
    }
  }
  return string_view::npos;
}

bool is_ssh_scheme(string_view scheme) {
  return iequals(scheme, "ssh") || iequals(scheme, "git+ssh") || iequals(scheme, "ssh+git") || iequals(scheme, "sftp");
}

class Scanner {
 public:
  Scanner(string_view in, bool in_url) : in_(in), in_url_(in_url) { out_.reserve(in.size() + 16); }

  std::string run() && {
    if (in_url_) bare_userinfo();
    while (i_ < in_.size()) step();
    return std::move(out_);
  }

 private:
  // Each rule starts at one kind of character, so the character picks the
  // rules to try; a rule that does not apply leaves the input untouched.
  void step() {
    const char c = in_[i_];
    switch (c) {
      case '[':
        if (copy_marker()) return;
        break;
      case '-':
        if (pem()) return;
        break;
      case ':':
        if (scheme() || separator()) return;
        break;
      case '=':
        if (separator()) return;
        break;
      case ' ':
      case '\t':
        if (spaced_flag()) return;
        break;
      default:
        if (shape()) return;
        // No rule starts inside a run of letters and digits (a token needs
        // a word start): the run is copied at once.
        if (is_alnum(c)) {
          copy(1 + run_length(in_, i_ + 1, is_alnum));
          return;
        }
    }
    ++i_;
    if (ends_url(c)) in_url_ = false;
    out_.push_back(c);
  }

  string_view rest() const { return in_.substr(i_); }
  bool at_word_start() const { return out_.empty() || !is_alnum(out_.back()); }

  void copy(std::size_t n) {
    out_.append(in_.substr(i_, n));
    i_ += n;
  }

  // Replaces the next n input bytes; a value that is already a marker stays.
  void replace(std::size_t n, string_view kind) {
    const string_view v = in_.substr(i_, n);
    if (v.empty() || is_marker(v)) {
      copy(n);
      return;
    }
    const string_view shape = shape_kind(v);
    out_ += marker(shape.empty() ? kind : shape);
    i_ += n;
  }

  bool copy_marker() {
    const std::size_t n = in_[i_] == '[' ? marker_length(rest()) : 0;
    if (n) copy(n);
    return n != 0;
  }

  bool pem() {
    const std::size_t n = in_[i_] == '-' && i_ + 1 < in_.size() && in_[i_ + 1] == '-' ? match_pem(rest()) : 0;
    if (n) replace(n, "private_key");
    return n != 0;
  }

  bool shape() {
    if (!at_word_start() || (in_[i_] == 'e' && i_ < no_jwt_before_)) return false;
    std::size_t run = 0;
    const TokenMatch m = match_token(rest(), &run);
    no_jwt_before_ = std::max(no_jwt_before_, i_ + run);
    if (!m.length) return false;
    copy(m.keep);  // a webhook URL's host and path
    replace(m.length - m.keep, m.kind);
    return true;
  }

  // "scheme://" then the userinfo, if any.
  bool scheme() {
    if (in_[i_] != ':' || !rest().starts_with("://")) return false;
    std::size_t b = out_.size();
    while (b > 0 && is_scheme_char(out_[b - 1])) --b;
    while (b < out_.size() && !is_alpha(out_[b])) ++b;  // "(https" or "+https" -> https
    if (b == out_.size()) return false;
    const std::string scheme = out_.substr(b);
    copy(3);
    in_url_ = true;
    userinfo(scheme);
    return true;
  }

  // Where the authority ends: at the path, query or fragment, or wherever a
  // value would end, so that redacting a value never widens it.
  static std::size_t authority_end(string_view r) {
    std::size_t n = 0;
    while (n < r.size() && r[n] != '/' && r[n] != '?' && !ends_value(r[n], true)) ++n;
    return n;
  }

  // Where the userinfo ends: the last '@' of the authority. A password with
  // an unescaped '/' ends the authority early; if what precedes it has a
  // "user:" that is not "host:port", the next '@' still closes the userinfo.
  static std::optional<std::size_t> userinfo_end(string_view r) {
    const std::size_t auth_end = authority_end(r);
    const std::size_t at = r.substr(0, auth_end).rfind('@');
    if (at != string_view::npos) return at;
    const std::size_t colon = find_colon(r.substr(0, auth_end));
    if (colon == string_view::npos) return std::nullopt;
    const string_view port = r.substr(colon + 1, auth_end - colon - 1);
    if (port.empty() || run_length(port, 0, is_digit) == port.size()) return std::nullopt;
    // Passwords are short: look for the '@' a little way only, so a long
    // run of "a:b/..." stays linear.
    std::size_t url_end = auth_end;
    while (url_end < r.size() && url_end < auth_end + 256 && !ends_url(r[url_end])) ++url_end;
    const std::size_t first = r.substr(0, url_end).find('@', auth_end);
    if (first == string_view::npos) return std::nullopt;
    // Through any further '@' of the same authority, as a second pass sees it.
    const std::size_t last = r.substr(0, first + 1 + authority_end(r.substr(first + 1))).rfind('@');
    return last;
  }

  void userinfo(string_view scheme) {
    const auto at = userinfo_end(rest());
    if (!at || *at == 0) return;
    const string_view info = in_.substr(i_, *at);
    const bool has_password = find_colon(info) != string_view::npos;
    // A bare user name (git@, ci@) is not a secret; a long one is a token.
    if (!has_password && (is_ssh_scheme(scheme) || info.size() < 16)) return;
    if (is_marker(info)) {
      copy(*at);
    } else {
      out_ += marker("url_credentials");
      i_ += *at;
    }
  }

  // url() input without a scheme: "user:pass@host/path".
  void bare_userinfo() {
    const std::size_t scheme = run_length(in_, 0, is_scheme_char);
    if (scheme > 0 && is_alpha(in_[0]) && in_.substr(scheme).starts_with("://")) return;
    const std::size_t at = in_.substr(0, authority_end(in_)).rfind('@');
    if (at == string_view::npos || find_colon(in_.substr(0, at)) == string_view::npos) return;
    // Brackets and control characters are never part of a userinfo; text
    // with them (a marker left by another rule, a PEM block's last line)
    // is not one, or a second pass would find credentials the first did not.
    const string_view info = in_.substr(0, at);
    if (std::any_of(info.begin(), info.end(),
                    [](char c) { return c == '[' || c == ']' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      return;
    replace(at, "url_credentials");
  }

  // The name just written: the run of name characters at the end of the
  // output, ignoring one closing quote ("password": ...).
  string_view written_name() const {
    std::size_t end = out_.size();
    if (end > 0 && (out_[end - 1] == '"' || out_[end - 1] == '\'')) --end;
    std::size_t b = end;
    while (b > 0 && end - b < 128 && is_name_char(out_[b - 1])) --b;
    return string_view(out_).substr(b, end - b);
  }

  // "Authorization", or curl's glued "-HAuthorization".
  static string_view header_name_kind(string_view name) {
    if (name.starts_with("-H")) name.remove_prefix(2);
    return header_kind(name);
  }

  string_view assignment_kind(string_view name) const {
    if (in_url_)
      if (string_view k = url_param_kind(name); !k.empty()) return k;
    return name_kind(name);
  }

  bool separator() {
    const char c = in_[i_];
    if (c != '=' && c != ':') return false;
    const string_view name = written_name();
    if (name.empty()) return false;
    if (c == '=') {
      const string_view kind = assignment_kind(name);
      if (kind.empty() || is_secret_reference(name, rest().substr(1))) return false;
      copy(1);
      value(kind);
      return true;
    }
    if (string_view kind = header_name_kind(name); !kind.empty()) {
      copy(1);
      header_value(kind);
      return true;
    }
    // "password: x" and "password":"x" (YAML, JSON), but not "user:pass".
    const string_view kind = name_kind(name);
    if (kind.empty() || i_ + 1 >= in_.size() || !(is_blank(in_[i_ + 1]) || is_quote(in_[i_ + 1]))) return false;
    copy(1);
    copy(run_length(in_, i_, is_blank));
    value(kind);
    return true;
  }

  // One shell word: quoted up to the matching quote, else up to a word end.
  void value(string_view kind) {
    if (i_ >= in_.size()) return;
    const char q = in_[i_];
    if (q == '"' || q == '\'') {
      const std::size_t close = in_.find(q, i_ + 1);
      copy(1);
      replace((close == string_view::npos ? in_.size() : close) - i_, kind);
      if (close != string_view::npos) copy(1);
      return;
    }
    std::size_t n = 0;
    while (i_ + n < in_.size() && !ends_value(in_[i_ + n], in_url_)) ++n;
    replace(n, kind);
  }

  // A header value runs to the end of the line or of the quoted string.
  void header_value(string_view kind) {
    copy(run_length(in_, i_, is_blank));
    if (i_ >= in_.size()) return;
    const char q = in_[i_];
    const bool quoted = q == '"' || q == '\'';
    if (quoted) copy(1);
    std::size_t n = 0;
    while (i_ + n < in_.size() && in_[i_ + n] != '\n' && in_[i_ + n] != '\r' &&
           !(quoted ? in_[i_ + n] == q : is_quote(in_[i_ + n])))
      ++n;
    const std::size_t scheme = run_length(in_, i_, is_scheme_char);
    if (scheme < n && is_blank(in_[i_ + scheme]) && is_auth_scheme(lower_copy(in_.substr(i_, scheme)))) {
      const std::size_t keep = scheme + run_length(in_, i_ + scheme, is_blank);
      copy(keep);
      n -= keep;
    }
    replace(n, kind);
    if (quoted && i_ < in_.size() && in_[i_] == q) copy(1);
  }

  // "--password value": the word before these blanks is a secret flag.
  bool spaced_flag() {
    if (!is_blank(in_[i_])) return false;
    std::size_t b = out_.size();
    while (b > 0 && !is_space(out_[b - 1])) --b;
    string_view word = string_view(out_).substr(b);
    while (!word.empty() && is_quote(word[0])) word.remove_prefix(1);
    if (!word.starts_with("--") || word.find('=') != string_view::npos) return false;
    const string_view kind = name_kind(word);
    if (kind.empty()) return false;
    const std::string flag(word);
    copy(run_length(in_, i_, is_blank));
    in_url_ = false;
    if (rest().starts_with("--") || is_secret_reference(flag, rest())) return true;
    value(kind);
    return true;
  }

  string_view in_;
  std::size_t i_ = 0;
  bool in_url_;
  std::size_t no_jwt_before_ = 0;
  std::string out_;
};

}  // namespace

std::string marker(std::string_view kind) {
  std::string m;
  m.reserve(kOpen.size() + kind.size() + 1);
  m.append(kOpen).append(kind).push_back(']');
  return m;
}

// Only known kinds count, so a secret cannot hide from the scanner by
// dressing up as a marker.
std::size_t marker_length(std::string_view s) {
  if (!s.starts_with(kOpen)) return 0;
  const std::size_t close = s.substr(0, kOpen.size() + kLongestKind + 1).find(']', kOpen.size());
  if (close == string_view::npos) return 0;
  return is_kind(s.substr(kOpen.size(), close - kOpen.size())) ? close + 1 : 0;
}

bool is_marker(std::string_view s) { return !s.empty() && marker_length(s) == s.size(); }

std::string text(std::string_view s) { return Scanner(s, false).run(); }

std::string url(std::string_view u) { return Scanner(u, true).run(); }

}  // namespace bt::redact
