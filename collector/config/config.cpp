#include "collector/config/config.h"

#include <curl/curl.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <set>

#include "collector/format/names.h"
#include "collector/store/store.h"
#include "common/events/event.h"
#include "common/fs.h"
#include "common/text.h"

namespace bt::collector::config {

namespace {

// One row per key of an [[output]] table: the types it belongs to (empty:
// every type; else a space-separated list), the member it fills (text,
// number, list or, after the doc, flag), whether it must be given, and its
// documentation. The loader and the reference page are derived from it.
struct Key {
  std::string_view toml;
  std::string_view types;
  std::string Output::*text = nullptr;
  uint64_t Output::*number = nullptr;
  std::vector<std::string> Output::*list = nullptr;
  bool required = false;
  std::string_view doc;
  bool Output::*flag = nullptr;
};

constexpr Key kOutputKeys[] = {
    {"name", "", &Output::name, nullptr, nullptr, true,
     "Unique name (letters, digits, `-`, `_`; at most 64): names the output's cursors (`output.<name>`, "
     "`output.<name>.batch`, `output.<name>.line` in the store) and its metrics."},
    {"type", "", &Output::type, nullptr, nullptr, true,
     "What the output is: `syslog`, `file`, `webhook`, `splunk_hec` or `otlp`."},
    {"forward", "", &Output::forward, nullptr, nullptr, false,
     "What it forwards: `alerts`, `events` (every stored event, in commit order) or `all` (both)."},
    {"kinds", "", nullptr, nullptr, &Output::kinds, false,
     "Event kinds forwarded (`[\"process_exec\", \"net_connect\"]`); empty: every kind (docs/events.md)."},
    {"min_severity", "", &Output::min_severity, nullptr, nullptr, false,
     "Forward alerts of this severity or above: informational, low, medium, high, critical."},
    {"ci", "", &Output::ci, nullptr, nullptr, false,
     "Only records of builds of this CI system (`github`, `gitlab`, `jenkins`, ...); an alert is judged by its "
     "build record. Empty: every one."},
    {"repository", "", &Output::repository, nullptr, nullptr, false,
     "Only records of builds of this repository, as the events name it (`build.repository`). Empty: every one."},
    {"format", "", &Output::format, nullptr, nullptr, false,
     "How each record is written: `json` (docs/events.md), `ocsf` (docs/ocsf.md) or `ecs` (docs/ecs.md)."},
    {"max_backlog", "", nullptr, &Output::max_backlog, nullptr, false,
     "Alerts the output may fall behind; beyond it the oldest are skipped, counted as dropped and reported as a "
     "BT-29 alert."},
    {"max_event_backlog", "", nullptr, &Output::max_event_backlog, nullptr, false,
     "Stored events (before the filter) the output may fall behind; beyond it the oldest batches are skipped, "
     "counted as dropped and reported as a BT-29 alert."},
    {"backoff_base_ms", "", nullptr, &Output::backoff_base_ms, nullptr, false,
     "Smallest retry delay; delays grow as uniform(base, min(cap, base*2^n))."},
    {"backoff_cap_ms", "", nullptr, &Output::backoff_cap_ms, nullptr, false,
     "Largest retry delay (a receiver's Retry-After may ask for more, up to an hour)."},
    {"timeout_ms", "webhook syslog splunk_hec otlp", nullptr, &Output::timeout_ms, nullptr, false,
     "Give up on one request (webhook, splunk_hec, otlp; with `ack`, also on waiting for the ack) or on connecting and "
     "on the receiver taking what was sent (syslog) after "
     "this long, then retry with backoff."},
    {"url", "webhook splunk_hec otlp", &Output::url, nullptr, nullptr, true,
     "Where records are POSTed: an http:// or https:// URL (splunk_hec: the base, `/services/collector/event` is "
     "added; otlp: the base, `/v1/logs` is added unless the URL ends in it)."},
    {"secret_file", "webhook", &Output::secret_file, nullptr, nullptr, true,
     "File whose content (without its final newline) is the HMAC-SHA256 key of the `X-Buildtrail-Signature` "
     "header; read once at start, never logged."},
    {"ca_file", "webhook syslog splunk_hec otlp", &Output::ca_file, nullptr, nullptr, false,
     "PEM CA bundle trusted for an https:// receiver or a TLS syslog server, instead of the system store."},
    {"path", "file", &Output::path, nullptr, nullptr, true,
     "Absolute path of the JSON-lines file; rotated files are `<path>.1` (newest) to `<path>.<max_files>`."},
    {"max_bytes", "file", nullptr, &Output::max_bytes, nullptr, false,
     "Rotate before the file would grow past this size (at least 4096)."},
    {"max_files", "file", nullptr, &Output::max_files, nullptr, false,
     "Rotated files kept beside the current one; the oldest is removed (0: none kept)."},
    {"address", "syslog", &Output::address, nullptr, nullptr, true, "The syslog server, `host:port` or `[v6]:port`."},
    {"transport", "syslog", &Output::transport, nullptr, nullptr, false,
     "`tcp` (RFC 6587 octet counting), `tls` (RFC 5425, the server's certificate verified) or `udp` (RFC 5426, one "
     "message per datagram)."},
    {"server_name", "syslog", &Output::server_name, nullptr, nullptr, false,
     "The name the TLS server's certificate must carry; default: the host of `address`."},
    {"cert_file", "syslog", &Output::cert_file, nullptr, nullptr, false,
     "PEM client certificate presented to a TLS server that asks for one (with `key_file`)."},
    {"key_file", "syslog", &Output::key_file, nullptr, nullptr, false, "PEM private key of `cert_file`."},
    {"facility", "syslog", &Output::facility, nullptr, nullptr, false,
     "Syslog facility of every message: kern, user, daemon, auth, authpriv, local0 ... local7. The severity comes "
     "from the record (docs/collector-config.md \"Syslog\")."},
    {"app_name", "syslog", &Output::app_name, nullptr, nullptr, false,
     "APP-NAME of every message (printable ASCII, at most 48)."},
    {"sd_id", "syslog", &Output::sd_id, nullptr, nullptr, false,
     "SD-ID of the structured data element (`name@<private enterprise number>`; the default uses 32473, the "
     "number RFC 5612 reserves for documentation: set your organisation's)."},
    {"max_message", "syslog", nullptr, &Output::max_message, nullptr, false,
     "Largest UDP message in bytes (480 to 65000); a longer one is cut and counted in "
     "`buildtrail_output_truncated_total`."},
    {"token_file", "splunk_hec", &Output::token_file, nullptr, nullptr, true,
     "File whose content (without its final newline) is the HEC token, sent as `Authorization: Splunk <token>`; "
     "read once at start, never logged."},
    {"sourcetype", "splunk_hec", &Output::sourcetype, nullptr, nullptr, false,
     "Sourcetype of every event; empty: `buildtrail:event` for events, `buildtrail:alert` for alerts."},
    {"index", "splunk_hec", &Output::index, nullptr, nullptr, false,
     "Splunk index of every event; empty: the token's default index."},
    {"host", "splunk_hec", &Output::host, nullptr, nullptr, false,
     "Host of every event; empty: the event's host (an alert: the collector's host name)."},
    {"ack", "splunk_hec", nullptr, nullptr, nullptr, false,
     "Indexer acknowledgement: a request counts as delivered only once `/services/collector/ack` says it was "
     "indexed (within `timeout_ms`, else sent again).",
     &Output::ack},
    {"encoding", "otlp", &Output::encoding, nullptr, nullptr, false,
     "`protobuf` (`application/x-protobuf`) or `json` (`application/json`, the OTLP JSON mapping)."},
    {"headers", "otlp", nullptr, nullptr, &Output::headers, false,
     "Extra request headers, `[\"Name: value\"]` (an API key a gateway wants); never logged."},
    {"max_records", "splunk_hec otlp", nullptr, &Output::max_records, nullptr, false,
     "Records per request (1 to 10000)."},
    {"max_batch_bytes", "splunk_hec otlp", nullptr, &Output::max_batch_bytes, nullptr, false,
     "Bytes of one request body before compression (at least 4096); a chunk that would be larger goes in several "
     "requests, delivered only when all were taken. A single larger record is sent alone."},
    {"gzip", "splunk_hec otlp", nullptr, nullptr, nullptr, false, "Compress request bodies (`Content-Encoding: gzip`).",
     &Output::gzip},
};

// A key of a table without types ([access], [[access.certificate]]): the
// member it fills, whether it must be given, its documentation.
template <class T>
struct TableKey {
  std::string_view toml;
  std::string T::*text = nullptr;
  uint64_t T::*number = nullptr;
  std::vector<std::string> T::*list = nullptr;
  bool T::*flag = nullptr;
  bool required = false;
  std::string_view doc;
};

constexpr TableKey<Access> kAccessKeys[] = {
    {.toml = "session_hours",
     .number = &Access::session_hours,
     .doc = "How long a session of the UI lasts after its login (1 to 720), whatever is done with it; "
            "logging out, `users remove` and `users passwd` end it sooner."},
    {.toml = "max_login_failures",
     .number = &Access::max_login_failures,
     .doc = "Failed logins from one client address (IPv6: its /64) within a minute, after which the login form "
            "answers 429 until the oldest is a minute old."},
    {.toml = "origins",
     .list = &Access::origins,
     .doc = "Origins (`https://buildtrail.example.com`) from which logging in and out is accepted besides the "
            "listener's own (`scheme://Host`): a proxy in front that serves the UI under another name."},
    {.toml = "secure_cookie",
     .flag = &Access::secure_cookie,
     .doc = "Mark the session cookie `Secure` (and name it `__Host-buildtrail_session`) on a plain HTTP listener "
            "too: for a proxy in front that terminates TLS. With `--tls-cert` it is always `Secure`."},
};

constexpr TableKey<Certificate> kCertificateKeys[] = {
    {.toml = "name",
     .text = &Certificate::name,
     .required = true,
     .doc = "What the certificate is called in the log and the UI (1 to 64 of A-Z a-z 0-9 . _ @ -)."},
    {.toml = "sha256",
     .text = &Certificate::sha256,
     .doc = "SHA-256 of the certificate's DER form, 64 hex digits (`openssl x509 -noout -fingerprint -sha256`; "
            "colons allowed). Give this or `subject`."},
    {.toml = "subject",
     .text = &Certificate::subject,
     .doc = "The certificate's subject DN as RFC 4514 writes it, most specific first "
            "(`openssl x509 -noout -subject -nameopt RFC2253`: `CN=alice,OU=security,O=Example`). Give this or "
            "`sha256`."},
    {.toml = "role", .text = &Certificate::role, .doc = "`viewer` (reads) or `admin`."},
};

// RFC 5424 section 6.2.1: facility codes by their usual names.
constexpr std::pair<std::string_view, int> kFacilities[] = {
    {"kern", 0},    {"user", 1},    {"mail", 2},    {"daemon", 3},    {"auth", 4},    {"syslog", 5},  {"lpr", 6},
    {"news", 7},    {"uucp", 8},    {"cron", 9},    {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17},
    {"local2", 18}, {"local3", 19}, {"local4", 20}, {"local5", 21},   {"local6", 22}, {"local7", 23},
};

constexpr std::string_view kTypes[] = {"syslog", "file", "webhook", "splunk_hec", "otlp"};
constexpr std::string_view kEncodings[] = {"protobuf", "json"};
constexpr std::string_view kForwards[] = {"alerts", "events", "all"};
constexpr std::string_view kTransports[] = {"tcp", "tls", "udp"};

template <std::size_t N>
bool one_of(const std::string& value, const std::string_view (&known)[N]) {
  return std::find(std::begin(known), std::end(known), value) != std::end(known);
}

template <std::size_t N>
std::string listed(const std::string_view (&known)[N]) {
  std::string out;
  for (const auto& k : known) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

Error invalid(const std::string& message) { return make_error(ErrorCode::kInvalidArgument, message); }

bool applies(const Key& k, const std::string& type) {
  if (k.types.empty()) return true;
  std::string_view rest = k.types;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    if (rest.substr(0, space) == type) return true;
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
  }
  return false;
}

bool valid_name(const std::string& n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

bool valid_severity(const std::string& s) {
  return std::any_of(std::begin(store::kSeverities), std::end(store::kSeverities),
                     [&](const char* known) { return s == known; });
}

// An absolute http:// or https:// URL with a host, as libcurl parses it.
bool valid_url(const std::string& url) {
  CURLU* u = curl_url();
  if (!u) return false;
  bool ok = false;
  char* scheme = nullptr;
  char* host = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    const std::string s = scheme;
    ok = (s == "http" || s == "https") && host && *host;
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return ok && std::none_of(url.begin(), url.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

// The key in `path`, without the final newline an editor leaves. The
// error names the file, never its content.
Result<std::string> read_secret(const std::string& where, const std::string& path,
                                const std::string& key_name = "secret_file") {
  auto text = fs::read_file(path, 64 << 10);
  if (!text) return invalid(where + key_name + ": " + text.error().message);
  std::string key = std::move(*text);
  if (!key.empty() && key.back() == '\n') key.pop_back();
  if (!key.empty() && key.back() == '\r') key.pop_back();
  if (key.empty()) return invalid(where + key_name + ": '" + text::printable(path) + "' is empty");
  return key;
}

Status check_readable(const std::string& where, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0)
    return invalid(where + "'" + text::printable(path) + "': " + fs::errno_text(errno));
  return Ok{};
}

// What every output takes: forward, kinds, format.
Status check_selection(const std::string& where, const Output& out) {
  if (!one_of(out.forward, kForwards))
    return invalid(where + "forward: " + listed(kForwards) + ", not '" + text::printable(out.forward) + "'");
  for (const auto& kind : out.kinds) {
    events::Kind k;
    if (!events::kind_from_name(kind, &k))
      return invalid(where + "kinds: unknown event kind '" + text::printable(kind) + "'");
  }
  if (!one_of(out.format, format::kNames))
    return invalid(where + "format: " + listed(format::kNames) + ", not '" + text::printable(out.format) + "'");
  if (out.max_event_backlog == 0) return invalid(where + "max_event_backlog: must be positive");
  return Ok{};
}

Status check_file(const std::string& where, const Output& out) {
  if (out.path.empty() || out.path.front() != '/')
    return invalid(where + "path: an absolute path, not '" + text::printable(out.path) + "'");
  if (out.max_bytes < 4096) return invalid(where + "max_bytes: at least 4096");
  const std::string folder = out.path.substr(0, std::max<std::size_t>(1, out.path.rfind('/')));
  if (::access(folder.c_str(), W_OK) != 0)
    return invalid(where + "path: folder '" + text::printable(folder) + "': " + fs::errno_text(errno));
  return Ok{};
}

// host:port or [v6]:port, port 1..65535.
bool valid_address(const std::string& a) {
  const auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) return false;
  const std::string port = a.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return c >= '0' && c <= '9'; }))
    return false;
  const long p = std::stol(port);
  const std::string host = a.substr(0, colon);
  if (host.front() == '[' && (host.size() < 3 || host.back() != ']')) return false;
  return p > 0 && p < 65536 &&
         std::none_of(host.begin(), host.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '/'; });
}

