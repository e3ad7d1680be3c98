#include "collector/config/config.h"

#include <curl/curl.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <set>

#include "collector/store/store.h"
#include "common/fs.h"
#include "common/text.h"

namespace bt::collector::config {

namespace {

// One row per key of an [[output]] table: the types it belongs to (empty:
// every type), the member it fills, whether it must be given, and its
// documentation. The loader and the reference page are derived from it.
struct Key {
  std::string_view toml;
  std::string_view types;
  std::string Output::*text = nullptr;
  uint64_t Output::*number = nullptr;
  bool required = false;
  std::string_view doc;
};

constexpr Key kOutputKeys[] = {
    {"name", "", &Output::name, nullptr, true,
     "Unique name (letters, digits, `-`, `_`; at most 64): names the output's cursor (`output.<name>` in the store) "
     "and its metrics."},
    {"type", "", &Output::type, nullptr, true, "What the output is: `webhook`."},
    {"min_severity", "", &Output::min_severity, nullptr, false,
     "Forward alerts of this severity or above: informational, low, medium, high, critical."},
    {"max_backlog", "", nullptr, &Output::max_backlog, false,
     "Alerts the output may fall behind; beyond it the oldest are skipped, counted as dropped and reported as a "
     "BT-29 alert."},
    {"backoff_base_ms", "", nullptr, &Output::backoff_base_ms, false,
     "Smallest retry delay; delays grow as uniform(base, min(cap, base*2^n))."},
    {"backoff_cap_ms", "", nullptr, &Output::backoff_cap_ms, false,
     "Largest retry delay (a receiver's Retry-After may ask for more, up to an hour)."},
    {"url", "webhook", &Output::url, nullptr, true, "Where alerts are POSTed: an http:// or https:// URL."},
    {"secret_file", "webhook", &Output::secret_file, nullptr, true,
     "File whose content (without its final newline) is the HMAC-SHA256 key of the `X-Buildtrail-Signature` "
     "header; read once at start, never logged."},
    {"ca_file", "webhook", &Output::ca_file, nullptr, false,
     "PEM CA bundle trusted for an https:// receiver instead of the system store."},
    {"timeout_ms", "webhook", nullptr, &Output::timeout_ms, false,
     "Give up on one request after this long (then retry with backoff)."},
};

constexpr std::string_view kTypes[] = {"webhook"};

Error invalid(const std::string& message) { return make_error(ErrorCode::kInvalidArgument, message); }

bool applies(const Key& k, const std::string& type) { return k.types.empty() || k.types == type; }

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
Result<std::string> read_secret(const std::string& where, const std::string& path) {
  auto text = fs::read_file(path, 64 << 10);
  if (!text) return invalid(where + "secret_file: " + text.error().message);
  std::string key = std::move(*text);
  if (!key.empty() && key.back() == '\n') key.pop_back();
  if (!key.empty() && key.back() == '\r') key.pop_back();
  if (key.empty()) return invalid(where + "secret_file: '" + text::printable(path) + "' is empty");
  return key;
}

Status check_readable(const std::string& where, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0)
    return invalid(where + "ca_file: '" + text::printable(path) + "': " + fs::errno_text(errno));
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
    return invalid(where + "type: unknown output type '" + text::printable(type) + "' (known: webhook)");
  for (const auto& [name, node] : t) {
    const std::string key(name.str());
    const auto* k =
        std::find_if(std::begin(kOutputKeys), std::end(kOutputKeys), [&](const Key& row) { return row.toml == key; });
    if (k == std::end(kOutputKeys) || !applies(*k, type))
      return invalid(where + "unknown key '" + text::printable(key) + "'" +
                     (k == std::end(kOutputKeys) ? "" : " for type '" + type + "'"));
    if (k->text) {
      const auto* s = node.as_string();
      if (!s) return invalid(where + key + ": expected a string");
      out.*(k->text) = s->get();
    } else {
      const auto* n = node.as_integer();
      if (!n || n->get() < 0) return invalid(where + key + ": expected a non-negative integer");
      out.*(k->number) = static_cast<uint64_t>(n->get());
    }
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
  if (out.type == "webhook") {
    if (!valid_url(out.url))
      return invalid(where + "url: not an http:// or https:// URL: '" + text::printable(out.url) + "'");
    if (out.timeout_ms == 0) return invalid(where + "timeout_ms: must be positive");
    if (!out.ca_file.empty())
      if (Status s = check_readable(where, out.ca_file); !s) return s.error();
    auto secret = read_secret(where, out.secret_file);
    if (!secret) return secret.error();
    out.secret = std::move(*secret);
  }
  return out;
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

std::string keys_table() {
  std::string md = "| key | of | type | default | meaning |\n| --- | --- | --- | --- | --- |\n";
  const Output defaults;
  for (const auto& k : kOutputKeys) {
    std::string def = k.required ? "required" : "";
    if (!k.required)
      def = k.text ? (defaults.*(k.text)).empty() ? "" : "`\"" + defaults.*(k.text) + "\"`"
                   : "`" + std::to_string(defaults.*(k.number)) + "`";
    md += "| `" + std::string(k.toml) + "` | " + (k.types.empty() ? "every output" : std::string(k.types)) + " | " +
          (k.text ? "string" : "integer") + " | " + def + " | " + std::string(k.doc) + " |\n";
  }
  return md;
}

// One webhook with every key at its default.
std::string example_toml() {
  std::string md = "```toml\n# /etc/buildtrail/collector.toml\n[[output]]\n";
  const Output defaults;
  for (const auto& k : kOutputKeys) {
    if (!k.types.empty() && k.types != "webhook") continue;
    std::string v;
    if (k.text) {
      v = defaults.*(k.text);
      if (k.toml == "name") v = "oncall";
      if (k.toml == "type") v = "webhook";
      if (k.toml == "min_severity") v = "high";
      if (k.toml == "url") v = "https://hooks.example.com/buildtrail";
      if (k.toml == "secret_file") v = "/etc/buildtrail/webhook.secret";
      v = "\"" + v + "\"";
    } else {
      v = std::to_string(defaults.*(k.number));
    }
    md += std::string(k.toml) + " = " + v + "\n";
  }
  return md + "```\n";
}

}  // namespace

std::vector<markdown::Part> reference_parts() { return {{"output-keys", keys_table()}, {"example", example_toml()}}; }

}  // namespace bt::collector::config