// RFC 5424 PRINTUSASCII, 1..max: no spaces, nothing a header could be split on.
bool printusascii(const std::string& s, std::size_t max, std::string_view also_not = "") {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [&](unsigned char c) {
    return c >= 33 && c <= 126 && also_not.find(static_cast<char>(c)) == std::string_view::npos;
  });
}

Status check_syslog(const std::string& where, Output& out) {
  if (!valid_address(out.address))
    return invalid(where + "address: host:port or [v6]:port, not '" + text::printable(out.address) + "'");
  if (!one_of(out.transport, kTransports))
    return invalid(where + "transport: " + listed(kTransports) + ", not '" + text::printable(out.transport) + "'");
  const auto* f = std::find_if(std::begin(kFacilities), std::end(kFacilities),
                               [&](const auto& row) { return row.first == out.facility; });
  if (f == std::end(kFacilities))
    return invalid(where + "facility: kern, user, daemon, auth, authpriv, local0 ... local7, not '" +
                   text::printable(out.facility) + "'");
  out.facility_code = f->second;
  if (!printusascii(out.app_name, 48)) return invalid(where + "app_name: printable ASCII without spaces, 1 to 48");
  // SD-NAME: PRINTUSASCII but '=', ' ', ']', '"'; at most 32.
  if (!printusascii(out.sd_id, 32, "=]\"") || out.sd_id.find('@') == std::string::npos)
    return invalid(where + "sd_id: name@number, printable ASCII without = ] \" or spaces, at most 32");
  if (out.timeout_ms == 0) return invalid(where + "timeout_ms: must be positive");
  if (out.max_message < 480 || out.max_message > 65000) return invalid(where + "max_message: 480 to 65000");
  if (out.transport != "tls" &&
      !(out.ca_file.empty() && out.cert_file.empty() && out.key_file.empty() && out.server_name.empty()))
    return invalid(where + "ca_file, cert_file, key_file and server_name are for transport = \"tls\"");
  if (out.cert_file.empty() != out.key_file.empty()) return invalid(where + "cert_file and key_file go together");
  for (const auto& [key, file] : {std::pair<const char*, const std::string*>{"ca_file", &out.ca_file},
                                  {"cert_file", &out.cert_file},
                                  {"key_file", &out.key_file}})
    if (!file->empty())
      if (Status s = check_readable(where + key + ": ", *file); !s) return s.error();
  return Ok{};
}

// Printable ASCII only (a Splunk sourcetype, index or host; a header).
bool plain_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
}

// splunk_hec and otlp: the URL, limits, and each type's own keys.
Status check_http_sink(const std::string& where, Output& out) {
  if (!valid_url(out.url))
    return invalid(where + "url: not an http:// or https:// URL: '" + text::printable(out.url) + "'");
  if (out.timeout_ms == 0) return invalid(where + "timeout_ms: must be positive");
  if (out.max_records == 0 || out.max_records > 10000) return invalid(where + "max_records: 1 to 10000");
  if (out.max_batch_bytes < 4096) return invalid(where + "max_batch_bytes: at least 4096");
  if (!out.ca_file.empty())
    if (Status s = check_readable(where + "ca_file: ", out.ca_file); !s) return s.error();
  if (out.type == "splunk_hec") {
    for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"sourcetype", &out.sourcetype},
                                     {"index", &out.index},
                                     {"host", &out.host}})
      if (!plain_ascii(*value) || value->size() > 256)
        return invalid(where + key + ": printable ASCII, at most 256 characters");
    auto token = read_secret(where, out.token_file, "token_file");
    if (!token) return token.error();
    if (!plain_ascii(*token)) return invalid(where + "token_file: the token is not printable ASCII");
    out.token = std::move(*token);
  } else {
    if (!one_of(out.encoding, kEncodings))
      return invalid(where + "encoding: " + listed(kEncodings) + ", not '" + text::printable(out.encoding) + "'");
    for (const auto& h : out.headers) {
      const auto colon = h.find(':');
      const bool name_ok =
          colon != std::string::npos && colon > 0 &&
          std::all_of(h.begin(), h.begin() + static_cast<long>(colon), [](unsigned char c) {
            return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
          });
      // The value is never shown: it may be a key.
      if (!name_ok || !plain_ascii(h)) return invalid(where + "headers: each one \"Name: value\", printable ASCII");
    }
  }
  return Ok{};
}

// The value of `node` into the member of `out` that the key row `k` (a Key
// or a TableKey) names, checked for its type; `what` names the key.
template <class Row, class T>
Status set_value(const Row& k, const toml::node& node, const std::string& what, T* out) {
  if (k.flag) {
    const auto* b = node.as_boolean();
    if (!b) return invalid(what + ": expected true or false");
    out->*(k.flag) = b->get();
  } else if (k.text) {
    const auto* v = node.as_string();
    if (!v) return invalid(what + ": expected a string");
    out->*(k.text) = v->get();
  } else if (k.list) {
    const auto* a = node.as_array();
    if (!a) return invalid(what + ": expected an array of strings");
    for (const auto& item : *a) {
      const auto* v = item.as_string();
      if (!v) return invalid(what + ": expected an array of strings");
      (out->*(k.list)).push_back(v->get());
    }
  } else {
    const auto* n = node.as_integer();
    if (!n || n->get() < 0) return invalid(what + ": expected a non-negative integer");
    out->*(k.number) = static_cast<uint64_t>(n->get());
  }
  return Ok{};
}

// Every key of one [[output]] table, checked against the table of keys.
Result<Output> parse_output(const toml::table& t, const std::string& origin, std::size_t index) {
  Output out;
  std::string where = origin + ": output " + std::to_string(index + 1) + ": ";
  if (const auto* n = t.get("name"); n && n->is_string())
    where = origin + ": output '" + text::printable(n->as_string()->get()) + "': ";
  std::string type;
  if (const auto* n = t.get("type"); n && n->is_string()) type = n->as_string()->get();
  if (!type.empty() && std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes))
    return invalid(where + "type: unknown output type '" + text::printable(type) + "' (known: " + listed(kTypes) + ")");
  for (const auto& [name, node] : t) {
    const std::string key(name.str());
    const auto* k =
        std::find_if(std::begin(kOutputKeys), std::end(kOutputKeys), [&](const Key& row) { return row.toml == key; });
    if (k == std::end(kOutputKeys) || !applies(*k, type))
      return invalid(where + "unknown key '" + text::printable(key) + "'" +
                     (k == std::end(kOutputKeys) ? "" : " for type '" + type + "'"));
    if (Status s = set_value(*k, node, where + key, &out); !s) return s.error();
  }
  for (const auto& k : kOutputKeys)
    if (k.required && applies(k, type) && !t.contains(k.toml))
      return invalid(where + "missing key '" + std::string(k.toml) + "'");
  if (!valid_name(out.name)) return invalid(where + "name: letters, digits, '-' and '_' only, at most 64 of them");
  if (!valid_severity(out.min_severity))
    return invalid(where + "min_severity: informational, low, medium, high or critical, not '" +
                   text::printable(out.min_severity) + "'");
  if (out.max_backlog == 0) return invalid(where + "max_backlog: must be positive");
  if (out.backoff_base_ms == 0 || out.backoff_cap_ms < out.backoff_base_ms)
    return invalid(where + "backoff_base_ms: must be positive and at most backoff_cap_ms");
  if (Status s = check_selection(where, out); !s) return s.error();
  if (out.type == "webhook") {
    if (!valid_url(out.url))
      return invalid(where + "url: not an http:// or https:// URL: '" + text::printable(out.url) + "'");
    if (out.timeout_ms == 0) return invalid(where + "timeout_ms: must be positive");
    if (!out.ca_file.empty())
      if (Status s = check_readable(where + "ca_file: ", out.ca_file); !s) return s.error();
    auto secret = read_secret(where, out.secret_file);
    if (!secret) return secret.error();
    out.secret = std::move(*secret);
  }
  if (out.type == "splunk_hec" || out.type == "otlp")
    if (Status s = check_http_sink(where, out); !s) return s.error();
  if (out.type == "file")
    if (Status s = check_file(where, out); !s) return s.error();
  if (out.type == "syslog")
    if (Status s = check_syslog(where, out); !s) return s.error();
  return out;
}

// Every key of `t` into `out` by the table `keys` (`skip`: a key read by
// the caller).
template <class T, std::size_t N>
Status fill(const toml::table& t, const TableKey<T> (&keys)[N], const std::string& where, T* out,
            std::string_view skip = "") {
  for (const auto& [name, node] : t) {
    const std::string key(name.str());
    if (key == skip) continue;
    const auto* k =
        std::find_if(std::begin(keys), std::end(keys), [&](const TableKey<T>& row) { return row.toml == key; });
    if (k == std::end(keys)) return invalid(where + "unknown key '" + text::printable(key) + "'");
    if (Status s = set_value(*k, node, where + key, out); !s) return s.error();
  }
  for (const auto& k : keys)
    if (k.required && !t.contains(k.toml)) return invalid(where + "missing key '" + std::string(k.toml) + "'");
  return Ok{};
}

// 64 hex digits, colons between pairs allowed; lowercased without them.
std::optional<std::string> fingerprint(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out.size() != 64) return std::nullopt;
  return out;
}

Result<Certificate> parse_certificate(const toml::table& t, const std::string& origin, std::size_t index) {
  Certificate c;
  std::string where = origin + ": access.certificate " + std::to_string(index + 1) + ": ";
  if (Status s = fill(t, kCertificateKeys, where, &c); !s) return s.error();
  where = origin + ": access.certificate '" + text::printable(c.name) + "': ";
  const bool name_ok =
      !c.name.empty() && c.name.size() <= 64 && std::all_of(c.name.begin(), c.name.end(), [](unsigned char ch) {
        return std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '@';
      });
  if (!name_ok) return invalid(where + "name: 1 to 64 of A-Z a-z 0-9 . _ @ -");
  if (c.sha256.empty() == c.subject.empty()) return invalid(where + "give one of sha256 and subject");
  if (!c.sha256.empty()) {
    auto hex = fingerprint(c.sha256);
    if (!hex) return invalid(where + "sha256: 64 hex digits (colons allowed)");
    c.sha256 = *hex;
  }
  if (!c.subject.empty() && (c.subject.find('=') == std::string::npos || !plain_ascii(c.subject)))
    return invalid(where + "subject: an RFC 4514 DN such as CN=alice,O=Example");
  if (c.role != "viewer" && c.role != "admin")
    return invalid(where + "role: viewer or admin, not '" + text::printable(c.role) + "'");
  return c;
}

Result<Access> parse_access(const toml::node& node, const std::string& origin) {
  const auto* t = node.as_table();
  if (!t) return invalid(origin + ": access: expected a table ([access])");
  Access a;
  const std::string where = origin + ": access: ";
  if (Status s = fill(*t, kAccessKeys, where, &a, "certificate"); !s) return s.error();
  if (a.session_hours == 0 || a.session_hours > 720) return invalid(where + "session_hours: 1 to 720");
  if (a.max_login_failures == 0) return invalid(where + "max_login_failures: must be positive");
  for (const auto& o : a.origins)
    if (!valid_url(o) || std::count(o.begin(), o.end(), '/') != 2)
      return invalid(where + "origins: each one scheme://host[:port], no path, not '" + text::printable(o) + "'");
  if (const auto* certs = t->get("certificate")) {
    const auto* list = certs->as_array();
    if (!list || !list->is_array_of_tables())
      return invalid(where + "certificate: expected an array of tables ([[access.certificate]])");
    std::set<std::string> names;
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto c = parse_certificate(*list->get(i)->as_table(), origin, i);
      if (!c) return c.error();
      if (!names.insert(c->name).second)
        return invalid(origin + ": access.certificate '" + c->name + "': name: used by another certificate");
      a.certificates.push_back(std::move(*c));
    }
  }
  return a;
}

}  // namespace

std::string default_config_file() { return "/etc/buildtrail/collector.toml"; }

Result<Config> parse_toml(const std::string& text, const std::string& origin) {
  toml::table table;
  try {
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return invalid(origin + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  Config config;
  std::set<std::string> names;
  for (const auto& [name, node] : table) {
    const std::string key(name.str());
    if (key == "access") {
      auto access = parse_access(node, origin);
      if (!access) return access.error();
      config.access = std::move(*access);
      continue;
    }
    if (key != "output") return invalid(origin + ": unknown key '" + text::printable(key) + "'");
    const auto* outputs = node.as_array();
    if (!outputs || !outputs->is_array_of_tables())
      return invalid(origin + ": output: expected an array of tables ([[output]])");
    for (std::size_t i = 0; i < outputs->size(); ++i) {
      auto out = parse_output(*outputs->get(i)->as_table(), origin, i);
      if (!out) return out.error();
      if (!names.insert(out->name).second)
        return invalid(origin + ": output '" + out->name + "': name: used by another output");
      config.outputs.push_back(std::move(*out));
    }
  }
  return config;
}

Result<Config> load(const std::string& file) {
  std::string path = file;
  if (path.empty()) {
    if (::access(default_config_file().c_str(), R_OK) != 0) return Config{};
    path = default_config_file();
  }
  auto text = fs::read_file(path, 1 << 20);
  if (!text) return text.error();
  return parse_toml(*text, path);
}

namespace {

std::string type_of(const Key& k) {
  return k.flag ? "boolean" : k.text ? "string" : k.list ? "array of strings" : "integer";
}

std::string default_of(const Key& k) {
  const Output defaults;
  if (k.required) return "required";
  if (k.list) return "`[]`";
  if (k.flag) return defaults.*(k.flag) ? "`true`" : "`false`";
  if (k.number) return "`" + std::to_string(defaults.*(k.number)) + "`";
  const std::string& v = defaults.*(k.text);
  return v.empty() ? "" : "`\"" + v + "\"`";
}

std::string keys_table() {
  std::string md = "| key | of | type | default | meaning |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& k : kOutputKeys) {
    std::string of = k.types.empty() ? "every output" : std::string(k.types);
    std::replace(of.begin(), of.end(), ' ', ',');
    md += "| `" + std::string(k.toml) + "` | " + of + " | " + type_of(k) + " | " + default_of(k) + " | " +
          std::string(k.doc) + " |\n";
  }
  return md;
}

// Five outputs: the whole trail to a TLS syslog server, a file for a
// shipper, the on-call webhook for high alerts, Splunk with indexer
// acknowledgement, and an OpenTelemetry collector. Each key is checked
// against the table, so the example cannot name a key that does not exist.
std::string example_toml() {
  const std::vector<std::vector<std::pair<std::string_view, std::string>>> outputs = {
      {{"name", "\"siem\""},
       {"type", "\"syslog\""},
       {"forward", "\"all\""},
       {"format", "\"ocsf\""},
       {"address", "\"siem.example.com:6514\""},
       {"transport", "\"tls\""},
       {"ca_file", "\"/etc/buildtrail/siem-ca.pem\""}},
      {{"name", "\"shipper\""},
       {"type", "\"file\""},
       {"forward", "\"events\""},
       {"kinds", "[\"process_exec\", \"net_connect\", \"secret_access\"]"},
       {"format", "\"ecs\""},
       {"path", "\"/var/log/buildtrail/events.jsonl\""}},
      {{"name", "\"oncall\""},
       {"type", "\"webhook\""},
       {"min_severity", "\"high\""},
       {"url", "\"https://hooks.example.com/buildtrail\""},
       {"secret_file", "\"/etc/buildtrail/webhook.secret\""}},
      {{"name", "\"splunk\""},
       {"type", "\"splunk_hec\""},
       {"forward", "\"all\""},
       {"url", "\"https://splunk.example.com:8088\""},
       {"token_file", "\"/etc/buildtrail/hec.token\""},
       {"index", "\"ci\""},
       {"ack", "true"},
       {"gzip", "true"}},
      {{"name", "\"otel\""},
       {"type", "\"otlp\""},
       {"forward", "\"alerts\""},
       {"url", "\"https://otel-gateway.example.com:4318\""},
       {"encoding", "\"protobuf\""},
       {"headers", "[\"X-Scope-OrgID: ci\"]"}},
  };
  std::string md = "```toml\n# /etc/buildtrail/collector.toml\n";
  for (const auto& out : outputs) {
    md += "\n[[output]]\n";
    for (const auto& row : out) {
      // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
      const bool known = std::any_of(std::begin(kOutputKeys), std::end(kOutputKeys),
                                     [&](const Key& k) { return k.toml == row.first; });
      md += (known ? "" : "# UNKNOWN KEY ") + std::string(row.first) + " = " + row.second + "\n";
    }
  }
  return md + "```\n";
}

template <class T, std::size_t N>
std::string table_keys(const TableKey<T> (&keys)[N]) {
  const T defaults;
  std::string md = "| key | type | default | meaning |\n| --- | --- | --- | --- |\n";
  for (const auto& k : keys) {
    const std::string type = k.flag ? "boolean" : k.text ? "string" : k.list ? "array of strings" : "integer";
    std::string value;
    if (k.required)
      value = "required";
    else if (k.list)
      value = "`[]`";
    else if (k.flag)
      value = defaults.*(k.flag) ? "`true`" : "`false`";
    else if (k.number)
      value = "`" + std::to_string(defaults.*(k.number)) + "`";
    else if (!(defaults.*(k.text)).empty())
      value = "`\"" + defaults.*(k.text) + "\"`";
    md += "| `" + std::string(k.toml) + "` | " + type + " | " + value + " | " + std::string(k.doc) + " |\n";
  }
  return md;
}

}  // namespace

std::vector<markdown::Part> reference_parts() {
  return {{"output-keys", keys_table()},
          {"example", example_toml()},
          {"access-keys", table_keys(kAccessKeys)},
          {"certificate-keys", table_keys(kCertificateKeys)}};
}

}  // namespace bt::collector::config
